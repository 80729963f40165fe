/**
 * Feeds record batches through the per-record checks (record-check.ts) and hands the results back
 * strictly in order. Small stores are checked in the calling thread; once a store proves large,
 * worker threads take the per-record work while this thread keeps reading and does the
 * order-dependent work in `consume`. Memory stays flat: a bounded number of batches is in flight.
 *
 * Pure in the verifier's sense: it touches no file and no database (it only pulls from the
 * reader's iterator). If the workers cannot start, or one dies, its batches are checked here
 * instead: the results are the same either way, only slower.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { workerScript } from '../worker-script.js';
import { checkRecords, DEEP, packRows, type CheckedBatch, type PackedRows, type RecordCheckMode } from './record-check.js';
import type { CheckRequest, CheckResponse } from './record-check-worker.js';
import type { RecordRow } from './reader.js';

export interface PipelineOptions {
  host: string;
  /** What each record is checked for (record-check.ts); default: everything (DEEP). */
  mode?: RecordCheckMode;
  /** Worker threads; 0 checks everything in this thread. Default: one fewer than the CPUs, at least 1, at most 4. */
  workers?: number;
  /** Records per batch. */
  batchSize?: number;
  /** The Merkle leaf index of the first row (a windowed snapshot's start seq; default 0). */
  firstPosition?: number;
  /**
   * Records checked in this thread before workers are started (small stores never start them).
   * 0 starts them first and waits until they are ready, so every batch goes to a worker.
   */
  parallelAfter?: number;
  /** Told at the end how many records were checked where (for tests and benchmarks). */
  onStats?: (stats: PipelineStats) => void;
  /** Check batches in this thread too while the workers are behind (default true; false sends every batch to them). */
  shareWork?: boolean;
}

export interface PipelineStats {
  checkedInThread: number;
  checkedInWorkers: number;
  workersStarted: number;
}

export const DEFAULT_BATCH = 1024;
const DEFAULT_PARALLEL_AFTER = 8192;
/** Batches in flight per worker: enough to keep it busy while this thread reads, and no more. */
const IN_FLIGHT_PER_WORKER = 3;

export function defaultWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/** Splits a row stream into arrays; a read error comes after the rows read before it. */
export function* batchesOf(rows: Iterable<RecordRow>, size: number): Generator<RecordRow[]> {
  let batch: RecordRow[] = [];
  try {
    for (const row of rows) {
      batch.push(row);
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
  } catch (err) {
    if (batch.length > 0) yield batch;
    throw err;
  }
  if (batch.length > 0) yield batch;
}

interface Pending {
  resolve: (result: CheckedBatch | undefined) => void;
  worker: PoolWorker;
}

interface PoolWorker {
  worker: Worker;
  ready: boolean;
  alive: boolean;
  outstanding: number;
}

class CheckPool {
  private readonly workers: PoolWorker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private notify: (() => void) | undefined;

  /** Resolves once a worker is ready, or none can be. */
  settled(): Promise<void> {
    if (this.readyWorkers > 0 || this.failed) return Promise.resolve();
    return new Promise((resolve) => {
      this.notify = resolve;
    });
  }

  private wake(): void {
    const notify = this.notify;
    this.notify = undefined;
    notify?.();
  }

  constructor(count: number) {
    const script = workerScript('./record-check-worker.js', import.meta.url);
    for (let i = 0; script !== undefined && i < count; i++) {
      let worker: Worker;
      try {
        worker = new Worker(script);
      } catch {
        continue;
      }
      const entry: PoolWorker = { worker, ready: false, alive: true, outstanding: 0 };
      this.workers.push(entry);
      worker.on('message', (message: CheckResponse | { ready: true }) => {
        if ('ready' in message) {
          entry.ready = true;
          this.wake();
          return;
        }
        const waiting = this.pending.get(message.id);
        if (!waiting) return;
        this.pending.delete(message.id);
        entry.outstanding--;
        waiting.resolve('result' in message ? message.result : undefined);
      });
      const die = (): void => {
        if (!entry.alive) return;
        entry.alive = false;
        for (const [id, waiting] of this.pending) {
          if (waiting.worker !== entry) continue;
          this.pending.delete(id);
          waiting.resolve(undefined);
        }
        if (this.failed) this.wake();
      };
      worker.on('error', die);
      worker.on('exit', die);
    }
  }

  /** Ready workers, or 0 while they start (and for good when none could). */
  get readyWorkers(): number {
    return this.workers.filter((w) => w.alive && w.ready).length;
  }

  get started(): number {
    return this.workers.length;
  }

  get failed(): boolean {
    return this.workers.every((w) => !w.alive);
  }

  /** Checks a packed batch on the least busy worker; undefined when no worker could. */
  check(rows: PackedRows, host: string, mode: RecordCheckMode, start: number): Promise<CheckedBatch | undefined> {
    let best: PoolWorker | undefined;
    for (const w of this.workers) if (w.alive && w.ready && (best === undefined || w.outstanding < best.outstanding)) best = w;
    if (!best) return Promise.resolve(undefined);
    const target = best;
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, worker: target });
      target.outstanding++;
      const request: CheckRequest = { id, host, mode, start, rows };
      try {
        // The packed arrays are this batch's own copy: hand them over instead of copying them again.
        target.worker.postMessage(request, [rows.seqs.buffer, rows.columnEnds.buffer, rows.leafHashes.buffer, rows.offsets.buffer, rows.data.buffer] as ArrayBuffer[]);
      } catch {
        this.pending.delete(id);
        target.outstanding--;
        resolve(undefined);
      }
    });
  }

  async close(): Promise<void> {
    for (const [, waiting] of this.pending) waiting.resolve(undefined);
    this.pending.clear();
    await Promise.all(this.workers.map((w) => w.worker.terminate().catch(() => undefined)));
  }
}

interface InFlight {
  rows: RecordRow[];
  start: number;
  /** A worker's answer (undefined: none could take it, or it was checked here). */
  result: Promise<CheckedBatch | undefined> | undefined;
  /** The result is known: checked here (`value`), or the worker's answer has arrived. */
  settled: boolean;
  value?: CheckedBatch;
}

function pending(batch: { rows: RecordRow[]; start: number }, result: Promise<CheckedBatch | undefined> | undefined): InFlight {
  const entry: InFlight = { ...batch, result, settled: result === undefined };
  void result?.then(() => {
    entry.settled = true;
  });
  return entry;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Pulls every batch from `batches`, checks it, and calls `consume` with the rows and the results in
 * order. A read error is thrown after every batch read before it was consumed; an error thrown by
 * `consume` stops everything at once and is thrown as is.
 */
export async function runRecordPipeline(
  batches: Iterable<RecordRow[]>,
  options: PipelineOptions,
  consume: (rows: RecordRow[], checked: CheckedBatch) => void,
): Promise<void> {
  const host = options.host;
  const mode = options.mode ?? DEEP;
  const workers = options.workers ?? defaultWorkers();
  const parallelAfter = options.parallelAfter ?? DEFAULT_PARALLEL_AFTER;
  const shareWork = options.shareWork ?? true;
  const iterator = batches[Symbol.iterator]();
  let done = false;
  let readError: { error: unknown } | undefined;
  // Position in the stream of the next batch read (the Merkle leaf index of its first row).
  let position = options.firstPosition ?? 0;
  const read = (): { rows: RecordRow[]; start: number } | undefined => {
    if (done) return undefined;
    try {
      const next = iterator.next();
      if (next.done) {
        done = true;
        return undefined;
      }
      const start = position;
      position += next.value.length;
      return { rows: next.value, start };
    } catch (error) {
      done = true;
      readError = { error };
      return undefined;
    }
  };

  let pool: CheckPool | undefined;
  let checkedHere = 0;
  let checkedThere = 0;
  const inFlight: InFlight[] = [];
  try {
    if (workers > 0 && parallelAfter === 0) {
      pool = new CheckPool(workers);
      await pool.settled();
    }
    for (;;) {
      const ready = pool ? pool.readyWorkers : 0;
      if (ready > 0) {
        const capacity = ready * IN_FLIGHT_PER_WORKER;
        while (inFlight.length < capacity) {
          const batch = read();
          if (!batch) break;
          const packed = packRows(batch.rows);
          inFlight.push(pending(batch, packed ? (pool as CheckPool).check(packed, host, mode, batch.start) : undefined));
        }
        const head = inFlight[0];
        if (!head) break;
        // The workers are behind (the oldest batch is not back and every slot is taken): check the
        // next batch here instead of waiting, and hand its result on in its turn. Bounded: at most
        // as many batches again as the workers hold.
        if (shareWork && !head.settled && inFlight.length < 2 * capacity) {
          const batch = read();
          if (batch) {
            const entry = pending(batch, undefined);
            entry.value = checkRecords(batch.rows, host, mode, batch.start);
            entry.settled = true;
            inFlight.push(entry);
            continue;
          }
        }
        inFlight.shift();
        const checked = head.value ?? (head.result ? await head.result : undefined);
        if (checked && head.result) checkedThere += head.rows.length;
        else checkedHere += head.rows.length;
        consume(head.rows, checked ?? checkRecords(head.rows, host, mode, head.start));
        continue;
      }
      // In this thread: while the store is small, while workers start, or if they cannot.
      const batch: { rows: RecordRow[]; start: number; value?: CheckedBatch } | undefined = inFlight.shift() ?? read();
      if (!batch) break;
      const rows = batch.rows;
      consume(rows, batch.value ?? checkRecords(rows, host, mode, batch.start));
      checkedHere += rows.length;
      if (pool === undefined && workers > 0 && checkedHere >= parallelAfter && !done) pool = new CheckPool(workers);
      if (pool !== undefined && !pool.failed && pool.readyWorkers === 0) await nextTurn();
    }
    if (readError) throw readError.error;
  } finally {
    if (!done) {
      try {
        iterator.return?.();
      } catch {
        // closing the reader's statement early; nothing to report
      }
    }
    await pool?.close();
    options.onStats?.({ checkedInThread: checkedHere, checkedInWorkers: checkedThere, workersStarted: pool ? pool.started : 0 });
  }
}
