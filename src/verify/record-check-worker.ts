/**
 * Worker-thread entry for the verifier's per-record checks (record-check.ts). It receives packed
 * batches, or seq ranges it reads itself from the store's file over its own read-only connection
 * (record-pipeline.ts), checks them, and posts the compact results back. Between requests it keeps
 * only that connection.
 */
import { serveRequests } from '../worker-pool-serve.js';
import { SqliteStoreReader } from '../store/store-reader.js';
import { RENDERED_HERE } from './bundle-content.js';
import { checkRecords, unpackRows, type CheckedBatch, type PackedRows, type RecordCheckMode } from './record-check.js';
import type { RecordRow } from './reader.js';

export interface CheckRequest {
  host: string;
  mode: RecordCheckMode;
  /** Position of the batch's first row in the stream. */
  start: number;
  rows: PackedRows;
}

/** The rows with `from <= seq < to` of the store in `storeDir`, read here; `start` is the first one's expected position. */
export interface RangeRequest {
  host: string;
  mode: RecordCheckMode;
  start: number;
  range: { storeDir: string; from: number; to: number };
}

/**
 * A checked range: the seqs of its rows, and in full the rows the verifier's thread must see (those
 * whose bundle rows it renders itself: BatchContent's RENDERED_HERE).
 */
export interface RangeResult {
  result: CheckedBatch;
  seqs: Float64Array;
  kept: { index: number; row: RecordRow }[];
}

/** A packed batch's result, or a range's. */
export type CheckResponse = CheckedBatch | RangeResult;

let opened: { storeDir: string; reader: SqliteStoreReader } | undefined;

function checkRange(request: RangeRequest): RangeResult {
  const { storeDir, from, to } = request.range;
  if (opened?.storeDir !== storeDir) {
    opened?.reader.close();
    opened = undefined;
    opened = { storeDir, reader: new SqliteStoreReader(storeDir) };
  }
  const rows = Array.from(opened.reader.recordRowsBetween(from, to));
  const result = checkRecords(rows, request.host, request.mode, request.start);
  const seqs = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) seqs[i] = (rows[i] as RecordRow).seq;
  const kept: RangeResult['kept'] = [];
  const tables = result.content?.tables;
  if (tables !== undefined) for (let i = 0; i < tables.length; i++) if (tables[i] === RENDERED_HERE) kept.push({ index: i, row: rows[i] as RecordRow });
  return { result, seqs, kept };
}

function transfers(result: CheckedBatch): ArrayBuffer[] {
  return [result.leaves.buffer as ArrayBuffer, ...result.levels.map((l) => l.buffer as ArrayBuffer), ...(result.content ? [result.content.digests.buffer as ArrayBuffer, result.content.tables.buffer as ArrayBuffer] : [])];
}

// A fatal error (a row that cannot be hashed) or a read error cannot cross threads faithfully: the
// pool answers undefined and the verifier reads and checks such a batch or range itself, reporting
// it as it would.
serveRequests<CheckRequest | RangeRequest, CheckResponse>(
  (request) => {
    if ('range' in request) {
      const checked = checkRange(request);
      if (checked.result.fatal) throw new Error('fatal');
      return checked;
    }
    const result = checkRecords(unpackRows(request.rows), request.host, request.mode, request.start);
    if (result.fatal) throw new Error('fatal');
    return result;
  },
  (response) => ('seqs' in response ? [...transfers(response.result), response.seqs.buffer as ArrayBuffer] : transfers(response)),
  { announceReady: true },
);
