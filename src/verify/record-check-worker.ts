/**
 * Worker-thread entry for the verifier's per-record checks (record-check.ts). It receives packed
 * batches, checks them, and posts the compact results back; it owns no state between batches.
 */
import { parentPort } from 'node:worker_threads';
import { checkRecords, unpackRows, type CheckedBatch, type PackedRows, type RecordCheckMode } from './record-check.js';

export interface CheckRequest {
  id: number;
  host: string;
  mode: RecordCheckMode;
  /** Position of the batch's first row in the stream. */
  start: number;
  rows: PackedRows;
}

export type CheckResponse = { id: number; result: CheckedBatch } | { id: number; error: string };

const port = parentPort;
if (port) {
  port.on('message', (request: CheckRequest) => {
    let response: CheckResponse;
    try {
      const result = checkRecords(unpackRows(request.rows), request.host, request.mode, request.start);
      // A fatal error cannot cross threads faithfully: the verifier re-checks such a batch itself.
      response = result.fatal ? { id: request.id, error: 'fatal' } : { id: request.id, result };
    } catch (err) {
      response = { id: request.id, error: err instanceof Error ? err.message : String(err) };
    }
    if ('result' in response) port.postMessage(response, [response.result.leaves.buffer as ArrayBuffer, ...response.result.levels.map((l) => l.buffer as ArrayBuffer), ...(response.result.content ? [response.result.content.digests.buffer as ArrayBuffer, response.result.content.tables.buffer as ArrayBuffer] : [])]);
    else port.postMessage(response);
  });
  port.postMessage({ ready: true });
}
