/**
 * Worker-thread entry for the verifier's per-record checks (record-check.ts). It receives packed
 * batches, or seq ranges it reads itself from the store's file over its own read-only connection
 * (record-pipeline.ts), checks them, and posts the compact results back. Between requests it keeps
 * only that connection.
 */
import { parentPort } from 'node:worker_threads';
import { SqliteStoreReader } from '../store/store-reader.js';
import { RENDERED_HERE } from './bundle-content.js';
import { checkRecords, unpackRows, type CheckedBatch, type PackedRows, type RecordCheckMode } from './record-check.js';
import type { RecordRow } from './reader.js';

export interface CheckRequest {
  id: number;
  host: string;
  mode: RecordCheckMode;
  /** Position of the batch's first row in the stream. */
  start: number;
  rows: PackedRows;
}

/** The rows with `from <= seq < to` of the store in `storeDir`, read here; `start` is the first one's expected position. */
export interface RangeRequest {
  id: number;
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

export type CheckResponse = { id: number; result: CheckedBatch } | ({ id: number } & RangeResult) | { id: number; error: string };

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

const port = parentPort;
if (port) {
  port.on('message', (request: CheckRequest | RangeRequest) => {
    let response: CheckResponse;
    try {
      if ('range' in request) {
        const checked = checkRange(request);
        // A fatal error or a read error: the verifier reads and checks such a range itself, and reports it as it would.
        response = checked.result.fatal ? { id: request.id, error: 'fatal' } : { id: request.id, ...checked };
      } else {
        const result = checkRecords(unpackRows(request.rows), request.host, request.mode, request.start);
        // A fatal error cannot cross threads faithfully: the verifier re-checks such a batch itself.
        response = result.fatal ? { id: request.id, error: 'fatal' } : { id: request.id, result };
      }
    } catch (err) {
      response = { id: request.id, error: err instanceof Error ? err.message : String(err) };
    }
    if ('seqs' in response) port.postMessage(response, [...transfers(response.result), response.seqs.buffer as ArrayBuffer]);
    else if ('result' in response) port.postMessage(response, transfers(response.result));
    else port.postMessage(response);
  });
  port.postMessage({ ready: true });
}
