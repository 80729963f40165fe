/**
 * Reading records in chunks of seqs, each handed over by SQLite as a few joined values instead of
 * one JS value per column per row (store-reader.ts for the verifier, timeline-reader.ts for the
 * collector's timeline). What both need: the seq range worth walking, and the records' bytes back
 * out of one `group_concat(octet_length(bytes) || ':' || bytes)` blob.
 */
import type Database from 'better-sqlite3';

/**
 * [MIN(seq), MAX(seq) + 1) when the file is large enough to hold that many records; undefined when
 * the seqs are far sparser (a forged seq of 2^50 must not make a reader walk 2^40 empty chunks) or
 * cannot be read (then the caller reads row by row, and a read error comes where it always has).
 */
export function denseSeqBounds(db: Database.Database): { from: number; to: number } | undefined {
  let min: number | null;
  let max: number | null;
  let fileBytes: number;
  try {
    // Two queries: SQLite looks up MIN or MAX alone in the index, but both in one query scan the
    // whole table (and a damaged page would fail it before a single row is read).
    min = (db.prepare('SELECT MIN(seq) FROM records').raw().get() as [number | null])[0];
    max = (db.prepare('SELECT MAX(seq) FROM records').raw().get() as [number | null])[0];
    fileBytes = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  } catch {
    return undefined;
  }
  if (min === null || max === null) return { from: 0, to: 0 };
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max)) return undefined;
  // Every row holds at least a 32-byte leaf hash: a dense store spans at most size/32 seqs.
  return max - min + 1 > fileBytes / 16 ? undefined : { from: min, to: max + 1 };
}

/**
 * The `count` records of a `<decimal length>:<bytes>` run (views into it), or undefined when it is
 * not exactly that: the caller then reads those rows one by one.
 */
export function splitLengthFramed(framed: Uint8Array, count: number): Uint8Array[] | undefined {
  const out: Uint8Array[] = new Array<Uint8Array>(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    let length = 0;
    let digit = framed[at];
    if (digit === undefined || digit === 0x3a) return undefined;
    while (digit !== 0x3a) {
      if (digit === undefined || digit < 0x30 || digit > 0x39 || length > 1e9) return undefined;
      length = length * 10 + (digit - 0x30);
      digit = framed[++at];
    }
    const start = at + 1;
    at = start + length;
    if (at > framed.length) return undefined;
    out[i] = framed.subarray(start, at);
  }
  return at === framed.length ? out : undefined;
}
