/**
 * A store's records in time order, for the merged timeline: a derived record's payload.event_time
 * when it has one, else observed_at; ties by seq. Read-only, memory bounded whatever the store's
 * size.
 *
 * Most of a store comes out of SQLite already in that order: an agent appends raw lines
 * (`log.line`, placed at observed_at) in seq order with a clock that rarely steps back. So the
 * records are read in two groups, raw lines and the rest, each by seq (a plain scan of the table)
 * when a first scan of the group's times proves they never go down along seq, and sorted by
 * SQLite only when they do (a clock stepped back, derived records whose
 * event_time is older than the next record's). The two groups are merged here by (time, seq): the
 * same order as sorting every record by (time, seq), without sorting rows with their bytes.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import type { TimedRecord } from '../bundle/timeline.js';
import { BUSY_TIMEOUT_MS } from './pragmas.js';
import { splitFramed } from '../vault/segment.js';
import { denseSeqBounds, RECORDS_FRAMED, rowsInSeqOrder } from './chunks.js';
import { EVIDENCE_FILE } from './evidence-store.js';

// Raw lines (the bulk of a store) have no event_time in their schema, so SQLite is spared parsing
// their JSON (json_valid, json_extract). Only a text event_time counts (recordTime in
// src/bundle/timeline.ts, which the bundle verifier applies): a number or object there would
// otherwise sort by one rule and be shown by another.
const RAW_LINES = `kind = 'log.line'`;
const DERIVED_TIME = `COALESCE(CASE WHEN json_valid(CAST(bytes AS TEXT)) AND json_type(CAST(bytes AS TEXT), '$.payload.event_time') = 'text' THEN json_extract(CAST(bytes AS TEXT), '$.payload.event_time') END, observed_at)`;
const GROUPS = [
  { where: RAW_LINES, time: 'observed_at' },
  { where: `NOT (${RAW_LINES})`, time: DERIVED_TIME },
] as const;

/**
 * Whether the group's times never go down along seq (then seq order is its time order). Compared
 * here over the times alone: half the cost of SQLite's lag() window over the same column.
 */
function inSeqOrder(db: Database.Database, group: (typeof GROUPS)[number]): boolean {
  let previous = '';
  for (const t of db.prepare(`SELECT ${group.time} FROM records WHERE ${group.where} ORDER BY seq`).pluck().iterate() as IterableIterator<unknown>) {
    if (typeof t !== 'string' || t < previous) return false;
    previous = t;
  }
  return true;
}

function open(path: string): Database.Database {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return db;
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot open the store for the timeline: ${messageOf(err)}`, { where: path, cause: err });
  }
}

/** Seqs per aggregate read of a group read in seq order (groupByTime). */
const CHUNK = 1024;

/**
 * One group's records in (time, seq) order, on its own connection (two iterating statements cannot
 * share one). In seq order (the common case) the records come in chunks of CHUNK seqs, each handed
 * over by SQLite as a few joined values (groupChunk): one JS value per column per row cost more
 * than the rest of reading. A chunk that is not plainly well-typed, or fails to read, is read row by
 * row, so the timeline gets exactly what is stored either way.
 */
function* groupByTime(path: string, group: (typeof GROUPS)[number]): Generator<TimedRecord> {
  const db = open(path);
  try {
    if (!inSeqOrder(db, group)) {
      yield* rowByRow(db, group, 't, seq');
      return;
    }
    const bounds = denseSeqBounds(db);
    if (bounds === undefined) {
      yield* rowByRow(db, group, 'seq');
      return;
    }
    const chunk = db.prepare(
      `SELECT count(*),
         count(*) FILTER (WHERE typeof(kind) = 'text' AND typeof(observed_at) = 'text' AND typeof(t) = 'text' AND typeof(bytes) = 'blob'
                            AND instr(kind, char(10)) = 0 AND instr(observed_at, char(10)) = 0 AND instr(t, char(10)) = 0),
         group_concat(seq, ','),
         group_concat(kind || char(10) || observed_at || char(10) || t, char(10)),
         ${RECORDS_FRAMED('bytes')}
       FROM ${rowsInSeqOrder(`seq, kind, observed_at, ${group.time} AS t, bytes`, `(${group.where}) AND seq >= ? AND seq < ?`)}`,
    ).raw();
    for (let from = bounds.from; from < bounds.to; from += CHUNK) {
      const to = Math.min(bounds.to, from + CHUNK);
      const rows = groupChunk(chunk, from, to);
      if (rows !== undefined) yield* rows;
      else yield* rowByRow(db, group, 'seq', { from, to });
    }
  } finally {
    db.close();
  }
}

/** The group's records with from <= seq < to, from one aggregate query; undefined: read them row by row. */
function groupChunk(chunk: Database.Statement, from: number, to: number): TimedRecord[] | undefined {
  let got: [number, number, string | null, string | null, Buffer | null];
  try {
    got = chunk.get(from, to) as typeof got;
  } catch {
    return undefined; // row by row: an error then comes at its own row
  }
  const [count, wellTyped, seqs, columns, framed] = got;
  if (count === 0) return [];
  if (wellTyped !== count || seqs === null || columns === null || framed === null) return undefined;
  const seqList = seqs.split(',');
  const texts = columns.split('\n');
  if (seqList.length !== count || texts.length !== 3 * count) return undefined;
  const bytes = splitFramed(framed);
  if (!Array.isArray(bytes) || bytes.length !== count) return undefined;
  const out: TimedRecord[] = new Array<TimedRecord>(count);
  for (let i = 0; i < count; i++) {
    const seq = Number(seqList[i]);
    if (!Number.isSafeInteger(seq)) return undefined;
    out[i] = { seq, kind: texts[3 * i] as string, observedAt: texts[3 * i + 1] as string, time: texts[3 * i + 2] as string, bytes: bytes[i] as Uint8Array };
  }
  return out;
}

/** The group's records one row at a time, in `order` (optionally only from <= seq < to). */
function* rowByRow(db: Database.Database, group: (typeof GROUPS)[number], order: string, range?: { from: number; to: number }): Generator<TimedRecord> {
  const where = range === undefined ? group.where : `(${group.where}) AND seq >= ? AND seq < ?`;
  const statement = db.prepare(`SELECT seq, kind, observed_at, ${group.time} AS t, bytes FROM records WHERE ${where} ORDER BY ${order}`).raw();
  for (const row of range === undefined ? statement.iterate() : statement.iterate(range.from, range.to)) {
    const [seq, kind, observedAt, time, bytes] = row as [number, string, string, unknown, Uint8Array];
    yield { seq, kind, observedAt, time: typeof time === 'string' ? time : observedAt, bytes };
  }
}

export function* recordsByTime(storeDir: string): Generator<TimedRecord> {
  const path = join(storeDir, EVIDENCE_FILE);
  const raw = groupByTime(path, GROUPS[0]);
  const derived = groupByTime(path, GROUPS[1]);
  try {
    let a = raw.next();
    let b = derived.next();
    while (!a.done || !b.done) {
      if (b.done || (!a.done && (a.value.time < b.value.time || (a.value.time === b.value.time && a.value.seq < b.value.seq)))) {
        yield a.value as TimedRecord;
        a = raw.next();
      } else {
        yield b.value;
        b = derived.next();
      }
    }
  } catch (err) {
    if (err instanceof CustodyError) throw err;
    throw new CustodyError(ErrorCodes.IO, `reading the store for the timeline failed: ${messageOf(err)}`, { where: path, cause: err });
  } finally {
    raw.return(undefined);
    derived.return(undefined);
  }
}
