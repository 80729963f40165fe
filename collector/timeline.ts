/**
 * The merged UTC timeline of all the stores of a bundle, streamed. This thread reads each store's
 * records in time order (src/store/timeline-reader.ts: no sort of rows with their bytes where seq
 * order is time order), merges the stores k-way by (time, store order, seq) into batches, and
 * hands each batch to a worker thread that renders its rows (timeline-render.ts,
 * timeline-worker.ts; here when none can start). The rendered batches are written in order to
 * timeline/timeline.jsonl, timeline/timeline.csv (Timesketch) and the tables (file-access, logons,
 * gaps, ...; usb-devices from every store's USB records at the end), each file hashed as it is
 * written, so the collector does not read them back to hash them. Memory is bounded: a few
 * batches in flight per worker.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { TABLE_HEADERS, TABLE_NAMES, UsbDeviceTable, timelineCsvHeader, type TimedRecord, type TimelineEntry, type TimelineSource } from '../src/bundle/timeline.js';
import { WorkerPool } from '../src/worker-pool.js';
import { workerScript } from '../src/worker-script.js';
import type { ReportEntryPass } from '../src/report/model.js';
import { rejectLine, type RejectedLineCode, type TimelineRow } from '../src/report/timeline-input.js';
import { recordsByTime } from '../src/store/timeline-reader.js';
import { renderBatch, REPORT_ENTRY, REPORT_REJECTED, type RecordBatch, type RenderContext, type RenderedBatch, type ReportRows, type WellFormedFinding } from './timeline-render.js';

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
  /** Worker threads rendering rows (default: one per CPU, at most 4); 0 renders in this thread. */
  workers?: number;
  /**
   * The draft report's pass over the timeline, fed every line as it is written (each gated as the
   * report gates the file's lines), so the report need not read the file back. If the pass throws
   * (more events than its bound), it is fed no more and the error is in the result: the timeline
   * is written whole all the same.
   */
  report?: ReportEntryPass;
}

export interface TimelineResult {
  entries: number;
  /** Bundle-relative names of the files written. */
  files: string[];
  /** Size and SHA-256 of each file written, hashed from the bytes as they were written. */
  hashes: Map<string, { size: number; sha256: string }>;
  /** Per input (same index): the records that are not well-formed, in the order they were merged (checked inputs only). */
  findings: WellFormedFinding[][];
  /** What stopped the report's pass, if anything did. */
  reportError?: unknown;
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
    this.writeBytes(data);
  }
  /** Writes bytes after what was written before (text still buffered goes first). */
  writeBytes(data: Uint8Array): void {
    if (this.buf.length > 0) this.flush();
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

const BATCH_RECORDS = 2048;
/** Batches in flight per worker: enough to keep it busy while this thread reads and writes. */
const IN_FLIGHT_PER_WORKER = 3;

/** Renders batches on worker threads; a batch no worker renders (none started, one died) is rendered here. */
class RenderPool {
  private readonly pool: WorkerPool<RecordBatch, RenderedBatch>;

  constructor(count: number, private readonly context: RenderContext) {
    this.pool = new WorkerPool(count > 0 ? workerScript('./timeline-worker.js', import.meta.url) : undefined, count, { workerData: context });
  }

  /** Batches to keep in flight. */
  get capacity(): number {
    return Math.max(1, this.pool.size * IN_FLIGHT_PER_WORKER);
  }

  async render(batch: RecordBatch): Promise<RenderedBatch> {
    // Here, the same function: an error it throws is the collection's.
    return (await this.pool.run(batch)) ?? renderBatch(batch, this.context);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Collects records into a RecordBatch. */
class BatchBuilder {
  private stores = new Uint16Array(BATCH_RECORDS);
  private seqs = new Float64Array(BATCH_RECORDS);
  private kinds: string[] = [];
  private observedAts: string[] = [];
  private times: string[] = [];
  private ends = new Uint32Array(BATCH_RECORDS);
  private data = new Uint8Array(1 << 20);
  private size = 0;
  count = 0;

  add(store: number, r: TimedRecord): void {
    const i = this.count++;
    this.stores[i] = store;
    this.seqs[i] = r.seq;
    this.kinds.push(r.kind);
    this.observedAts.push(r.observedAt);
    this.times.push(r.time);
    if (this.size + r.bytes.length > this.data.length) {
      const grown = new Uint8Array(Math.max(this.data.length * 2, this.size + r.bytes.length));
      grown.set(this.data.subarray(0, this.size));
      this.data = grown;
    }
    this.data.set(r.bytes, this.size);
    this.size += r.bytes.length;
    this.ends[i] = this.size;
  }

  /** The batch so far (its arrays handed over), and a fresh one started. */
  take(): RecordBatch {
    const batch: RecordBatch = { count: this.count, stores: this.stores.slice(0, this.count), seqs: this.seqs.slice(0, this.count), kinds: this.kinds, observedAts: this.observedAts, times: this.times, data: this.data.slice(0, this.size), ends: this.ends.slice(0, this.count) };
    this.kinds = [];
    this.observedAts = [];
    this.times = [];
    this.size = 0;
    this.count = 0;
    return batch;
  }
}

interface Head {
  store: number;
  it: Iterator<TimedRecord>;
  rec: TimedRecord;
}

function before(a: Head, b: Head): boolean {
  if (a.rec.time !== b.rec.time) return a.rec.time < b.rec.time;
  if (a.store !== b.store) return a.store < b.store;
  return a.rec.seq < b.rec.seq;
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

/** Every record of every store, k-way merged by (time, store order, seq). */
function* merged(inputs: readonly TimelineInput[]): Generator<{ store: number; rec: TimedRecord }> {
  const iterators = inputs.map((input) => recordsByTime(input.dir));
  try {
    const heap: Head[] = [];
    iterators.forEach((it, store) => {
      const first = it.next();
      if (!first.done) heap.push({ store, it, rec: first.value });
    });
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i);
    while (heap.length > 0) {
      const h = heap[0] as Head;
      yield { store: h.store, rec: h.rec };
      const next = h.it.next();
      if (next.done) {
        const last = heap.pop() as Head;
        if (heap.length === 0) return;
        if (last !== h) heap[0] = last;
      } else h.rec = next.value;
      siftDown(heap, 0);
    }
  } finally {
    for (const it of iterators) it.return(undefined);
  }
}

function defaultWorkers(): number {
  return Math.max(1, Math.min(availableParallelism(), 4));
}

/** The row the report's pass takes for record `i` of a rendered batch, line `lineNo` of timeline.jsonl. */
function reportRow(rows: ReportRows, cursor: { entry: number; rejected: number }, batch: RecordBatch, i: number, inputs: readonly TimelineInput[], lineNo: number): TimelineRow {
  const code = rows.rows[i];
  if (code === REPORT_ENTRY) return rows.entries[cursor.entry++] as TimelineEntry;
  if (code === REPORT_REJECTED) {
    const rejected = rows.rejected[cursor.rejected++] as { code: RejectedLineCode; message: string };
    return rejectLine(rejected.code, lineNo, rejected.message);
  }
  // Only what the pass reads of a kind whose payload it does not read.
  return { datetime: batch.times[i], host: (inputs[batch.stores[i] as number] as TimelineInput).host, source: rows.sources[i], kind: batch.kinds[i] } as TimelineEntry;
}

/**
 * Writes timeline/ and tables/ under `bundleDir`. Rows are merged by (time, store order, seq):
 * the order of the inputs breaks ties between stores.
 */
export async function writeTimelineAndTables(bundleDir: string, inputs: readonly TimelineInput[], options: TimelineOptions = {}): Promise<TimelineResult> {
  if (inputs.length > 0xffff) throw new CustodyError(ErrorCodes.USAGE, `too many stores for one timeline (${inputs.length})`);
  mkdirSync(join(bundleDir, 'timeline'), { recursive: true });
  mkdirSync(join(bundleDir, 'tables'), { recursive: true });
  const hashes = new Map<string, { size: number; sha256: string }>();
  const findings: WellFormedFinding[][] = inputs.map(() => []);
  const usb = new UsbDeviceTable();
  let report = options.report;
  let reportError: unknown;
  const context: RenderContext = { stores: inputs.map((i) => ({ host: i.host, storeId: i.storeId, check: i.check === true })), report: report !== undefined };
  const pool = new RenderPool(options.workers ?? defaultWorkers(), context);
  const writers: Array<[string, FileWriter]> = [];
  const create = (rel: string): FileWriter => {
    const w = new FileWriter(join(bundleDir, rel));
    writers.push([rel, w]);
    return w;
  };
  let entries = 0;
  const inFlight: Array<{ batch: RecordBatch; rendered: Promise<RenderedBatch> }> = [];
  try {
    const jsonl = create('timeline/timeline.jsonl');
    const csv = create('timeline/timeline.csv');
    const tables = TABLE_NAMES.map((name) => create(`tables/${name}.csv`));
    csv.write(timelineCsvHeader());
    TABLE_NAMES.forEach((name, i) => (tables[i] as FileWriter).write(TABLE_HEADERS[name]));

    /** Writes the oldest batch in flight, once rendered. */
    const writeOldest = async (): Promise<void> => {
      const { batch, rendered: pending } = inFlight.shift() as (typeof inFlight)[number];
      const rendered = await pending;
      jsonl.writeBytes(rendered.jsonl);
      csv.writeBytes(rendered.csv);
      rendered.tables.forEach((rows, t) => {
        if (rows !== '') (tables[t] as FileWriter).write(rows);
      });
      for (const e of rendered.usb) usb.add(e);
      for (const f of rendered.findings) (findings[f.store] as WellFormedFinding[]).push({ seq: f.seq, code: f.code, message: f.message });
      if (report !== undefined && rendered.report !== undefined) {
        const cursor = { entry: 0, rejected: 0 };
        try {
          for (let i = 0; i < batch.count; i++) report.add(reportRow(rendered.report, cursor, batch, i, inputs, entries + i + 1));
        } catch (err) {
          reportError = err;
          report = undefined;
        }
      }
      entries += batch.count;
      options.onRecord?.(entries);
    };
    const builder = new BatchBuilder();
    const dispatch = async (): Promise<void> => {
      const batch = builder.take();
      const rendered = pool.render(batch);
      // Awaited in order below; an error is thrown there, never left unhandled here.
      rendered.catch(() => undefined);
      inFlight.push({ batch, rendered });
      while (inFlight.length > pool.capacity) await writeOldest();
    };
    for (const { store, rec } of merged(inputs)) {
      builder.add(store, rec);
      if (builder.count === BATCH_RECORDS) await dispatch();
    }
    if (builder.count > 0) await dispatch();
    while (inFlight.length > 0) await writeOldest();
    const usbWriter = create('tables/usb-devices.csv');
    usbWriter.write(usb.csv());
  } finally {
    // Every batch settled before the workers go (one still rendering here would write nothing).
    await Promise.allSettled(inFlight.map((f) => f.rendered));
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
  return {
    entries,
    files: ['timeline/timeline.jsonl', 'timeline/timeline.csv', 'tables/usb-devices.csv', ...TABLE_NAMES.map((name) => `tables/${name}.csv`)],
    hashes,
    findings,
    ...(reportError !== undefined ? { reportError } : {}),
  };
}
