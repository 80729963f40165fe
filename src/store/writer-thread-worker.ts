/**
 * The writer thread: commits the store's batches on a connection of its own, so SQLite's work and
 * the hashing overlap the next batch's preparation in the store's thread. Runs RecordCommitter,
 * the same code the store runs in-thread; see writer-thread.ts for the protocol.
 */
import Database from 'better-sqlite3';
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import { MerkleFrontier } from '../integrity/merkle.js';
import { applyDurablePragmas } from './pragmas.js';
import { batchCount } from './record-batch.js';
import { RecordCommitter } from './record-committer.js';
import type { WriterReply, WriterRequest, WriterThreadData } from './writer-thread.js';

const data = workerData as WriterThreadData;
const port: MessagePort = data.port;
const signal = new Int32Array(data.signal);

function reply(message: WriterReply): void {
  port.postMessage(message);
  // Wakes the store's thread if it waits synchronously (Atomics.wait) for this reply.
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

function describe(err: unknown): { code: string; message: string; where: string | undefined } {
  if (err instanceof CustodyError) return { code: err.code, message: err.message, where: err.where };
  return { code: ErrorCodes.STORE_WRITE_FAILED, message: `writer thread: ${messageOf(err)}`, where: data.dbPath };
}

/** Most commit requests taken into one transaction. */
const MAX_GROUP = 8;

let db: Database.Database | undefined;
let committer: RecordCommitter | undefined;
/** Requests of this generation or older are refused: an earlier one failed, and the store takes its batches back. */
let refusedThrough = -1;

try {
  db = new Database(data.dbPath, { fileMustExist: true });
  applyDurablePragmas(db);
  db.pragma(`max_page_count = ${data.maxPageCount}`);
  reply({ t: 'ready' });
} catch (err) {
  reply({ t: 'failed', id: -1, error: describe(err) });
}

/**
 * Commits posted while the previous one ran are taken together, in one transaction (one fsync
 * instead of several), up to and including the first that asks for a checkpoint: a checkpoint
 * seals the tree exactly as its request left it. Each is still answered on its own.
 */
function commitGroup(first: Extract<WriterRequest, { t: 'commit' }>): WriterRequest | undefined {
  const group = [first];
  let next: WriterRequest | undefined;
  while (group.at(-1)!.checkpoint === undefined && group.length < MAX_GROUP) {
    next = receiveMessageOnPort(port)?.message as WriterRequest | undefined;
    if (next === undefined) break;
    if (next.t !== 'commit' || next.generation !== first.generation) break;
    group.push(next);
    next = undefined;
  }
  if (first.generation <= refusedThrough) {
    for (const request of group) reply({ t: 'refused', id: request.id });
    return next;
  }
  if (!committer) throw new CustodyError(ErrorCodes.STORE_WRITE_FAILED, 'writer thread was given no tree', { where: data.dbPath });
  try {
    const outcome = committer.commit(group.flatMap((r) => r.batches), group.at(-1)!.checkpoint);
    const records = group.map((r) => r.batches.reduce((n, b) => n + batchCount(b), 0));
    let size = outcome.size - records.reduce((n, c) => n + c, 0);
    for (const [i, request] of group.entries()) {
      size += records[i]!;
      reply({ t: 'done', id: request.id, size, checkpoint: request === group.at(-1) ? outcome.checkpoint : undefined });
    }
  } catch (err) {
    refusedThrough = first.generation;
    reply({ t: 'failed', id: first.id, error: describe(err) });
    for (const request of group.slice(1)) reply({ t: 'refused', id: request.id });
  }
  return next;
}

function handle(request: WriterRequest): void {
  let pending: WriterRequest | undefined = request;
  while (pending !== undefined) {
    const current: WriterRequest = pending;
    pending = undefined;
    try {
      switch (current.t) {
        case 'adopt':
          if (!db) throw new CustodyError(ErrorCodes.STORE_WRITE_FAILED, 'writer thread has no database', { where: data.dbPath });
          committer = new RecordCommitter(db, data.dbPath, data.origin, MerkleFrontier.fromState(current.frontier));
          break;
        case 'limit':
          db?.pragma(`max_page_count = ${current.maxPageCount}`);
          break;
        case 'commit':
          pending = commitGroup(current);
          break;
        case 'close': {
          const frontier = committer?.frontierState();
          committer = undefined;
          db?.close();
          db = undefined;
          reply({ t: 'closed', frontier });
          port.close();
          return;
        }
      }
    } catch (err) {
      reply({ t: 'failed', id: current.t === 'commit' ? current.id : -1, error: describe(err) });
    }
  }
}

port.on('message', handle);
