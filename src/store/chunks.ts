/**
 * Reading records in chunks of seqs, each handed over by SQLite as a few joined values instead of
 * one JS value per column per row (store-reader.ts for the verifier, timeline-reader.ts for the
 * collector's timeline). What both need: the seq range worth walking, and the records' bytes back
 * out of one blob framed as a vault segment's body is (`<length>:<bytes>\n` each: RECORDS_FRAMED,
 * read back with src/vault/segment.ts's splitFramed).
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
 * Whether the records table's `seq` is its rowid (the declared INTEGER PRIMARY KEY of a rowid
 * table): then every seq is a key of the table's B-tree, so none is there twice. A chunk read that
 * takes a chunk's seqs from its count, min and max (the verifier's) relies on it: a table rebuilt
 * without that key can hold one seq twice where the next is missing, and such a chunk looks
 * gapless. Asked of SQLite's planner rather than read from the schema's text, which an attacker
 * writes: INTEGER PRIMARY KEY DESC, WITHOUT ROWID, INT PRIMARY KEY and a UNIQUE index are all
 * searched through an index, and only a rowid alias as `INTEGER PRIMARY KEY (rowid=?)`.
 */
export function seqIsRowid(db: Database.Database): boolean {
  try {
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT seq FROM records WHERE seq = 0').all() as { detail: string }[];
    return plan.length === 1 && plan[0]?.detail === 'SEARCH records USING INTEGER PRIMARY KEY (rowid=?)';
  } catch {
    return false;
  }
}

/**
 * A chunk's rows as the FROM of an aggregate read: `columns` of the records with `where`, in seq
 * order. The aggregates over it (group_concat, RECORDS_FRAMED) take no ORDER BY of their own: each
 * `group_concat(… ORDER BY seq)` copied every row into a temporary B-tree and sorted it, although
 * the rowid search already yields seq order (half the CPU of a verifier's chunk read, three quarters
 * of a shipped segment's framing). SQLite keeps a FROM subquery's ORDER BY when the outer query uses
 * an aggregate other than count, min or max (its omit-noop-ORDER-BY rule), satisfies it from the
 * rowid search without a sort, and feeds every aggregate of the outer query the rows in that one
 * order, so the joined columns line up row by row. test/unit/chunks.test.ts checks both on the
 * SQLite we ship.
 */
export const rowsInSeqOrder = (columns: string, where: string): string => `(SELECT ${columns} FROM records WHERE ${where} ORDER BY seq)`;

/** The SQL of a chunk's records framed as a segment's body; `bytes` is the column or alias (FROM rowsInSeqOrder). */
export const RECORDS_FRAMED = (bytes: string): string => `CAST(group_concat(octet_length(${bytes}) || ':' || ${bytes} || char(10), '') AS BLOB)`;
