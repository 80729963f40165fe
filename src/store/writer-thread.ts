/**
 * The store's side of the writer thread (writer-thread-worker.ts). The store stays synchronous:
 * it posts batches and reads the replies with receiveMessageOnPort, and when it must wait (a
 * flush, a full pipeline) it blocks on Atomics.wait until the thread signals a reply. So a commit
 * overlaps the preparation of the next batch, and nothing about the store's API becomes async.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { FrontierState } from '../integrity/merkle.js';
import { workerScript } from '../worker-script.js';
import type { CheckpointRow } from '../verify/reader.js';
import type { RecordBatch } from './record-batch.js';
import type { CheckpointRequest } from './record-committer.js';

export interface WriterThreadData {
  port: MessagePort;
  /** One Int32 the thread increments (and notifies) after every reply. */
  signal: SharedArrayBuffer;
  dbPath: string;
  origin: string;
  maxPageCount: number;
}

export type WriterRequest =
  /** Take over the tree as the store's thread has it; commits follow. */
  | { t: 'adopt'; frontier: FrontierState }
  | { t: 'limit'; maxPageCount: number }
  | { t: 'commit'; id: number; generation: number; batches: RecordBatch[]; checkpoint: CheckpointRequest | undefined }
  /** Close the connection and give the tree back. */
  | { t: 'close' };

export interface WriterError {
  code: string;
  message: string;
  where: string | undefined;
}

export type WriterReply =
  | { t: 'ready' }
  | { t: 'done'; id: number; size: number; checkpoint: CheckpointRow | undefined }
  /** id -1: not about a commit (the thread could not open the database, or a request it did not understand). */
  | { t: 'failed'; id: number; error: WriterError }
  /** Not attempted: an earlier request of its generation failed. */
  | { t: 'refused'; id: number }
  | { t: 'closed'; frontier: FrontierState | undefined };

export class WriterThread {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly signal: Int32Array;
  private exited = false;
  /** The signal's value when the port was last found empty. */
  private drainedAt = 0;

  /** Starts the thread; undefined where its script is not there (sources without a build). */
  static start(options: Omit<WriterThreadData, 'port' | 'signal'>): WriterThread | undefined {
    const script = workerScript('./writer-thread-worker.js', import.meta.url);
    if (script === undefined) return undefined;
    return new WriterThread(script, options);
  }

  private constructor(script: URL, options: Omit<WriterThreadData, 'port' | 'signal'>) {
    const { port1, port2 } = new MessageChannel();
    const signal = new SharedArrayBuffer(4);
    this.port = port1;
    this.signal = new Int32Array(signal);
    const data: WriterThreadData = { ...options, port: port2, signal };
    this.worker = new Worker(script, { workerData: data, transferList: [port2] });
    // Neither keeps the process alive: the store's owner decides when it ends (close() first).
    this.worker.unref();
    this.port.unref();
    const gone = (): void => {
      this.exited = true;
    };
    this.worker.on('error', gone);
    this.worker.on('exit', gone);
  }

  /** True once the thread is known to have ended (learnt from its events, so only between turns of the event loop). */
  get hasExited(): boolean {
    return this.exited;
  }

  post(request: WriterRequest): void {
    this.port.postMessage(request);
  }

  /**
   * The next reply that has arrived, without waiting. Cheap when there is none (the store asks
   * on every append): the port is only read when the thread has signalled since it was emptied.
   * The thread posts before it signals, so a reply counted in `signal` is already in the port.
   */
  take(): WriterReply | undefined {
    const signalled = Atomics.load(this.signal, 0);
    if (signalled === this.drainedAt) return undefined;
    const reply = receiveMessageOnPort(this.port)?.message as WriterReply | undefined;
    if (reply === undefined) this.drainedAt = signalled;
    return reply;
  }

  /** The next reply, waiting up to `timeoutMs` for it; undefined when none came (or the thread is gone). */
  waitForReply(timeoutMs: number): WriterReply | undefined {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.load(this.signal, 0);
      const reply = this.take();
      if (reply !== undefined) return reply;
      if (this.exited) return undefined;
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      // In slices, so a thread that died without a word is noticed by the deadline at worst.
      Atomics.wait(this.signal, 0, seen, Math.min(left, 100));
    }
  }

  terminate(): void {
    this.exited = true;
    void this.worker.terminate().catch(() => undefined);
  }
}
