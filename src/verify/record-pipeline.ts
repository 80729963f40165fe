/**
 * Feeds record batches through the per-record checks (record-check.ts) and hands the results back
 * strictly in order. Small stores are checked in the calling thread; once a store proves large,
 * worker threads take the per-record work and this thread does the order-dependent work in
 * `consume`. When the reader offers a RecordRangeSource (a store file), the workers also read the
 * records themselves, in seq ranges over their own connections (runRanges), so the reading is
 * spread over the threads too; otherwise this thread reads every row and posts batches to them.
 * Memory stays flat: a bounded number of batches is in flight.
 *
 * Pure in the verifier's sense: this module touches no file and no database (it pulls from the
 * reader's iterator and range source; the workers open the file themselves). If the workers cannot
 * start, or one dies or cannot read a range, its batches are read and checked here instead: the
 * results are the same either way, only slower.
 */
import { availableParallelism } from 'node:os';
import { WorkerPool } from '../worker-pool.js';
import { workerScript } from '../worker-script.js';
import { HASH_SIZE, subtreeLevels } from '../integrity/merkle.js';
import { checkRecords, DEEP, packRows, type CheckedBatch, type PackedRows, type RecordCheckMode } from './record-check.js';
import type { CheckRequest, CheckResponse, RangeRequest, RangeResult } from './record-check-worker.js';
import type { RecordRangeSource, RecordRow } from './reader.js';

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
  /**
   * When given, the workers read the records themselves, in seq ranges of `batchSize`, each over its
   * own connection (reader.ts RecordRangeSource), instead of this thread reading every row and
   * posting it to them: the reading is then spread over the threads too. Results are the same.
   */
  ranges?: RecordRangeSource;
}

export interface PipelineStats {
  checkedInThread: number;
  checkedInWorkers: number;
  /** Of checkedInWorkers: records the workers also read themselves (PipelineOptions.ranges). */
  readInWorkers: number;
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

/** The verifier's workers: packed batches or seq ranges checked on the least busy ready one (worker-pool.ts). */
class CheckPool {
  private readonly pool: WorkerPool<CheckRequest | RangeRequest, CheckResponse>;

  constructor(count: number) {
    this.pool = new WorkerPool(workerScript('./record-check-worker.js', import.meta.url), count, { announcesReady: true });
  }

  /** Resolves once a worker is ready, or none can be. */
  settled(): Promise<void> {
    return this.pool.settled();
  }

  /** Ready workers, or 0 while they start (and for good when none could). */
  get readyWorkers(): number {
    return this.pool.readyCount;
  }

  get started(): number {
    return this.pool.started;
  }

  get failed(): boolean {
    return this.pool.failed;
  }

  /** Checks a packed batch on the least busy worker; undefined when no worker could. */
  async check(rows: PackedRows, host: string, mode: RecordCheckMode, start: number): Promise<CheckedBatch | undefined> {
    // The packed arrays are this batch's own copy: hand them over instead of copying them again.
    const response = await this.pool.run({ host, mode, start, rows }, [rows.seqs.buffer, rows.columnEnds.buffer, rows.leafHashes.buffer, rows.offsets.buffer, rows.data.buffer] as ArrayBuffer[]);
    return response !== undefined && !('seqs' in response) ? response : undefined;
  }

  /** Has the least busy worker read and check a seq range; undefined when no worker could. */
  async checkRange(request: RangeRequest): Promise<RangeResult | undefined> {
    const response = await this.pool.run(request);
    return response !== undefined && 'seqs' in response ? response : undefined;
  }

  close(): Promise<void> {
    return this.pool.close();
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
  // The seq of the last row read (rows come in seq order).
  let lastSeq: number | undefined;
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
      const last = next.value[next.value.length - 1];
      if (last !== undefined) lastSeq = last.seq;
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
  let readThere = 0;
  const inFlight: InFlight[] = [];
  try {
    if (workers > 0 && parallelAfter === 0) {
      pool = new CheckPool(workers);
      await pool.settled();
    }
    for (;;) {
      const ready = pool ? pool.readyWorkers : 0;
      if (ready > 0 && options.ranges !== undefined && !done && inFlight.length === 0) {
        // From here on the workers read the rest themselves (and this thread, while they are behind).
        done = true;
        try {
          iterator.return?.();
        } catch {
          // closing the reader's statement early; nothing to report
        }
        const from = lastSeq === undefined ? options.ranges.minSeq : lastSeq + 1;
        const counts = await runRanges(pool as CheckPool, options.ranges, from, position, { host, mode, shareWork, batchSize: options.batchSize ?? DEFAULT_BATCH }, consume);
        checkedHere += counts.here;
        checkedThere += counts.there;
        readThere += counts.there;
        if (counts.readError) readError = counts.readError;
        break;
      }
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
            await nextTurn(); // the workers' answers arrive as events (see runRanges)
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
    options.onStats?.({ checkedInThread: checkedHere, checkedInWorkers: checkedThere, readInWorkers: readThere, workersStarted: pool ? pool.started : 0 });
  }
}

interface RangeInFlight {
  from: number;
  to: number;
  /** A worker's answer (undefined: none could take it). */
  result: Promise<RangeResult | undefined> | undefined;
  settled: boolean;
  /** Read and checked in this thread. */
  value?: { rows: RecordRow[]; checked: CheckedBatch };
}

const NO_BYTES = new Uint8Array(0);

/**
 * The workers read seq ranges [from, from + batchSize) themselves up to the source's maxSeq, at
 * most IN_FLIGHT_PER_WORKER per worker ahead, and this thread reads and checks the next range too
 * while they are behind; `consume` gets the results strictly in seq order, each with its rows'
 * true stream position (a range's expected start assumes no seq is missing; where one is, the
 * batch's Merkle subtrees are hashed again here at the true position). A range a worker could not
 * read or check completely (a read error, a row that cannot be hashed, a worker gone) is read and
 * checked again here, in its turn, so its rows and its error come exactly as a single reader's.
 */
async function runRanges(
  pool: CheckPool,
  source: RecordRangeSource,
  from: number,
  position: number,
  options: { host: string; mode: RecordCheckMode; shareWork: boolean; batchSize: number },
  consume: (rows: RecordRow[], checked: CheckedBatch) => void,
): Promise<{ here: number; there: number; readError?: { error: unknown } }> {
  const { host, mode, batchSize } = options;
  const end = source.maxSeq + 1;
  const base = { from, position };
  let next = from;
  let here = 0;
  let there = 0;
  const queue: RangeInFlight[] = [];
  const expectedStart = (at: number): number => base.position + (at - base.from);
  const take = (): { from: number; to: number } | undefined => {
    if (next >= end) return undefined;
    const range = { from: next, to: Math.min(end, next + batchSize) };
    next = range.to;
    return range;
  };
  const consumeAt = (rows: RecordRow[], checked: CheckedBatch): void => {
    if (rows.length === 0) return;
    if (checked.start !== position) {
      checked.levels = subtreeLevels(checked.leaves.subarray(0, checked.count * HASH_SIZE), position).levels.slice(1);
      checked.start = position;
    }
    position += rows.length;
    consume(rows, checked);
  };
  // Ranges given to the workers and not yet consumed: kept at their capacity, whatever this thread
  // checks in between, so a worker never waits for this thread to consume.
  let atWorkers = 0;
  while (true) {
    const capacity = pool.readyWorkers * IN_FLIGHT_PER_WORKER;
    while (atWorkers < capacity) {
      const range = take();
      if (!range) break;
      const entry: RangeInFlight = { ...range, result: pool.checkRange({ host, mode, start: expectedStart(range.from), range: { storeDir: source.storeDir, ...range } }), settled: false };
      void entry.result?.then(() => {
        entry.settled = true;
      });
      atWorkers++;
      queue.push(entry);
    }
    const head = queue[0];
    if (!head) {
      // No worker left to take a range: the rest is read here.
      const range = take();
      if (!range) break;
      queue.push({ ...range, result: undefined, settled: true });
      continue;
    }
    if (options.shareWork && !head.settled && queue.length < 4 * Math.max(1, capacity)) {
      const range = take();
      if (range) {
        const entry: RangeInFlight = { ...range, result: undefined, settled: true };
        try {
          const rows = Array.from(source.rows(range.from, range.to));
          entry.value = { rows, checked: checkRecords(rows, host, mode, expectedStart(range.from)) };
        } catch {
          // Read again in its turn, where its rows and its error are reported in order.
        }
        queue.push(entry);
        // Let the workers' answers in (they arrive as events): without this turn of the event loop
        // this thread would go on checking ranges while the workers sat idle with their results.
        await nextTurn();
        continue;
      }
    }
    queue.shift();
    if (head.result !== undefined) atWorkers--;
    if (head.value !== undefined && head.value.checked.fatal === undefined) {
      here += head.value.rows.length;
      consumeAt(head.value.rows, head.value.checked);
      continue;
    }
    const answer = head.result ? await head.result : undefined;
    if (answer !== undefined) {
      const kept = answer.kept;
      const rows: RecordRow[] = new Array<RecordRow>(answer.seqs.length);
      for (let i = 0, k = 0; i < rows.length; i++) {
        const keptRow = kept[k];
        if (keptRow !== undefined && keptRow.index === i) {
          rows[i] = keptRow.row;
          k++;
        } else rows[i] = { seq: answer.seqs[i] as number, kind: '', observed_at: '', leaf_hash: NO_BYTES, bytes: NO_BYTES };
      }
      there += rows.length;
      consumeAt(rows, answer.result);
      continue;
    }
    // Here, in its turn: the rows read before a read error are consumed, then the error ends the stream.
    try {
      for (const rows of batchesOf(source.rows(head.from, head.to), batchSize)) {
        here += rows.length;
        consumeAt(rows, checkRecords(rows, host, mode, position));
      }
    } catch (error) {
      return { here, there, readError: { error } };
    }
  }
  return { here, there };
}
