/**
 * The merged UTC timeline of all the stores of a bundle, streamed: each store's records come in
 * time order (src/store/timeline-reader.ts), rendered into their rows by a worker thread
 * (timeline-render.ts, timeline-worker.ts; in this thread when none can start); this thread
 * merges the stores k-way by (time, store order, seq), writes timeline/timeline.jsonl,
 * timeline/timeline.csv (Timesketch) and the tables (file-access, logons, gaps, ...; usb-devices
 * from every store's USB records at the end), and hashes each file as it writes it, so the
 * collector does not read them back to hash them. Memory is bounded: a few batches per store.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CustodyError, ErrorCodes, messageOf, type ErrorCode } from '../src/errors.js';
import { TABLE_HEADERS, TABLE_NAMES, UsbDeviceTable, timelineCsvHeader, type TimelineSource } from '../src/bundle/timeline.js';
import { workerScript } from '../src/worker-script.js';
import { renderedBatches, type RenderedBatch, type RenderOptions, type WellFormedFinding } from './timeline-render.js';
import type { RenderRequest, RenderResponse } from './timeline-worker.js';

export type { WellFormedFinding } from './timeline-render.js';

export interface TimelineInput extends TimelineSource {
  /** Snapshot folder holding evidence.sqlite. */
  readonly dir: string;
  /** Also prove every record of this store canonical and schema-valid (findings in the result). */
  readonly check?: boolean;
}

export interface TimelineOptions {
  /** Told the number of entries written so far, now and then. */
  onRecord?: (n: number) => void;
  /** Worker threads rendering rows (default: one per store, at most the CPUs and 4); 0 renders in this thread. */
  workers?: number;
}

export interface TimelineResult {
  entries: number;
  /** Bundle-relative names of the files written. */
  files: string[];
  /** Size and SHA-256 of each file written, hashed from the bytes as they were written. */
  hashes: Map<string, { size: number; sha256: string }>;
  /** Per input (same index): the records that are not well-formed, in the order they were merged (checked inputs only). */
  findings: WellFormedFinding[][];
}

/** Buffered synchronous writer that hashes what it writes: few syscalls, no unbounded memory. */
class FileWriter {
  private readonly fd: number;
  private buf: string[] = [];
  private pending = 0;
  private bytes = 0;
  private readonly hash = createHash('sha256');
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'wx', 0o644);
    } catch (err) {
      throw new CustodyError(ErrorCodes.IO, `cannot create ${path}: ${messageOf(err)}`, { where: path, cause: err });
    }
  }
  write(text: string): void {
    this.buf.push(text);
    this.pending += text.length;
    if (this.pending >= 1 << 20) this.flush();
  }
  flush(): void {
    if (this.buf.length === 0) return;
    const data = Buffer.from(this.buf.join(''), 'utf8');
    this.buf = [];
    this.pending = 0;
    this.hash.update(data);
    try {
      for (let off = 0; off < data.length; ) off += writeSync(this.fd, data, off, data.length - off);
    } catch (err) {
      throw new CustodyError(ErrorCodes.IO, `cannot write ${this.path}: ${messageOf(err)}`, { where: this.path, cause: err });
    }
    this.bytes += data.length;
  }
  /** Flushes and closes; the size and SHA-256 of everything written. */
  close(): { size: number; sha256: string } {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
    return { size: this.bytes, sha256: this.hash.digest('hex') };
  }
}

/** Batches of one store, pulled from a worker thread (a few requested ahead) or rendered here. */
interface BatchSource {
  next(): Promise<RenderedBatch | undefined>;
}

const AHEAD = 3;

class RenderPool {
  private readonly workers: Array<{ worker: Worker; alive: boolean; streams: Set<number> }> = [];
  private readonly waiting = new Map<number, Array<{ resolve: (b: RenderedBatch | undefined) => void; reject: (e: unknown) => void }>>();
  private readonly onDeath = new Map<number, () => void>();

  constructor(count: number) {
    const script = count > 0 ? workerScript('./timeline-worker.js', import.meta.url) : undefined;
    for (let i = 0; script !== undefined && i < count; i++) {
      let worker: Worker;
      try {
        worker = new Worker(script);
      } catch {
        continue;
      }
      const entry = { worker, alive: true, streams: new Set<number>() };
      this.workers.push(entry);
      worker.on('message', (m: RenderResponse) => {
        const queue = this.waiting.get(m.stream);
        const first = queue?.shift();
        if (first === undefined) return;
        if ('batch' in m) first.resolve(m.batch);
        else if ('done' in m) first.resolve(undefined);
        else first.reject(new CustodyError((m.error.code ?? ErrorCodes.IO) as ErrorCode, m.error.message, m.error.where !== undefined ? { where: m.error.where } : undefined));
      });
      const die = (): void => {
        if (!entry.alive) return;
        entry.alive = false;
        for (const stream of entry.streams) this.onDeath.get(stream)?.();
      };
      worker.on('error', die);
      worker.on('exit', die);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** A source for one store: on worker `index % size`, or here when there is no worker. */
  open(stream: number, input: TimelineInput, options: RenderOptions): BatchSource {
    const local = (): Generator<RenderedBatch> => renderedBatches(input.dir, { host: input.host, storeId: input.storeId }, options);
    const target = this.workers.length > 0 ? this.workers[stream % this.workers.length] : undefined;
    if (target === undefined || !target.alive) {
      const it = local();
      return { next: async () => it.next().value ?? undefined };
    }
    const queue: Array<{ resolve: (b: RenderedBatch | undefined) => void; reject: (e: unknown) => void }> = [];
    this.waiting.set(stream, queue);
    target.streams.add(stream);
    const ahead: Array<Promise<RenderedBatch | undefined>> = [];
    /** Batches the worker has answered with (skipped when this thread takes over). */
    let received = 0;
    let fallback: Generator<RenderedBatch> | undefined;
    // A worker that dies leaves its streams to this thread: the store is rendered again here and
    // the batches the worker already answered with are skipped (batches have a fixed size), so no row is lost or doubled.
    const takeOver = (): void => {
      if (fallback !== undefined) return;
      const waiters = queue.splice(0);
      try {
        fallback = local();
        for (let skipped = 0; skipped < received; skipped++) fallback.next();
        for (const w of waiters) w.resolve(fallback.next().value ?? undefined);
      } catch (err) {
        for (const w of waiters) w.reject(err);
        fallback = (function* failed(): Generator<RenderedBatch> {
          throw err;
        })();
      }
    };
    this.onDeath.set(stream, takeOver);
    target.worker.postMessage({ type: 'open', stream, dir: input.dir, src: { host: input.host, storeId: input.storeId }, options } satisfies RenderRequest);
    const request = (): Promise<RenderedBatch | undefined> => {
      if (fallback !== undefined) return Promise.resolve(fallback.next().value ?? undefined);
      return new Promise((resolve, reject) => {
        queue.push({
          resolve: (batch) => {
            if (batch !== undefined && fallback === undefined) received++;
            resolve(batch);
          },
          reject,
        });
        target.worker.postMessage({ type: 'next', stream } satisfies RenderRequest);
      });
    };
    return {
      next: async () => {
        while (ahead.length < AHEAD) {
          const p = request();
          // Asked ahead: an error is thrown where it is awaited, never left unhandled.
          p.catch(() => undefined);
          ahead.push(p);
        }
        return ahead.shift() as Promise<RenderedBatch | undefined>;
      },
    };
  }

  async close(): Promise<void> {
    for (const [, queue] of this.waiting) for (const w of queue.splice(0)) w.resolve(undefined);
    await Promise.all(this.workers.map((w) => w.worker.terminate().catch(() => undefined)));
  }
}

interface Head {
  order: number;
  source: BatchSource;
  batch: RenderedBatch;
  i: number;
  /** Next row of batch.tableRows. */
  table: number;
}

function before(a: Head, b: Head): boolean {
  const ta = a.batch.times[a.i] as string;
  const tb = b.batch.times[b.i] as string;
  if (ta !== tb) return ta < tb;
  if (a.order !== b.order) return a.order < b.order;
  return (a.batch.seqs[a.i] as number) < (b.batch.seqs[b.i] as number);
}

function siftDown(heap: Head[], from: number): void {
  let i = from;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < heap.length && before(heap[l] as Head, heap[m] as Head)) m = l;
    if (r < heap.length && before(heap[r] as Head, heap[m] as Head)) m = r;
    if (m === i) return;
    [heap[i], heap[m]] = [heap[m] as Head, heap[i] as Head];
    i = m;
  }
}

function defaultWorkers(stores: number): number {
  return Math.max(1, Math.min(stores, availableParallelism(), 4));
}

/**
 * Writes timeline/ and tables/ under `bundleDir`. Rows are merged by (time, store order, seq):
 * the order of the inputs breaks ties between stores.
 */
export async function writeTimelineAndTables(bundleDir: string, inputs: readonly TimelineInput[], options: TimelineOptions = {}): Promise<TimelineResult> {
  mkdirSync(join(bundleDir, 'timeline'), { recursive: true });
  mkdirSync(join(bundleDir, 'tables'), { recursive: true });
  const hashes = new Map<string, { size: number; sha256: string }>();
  const findings: WellFormedFinding[][] = inputs.map(() => []);
  const usb = new UsbDeviceTable();
  const pool = new RenderPool(options.workers ?? defaultWorkers(inputs.length));
  const writers: Array<[string, FileWriter]> = [];
  const create = (rel: string): FileWriter => {
    const w = new FileWriter(join(bundleDir, rel));
    writers.push([rel, w]);
    return w;
  };
  let entries = 0;
  try {
    const jsonl = create('timeline/timeline.jsonl');
    const csv = create('timeline/timeline.csv');
    const tables = TABLE_NAMES.map((name) => create(`tables/${name}.csv`));
    csv.write(timelineCsvHeader());
    TABLE_NAMES.forEach((name, i) => (tables[i] as FileWriter).write(TABLE_HEADERS[name]));

    const arrived = (order: number, batch: RenderedBatch): void => {
      for (const e of batch.usb) usb.add(e);
      if (batch.findings.length > 0) (findings[order] as WellFormedFinding[]).push(...batch.findings);
    };
    const sources = inputs.map((input, order) => pool.open(order, input, { check: input.check === true }));
    const heap: Head[] = [];
    const firsts = await Promise.all(sources.map((s) => s.next()));
    firsts.forEach((batch, order) => {
      if (batch === undefined) return;
      arrived(order, batch);
      heap.push({ order, source: sources[order] as BatchSource, batch, i: 0, table: 0 });
    });
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i);
    const onRecord = options.onRecord;
    while (heap.length > 0) {
      const h = heap[0] as Head;
      const b = h.batch;
      const i = h.i;
      jsonl.write(b.jsonl[i] as string);
      csv.write(b.csv[i] as string);
      const t = b.tables[i] as number;
      if (t >= 0) (tables[t] as FileWriter).write(b.tableRows[h.table++] as string);
      entries++;
      if (onRecord !== undefined && entries % 4096 === 0) onRecord(entries);
      if (++h.i === b.count) {
        const next = await h.source.next();
        if (next === undefined) {
          const last = heap.pop() as Head;
          if (heap.length === 0) break;
          heap[0] = last;
        } else {
          arrived(h.order, next);
          h.batch = next;
          h.i = 0;
          h.table = 0;
        }
      }
      siftDown(heap, 0);
    }
    const usbWriter = create('tables/usb-devices.csv');
    usbWriter.write(usb.csv());
  } finally {
    await pool.close();
    // Every file is closed, even after an error (the folder is then removed by the collector).
    let failure: unknown;
    for (const [rel, w] of writers) {
      try {
        hashes.set(rel, w.close());
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
  }
  options.onRecord?.(entries);
  return {
    entries,
    files: ['timeline/timeline.jsonl', 'timeline/timeline.csv', 'tables/usb-devices.csv', ...TABLE_NAMES.map((name) => `tables/${name}.csv`)],
    hashes,
    findings,
  };
}
