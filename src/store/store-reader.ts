/**
 * Read-only access to a store's evidence database, for the verifier, status and snapshots.
 * Opens the file read-only so that verifying never changes what is verified.
 */
import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import { HASH_SIZE } from '../integrity/merkle.js';
import type { BlobChunkRow, CheckpointRow, RecordRangeSource, RecordRow, StoreReader, TsaTokenRow } from '../verify/reader.js';
import { BUSY_TIMEOUT_MS } from './pragmas.js';
import { splitFramed } from '../vault/segment.js';
import { denseSeqBounds, RECORDS_FRAMED, rowsInSeqOrder, seqIsRowid } from './chunks.js';
import { EVIDENCE_FILE } from './evidence-store.js';

/** Seqs per aggregate read of the verifier's hot path (recordRows). */
const RECORD_CHUNK = 1024;

/** SQLite result codes that mean the file itself is damaged rather than unreadable. */
const CORRUPTION_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_INDEX', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_VTAB']);

export function isCorruptionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && CORRUPTION_CODES.has(code);
}

function wrapReadError(err: unknown, where: string): CustodyError {
  if (err instanceof CustodyError) return err;
  const code = isCorruptionError(err) ? ErrorCodes.STORE_CORRUPT : ErrorCodes.IO;
  return new CustodyError(code, `reading the store failed: ${messageOf(err)}`, { where, cause: err });
}

export class SqliteStoreReader implements StoreReader {
  readonly location: string;
  private readonly db: Database.Database;
  private framedStatement: Database.Statement | undefined;
  private chunkStatement: Database.Statement | undefined;
  /** seqIsRowid of this reader's snapshot, asked at the first chunk. */
  private seqIsRowid: boolean | undefined;
  /** The store folder, when the reader reads a file (not a snapshot in memory). */
  private readonly storeDir: string | undefined;

  /**
   * A store snapshot held in memory (the bytes of an evidence.sqlite in rollback-journal mode), read
   * the same way; `location` names it in messages. For a bundle read without a folder.
   */
  static fromBytes(snapshot: Uint8Array, location: string): SqliteStoreReader {
    return new SqliteStoreReader(location, snapshot);
  }

  /**
   * A reader of the store folder whose SQLite page cache holds at most `cacheKib` KiB. The
   * default (better-sqlite3's build: 16 MB) suits a verifier that reads a store once and exits; a
   * long-lived process that reads the newest records over and over (the agent's shipper) would
   * fill it with pages it never reads again, and the memory stays in the process after close.
   */
  static withCache(storeDir: string, cacheKib: number): SqliteStoreReader {
    return new SqliteStoreReader(storeDir, undefined, cacheKib);
  }

  /** `snapshot`: see fromBytes; then `storeDir` is only the name used in messages. `cacheKib`: see withCache. */
  constructor(storeDir: string, snapshot?: Uint8Array, cacheKib?: number) {
    const path = snapshot === undefined ? join(storeDir, EVIDENCE_FILE) : storeDir;
    this.location = path;
    this.storeDir = snapshot === undefined ? storeDir : undefined;
    if (snapshot === undefined && (!existsSync(path) || !statSync(path).isFile())) {
      throw new CustodyError(ErrorCodes.STORE_NOT_FOUND, 'no evidence store here', { where: storeDir });
    }
    try {
      this.db =
        snapshot === undefined
          ? new Database(path, { readonly: true, fileMustExist: true })
          : new Database(Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength), { readonly: true });
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      if (cacheKib !== undefined) this.db.pragma(`cache_size = -${Math.max(1, Math.floor(cacheKib))}`);
      // Everything this reader returns comes from one snapshot of the file: a store verified while
      // its agent writes must not look truncated because sqlite_sequence was read after the records
      // (every such read in its own transaction gave record.tail_truncated on an honest live store,
      // and a checkpoint committed between reading the checkpoints and their counter looked deleted).
      // Under WAL the read transaction never blocks the writer.
      this.db.exec('BEGIN');
    } catch (err) {
      throw wrapReadError(err, path);
    }
    try {
      this.db.prepare('SELECT COUNT(*) FROM meta').get(); // the snapshot is taken at the first read
    } catch {
      // A damaged file: the reads that follow report it where the verifier expects it (store.corrupt).
    }
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw wrapReadError(err, this.location);
    }
  }

  meta(): Map<string, string> {
    return this.guard(() => new Map((this.db.prepare('SELECT name, value FROM meta').raw().all() as [string, string][]).map(([k, v]) => [k, v])));
  }

  highWaterSeq(): number | undefined {
    return this.guard(() => {
      const row = this.db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'records'`).raw().get() as [number] | undefined;
      return row?.[0];
    });
  }

  sqliteSequence(): Map<string, number> {
    return this.guard(() => new Map(this.db.prepare('SELECT name, seq FROM sqlite_sequence').raw().all() as [string, number][]));
  }

  *records(): Iterable<RecordRow> {
    try {
      yield* this.recordRows();
    } catch (err) {
      throw wrapReadError(err, this.location);
    }
  }

  /**
   * Every record row in seq order (with `range`, only those with `from <= seq < to`): the
   * verifier's hot path. The seqs are read in chunks of RECORD_CHUNK, each chunk handed over by
   * SQLite as a few values (recordChunk): every value costs a JS string or Buffer, and one per
   * column per row cost more than the rest of reading. A chunk that is not plainly well-typed and
   * gapless, or that fails to read, is read again row by row (rowByRow), so the verifier sees exactly
   * what is stored, and a read error comes after the same rows, at the same row, either way. A
   * store whose seqs are far sparser than its file could hold (a forged seq of 2^50) is read row by
   * row from the start, so no one can make the reader walk empty chunks.
   */
  private *recordRows(range?: { from: number; to: number }): Generator<RecordRow> {
    const bounds = range ?? denseSeqBounds(this.db);
    if (bounds === undefined) {
      yield* this.rowByRow();
      return;
    }
    for (let from = bounds.from; from < bounds.to; from += RECORD_CHUNK) {
      const to = Math.min(bounds.to, from + RECORD_CHUNK);
      const rows = this.recordChunk(from, to);
      if (rows !== undefined) yield* rows;
      else yield* this.rowByRow({ from, to });
    }
  }

  /**
   * Rows [from, to) from one aggregate query: their count, how many are plainly well-typed, the
   * seq range, the leaf hashes joined, the bytes framed as `<length>:<bytes>`, and kind and
   * observed_at joined by newlines. `||`, group_concat and CAST … AS BLOB copy bytes as they are
   * (NUL and invalid UTF-8 included). Undefined (read row by row instead) unless every row is
   * well-typed, no kind or observed_at holds a newline, the seqs have no gap, and the parts parse;
   * and always when seq is not the table's rowid (seqIsRowid: else a seq written twice where the
   * next is missing would pass for a gapless chunk, and the reader would renumber the rows).
   */
  private recordChunk(from: number, to: number): RecordRow[] | undefined {
    this.seqIsRowid ??= seqIsRowid(this.db);
    if (!this.seqIsRowid) return undefined;
    let got: [number, number, number | null, number | null, Buffer | null, Buffer | null, string | null];
    try {
      this.chunkStatement ??= this.db
        .prepare(
          `SELECT count(*),
             count(*) FILTER (WHERE typeof(kind) = 'text' AND typeof(observed_at) = 'text' AND instr(kind, char(10)) = 0 AND instr(observed_at, char(10)) = 0
                                AND typeof(leaf_hash) = 'blob' AND length(leaf_hash) = ${HASH_SIZE} AND typeof(bytes) = 'blob'),
             min(seq), max(seq),
             CAST(group_concat(leaf_hash, '') AS BLOB),
             ${RECORDS_FRAMED('bytes')},
             group_concat(kind || char(10) || observed_at, char(10))
           FROM ${rowsInSeqOrder('seq, kind, observed_at, leaf_hash, bytes', 'seq >= ? AND seq < ?')}`,
        )
        .raw();
      got = this.chunkStatement.get(from, to) as typeof got;
    } catch {
      return undefined; // read row by row: an error then comes at its own row
    }
    const [count, wellTyped, minSeq, maxSeq, leaves, framed, columns] = got;
    if (count === 0) return [];
    if (wellTyped !== count || minSeq === null || maxSeq === null || maxSeq - minSeq + 1 !== count || leaves === null || framed === null || columns === null) return undefined;
    if (leaves.length !== count * HASH_SIZE) return undefined;
    const texts = columns.split('\n');
    if (texts.length !== 2 * count) return undefined;
    const bytes = splitFramed(framed);
    if (!Array.isArray(bytes) || bytes.length !== count) return undefined;
    const rows: RecordRow[] = new Array<RecordRow>(count);
    for (let i = 0; i < count; i++) {
      rows[i] = { seq: minSeq + i, kind: texts[2 * i] as string, observed_at: texts[2 * i + 1] as string, leaf_hash: leaves.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE), bytes: bytes[i] as Uint8Array };
    }
    return rows;
  }

  /**
   * Rows one by one, as three values each (kind and observed_at joined by a newline, leaf_hash and
   * bytes joined); a row whose columns are not of the types the schema says (or whose kind holds a
   * newline) is read again column by column.
   */
  private *rowByRow(range?: { from: number; to: number }): Generator<RecordRow> {
    const joined = this.db.prepare(
      `SELECT seq,
              CASE WHEN typeof(kind) = 'text' AND typeof(observed_at) = 'text' AND instr(kind, char(10)) = 0 THEN kind || char(10) || observed_at END,
              CASE WHEN typeof(leaf_hash) = 'blob' AND length(leaf_hash) = ${HASH_SIZE} AND typeof(bytes) = 'blob' THEN CAST(leaf_hash || bytes AS BLOB) END
       FROM records ${range === undefined ? '' : 'WHERE seq >= ? AND seq < ?'} ORDER BY seq`,
    );
    let single: Database.Statement | undefined;
    for (const row of range === undefined ? joined.raw().iterate() : joined.raw().iterate(range.from, range.to)) {
      const [seq, columns, blob] = row as [number, string | null, Buffer | null];
      if (columns === null || blob === null) {
        single ??= this.db.prepare('SELECT seq, kind, observed_at, leaf_hash, bytes FROM records WHERE seq = ?').raw();
        const [s, kind, observed_at, leaf_hash, bytes] = single.get(seq) as [number, string, string, Uint8Array, Uint8Array];
        yield { seq: s, kind, observed_at, leaf_hash, bytes };
        continue;
      }
      const nl = columns.indexOf('\n');
      yield { seq, kind: columns.slice(0, nl), observed_at: columns.slice(nl + 1), leaf_hash: blob.subarray(0, HASH_SIZE), bytes: blob.subarray(HASH_SIZE) };
    }
  }

  /** The rows with `from <= seq < to`, as the verifier's hot path reads them (recordRows), in seq order. */
  *recordRowsBetween(from: number, to: number): Iterable<RecordRow> {
    try {
      yield* this.recordRows({ from, to });
    } catch (err) {
      throw wrapReadError(err, this.location);
    }
  }

  /**
   * Lets the verifier's worker threads read this store's records themselves, each with its own
   * read-only connection to the same file, in seq ranges (record-pipeline.ts). Undefined for a
   * snapshot held in memory, for an empty store, and when the seqs are so sparse for the file's
   * size that most ranges would be empty (an honest store's seqs run 0..n-1 without a gap; a
   * forged seq of 2^50 must not make the verifier walk 2^40 empty ranges): those are read here.
   *
   * Another connection may see a later state of a store its agent is writing; the agent only ever
   * appends records above the highest seq, so the rows at or below this reader's `maxSeq` are the
   * same in both, and the workers read nothing above it.
   */
  recordRangeSource(): RecordRangeSource | undefined {
    if (this.storeDir === undefined) return undefined;
    // The same bounds the chunked reads walk (chunks.ts); an empty, sparse or unreadable store is read here.
    const bounds = denseSeqBounds(this.db);
    if (bounds === undefined || bounds.to === bounds.from) return undefined;
    return { storeDir: this.storeDir, minSeq: bounds.from, maxSeq: bounds.to - 1, rows: (from: number, to: number) => this.recordRowsBetween(from, to) };
  }

  /**
   * The same rows as records(), in arrays of up to `size`. On a read error the rows read before it
   * are returned first, then the error is thrown, exactly where records() would have thrown it.
   */
  *recordBatches(size: number): Iterable<RecordRow[]> {
    let batch: RecordRow[] = [];
    try {
      for (const row of this.recordRows()) {
        batch.push(row);
        if (batch.length >= size) {
          yield batch;
          batch = [];
        }
      }
    } catch (err) {
      if (batch.length > 0) yield batch;
      throw wrapReadError(err, this.location);
    }
    if (batch.length > 0) yield batch;
  }

  /** Records with `from <= seq < to`, in order (the vault shipper reads only what it has not shipped). */
  *recordRange(from: number, to: number): Iterable<RecordRow> {
    try {
      for (const row of this.db.prepare('SELECT seq, kind, observed_at, leaf_hash, bytes FROM records WHERE seq >= ? AND seq < ? ORDER BY seq').raw().iterate(from, to)) {
        const [seq, kind, observed_at, leaf_hash, bytes] = row as [number, string, string, Uint8Array, Uint8Array];
        yield { seq, kind, observed_at, leaf_hash, bytes };
      }
    } catch (err) {
      throw wrapReadError(err, this.location);
    }
  }

  /**
   * Records [from, to) framed as a vault segment's body (src/vault/segment.ts: `<length>:<bytes>\n`
   * each, in seq order), with how many there are and their observed_at range. SQLite frames them
   * into one blob: about a third of the CPU of handing every record over as a buffer of its own and
   * copying it again into the segment, on the path of every record the agent ships. `||` and
   * group_concat copy a blob's bytes as they are (NUL and invalid UTF-8 included) and CAST … AS BLOB
   * keeps them; the shipper hashes the very bytes it ships against the signed root anyway, so a
   * record framed wrongly could never be shipped.
   * `observedWellFormed`: every observed_at is text in the records' own form (RECORD_TIME_FORM in
   * records/schema.ts, written below as a GLOB over 27 bytes), which compares correctly as bytes, so
   * min and max are then the range; else it is unknown.
   */
  framedRecords(from: number, to: number): { framed: Uint8Array; count: number; minObservedAt: string | undefined; maxObservedAt: string | undefined; observedWellFormed: boolean } {
    return this.guard(() => {
      // Prepared once per reader: a round of the agent frames one segment per checkpoint it ships.
      this.framedStatement ??= this.db
        .prepare(
          `SELECT ${RECORDS_FRAMED('bytes')}, count(*), min(observed_at), max(observed_at),
             count(*) FILTER (WHERE NOT (typeof(observed_at) = 'text' AND octet_length(observed_at) = 27
               AND observed_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'))
           FROM ${rowsInSeqOrder('observed_at, bytes', 'seq >= ? AND seq < ?')}`,
        )
        .raw();
      const [framed, count, minObservedAt, maxObservedAt, malformed] = this.framedStatement.get(from, to) as [Uint8Array | null, number, unknown, unknown, number];
      return {
        framed: framed ?? new Uint8Array(0),
        count,
        minObservedAt: typeof minObservedAt === 'string' ? minObservedAt : undefined,
        maxObservedAt: typeof maxObservedAt === 'string' ? maxObservedAt : undefined,
        observedWellFormed: malformed === 0 && count > 0,
      };
    });
  }

  /** The leaf hashes of records with `seq < to`, in order, without their bytes. */
  *leafHashesBefore(to: number): Iterable<{ seq: number; leaf_hash: Uint8Array }> {
    try {
      for (const row of this.db.prepare('SELECT seq, leaf_hash FROM records WHERE seq < ? ORDER BY seq').raw().iterate(to)) {
        const [seq, leaf_hash] = row as [number, Uint8Array];
        yield { seq, leaf_hash };
      }
    } catch (err) {
      throw wrapReadError(err, this.location);
    }
  }

  /** How many records with `seq >= from`, their bytes, and the oldest one's observed_at (the vault lag in `agent status`). */
  recordsFromSummary(from: number): { records: number; bytes: number; oldestObservedAt: string | undefined } {
    return this.guard(() => {
      const row = this.db.prepare('SELECT COUNT(*), COALESCE(SUM(LENGTH(bytes)), 0) FROM records WHERE seq >= ?').raw().get(from) as [number, number];
      const oldest = this.db.prepare('SELECT observed_at FROM records WHERE seq >= ? ORDER BY seq LIMIT 1').raw().get(from) as [string] | undefined;
      return { records: row[0], bytes: row[1], oldestObservedAt: oldest?.[0] };
    });
  }

  /**
   * Checkpoints with `id > afterId`, or `tree_size > sizeAbove`, or an id in `ids`, by id: what the
   * vault shipper has not shipped or still needs, read through the indexes instead of every
   * checkpoint of a long-lived store on every round.
   */
  checkpointsForShipping(afterId: number, sizeAbove: number, ids: readonly number[]): CheckpointRow[] {
    return this.guard(() => {
      const rows = this.db.prepare('SELECT id, tree_size, epoch, created_at, note FROM checkpoints WHERE id > ? OR tree_size > ? ORDER BY id').all(afterId, sizeAbove) as CheckpointRow[];
      const have = new Set(rows.map((r) => r.id));
      const byId = this.db.prepare('SELECT id, tree_size, epoch, created_at, note FROM checkpoints WHERE id = ?');
      for (const id of ids) {
        if (have.has(id)) continue;
        const row = byId.get(id) as CheckpointRow | undefined;
        if (row !== undefined) rows.push(row);
        have.add(id);
      }
      return rows.sort((a, b) => a.id - b.id);
    });
  }

  /** Time stamp tokens with `id > afterId`, by id. */
  tsaTokensAfter(afterId: number): TsaTokenRow[] {
    return this.guard(() => this.db.prepare('SELECT id, checkpoint_id, tsa_url, gen_time, token FROM tsa_tokens WHERE id > ? ORDER BY id').all(afterId) as TsaTokenRow[]);
  }

  /** The largest tree size a checkpoint seals (0 without one). */
  sealedSize(): number {
    return this.guard(() => (this.db.prepare('SELECT COALESCE(MAX(tree_size), 0) FROM checkpoints').raw().get() as [number])[0]);
  }

  /** The SHA-256 of every preserved blob, without reading their data. */
  blobHashes(): string[] {
    return this.guard(() => (this.db.prepare('SELECT DISTINCT sha256 FROM blobs ORDER BY sha256').raw().all() as [string][]).map(([h]) => h));
  }

  /** One blob's bytes, its chunks in order. */
  blob(sha256: string): Uint8Array {
    return this.guard(() => {
      const chunks = this.db.prepare('SELECT data FROM blobs WHERE sha256 = ? ORDER BY chunk').raw().all(sha256) as [Uint8Array][];
      return new Uint8Array(Buffer.concat(chunks.map(([d]) => d)));
    });
  }

  /** How many records of each kind, counted by SQLite (for status; the verifier streams instead). */
  kindCounts(): Map<string, number> {
    return this.guard(() => new Map(this.db.prepare('SELECT kind, COUNT(*) FROM records GROUP BY kind').raw().all() as [string, number][]));
  }

  /** The record with the highest seq (its columns only), or undefined for an empty store. */
  lastRecord(): { seq: number; kind: string; observed_at: string } | undefined {
    return this.guard(() => this.db.prepare('SELECT seq, kind, observed_at FROM records ORDER BY seq DESC LIMIT 1').get() as { seq: number; kind: string; observed_at: string } | undefined);
  }

  /** The newest `limit` records of one kind, newest first (partial indexes make gaps and key rotations cheap). */
  latestOfKind(kind: string, limit: number): RecordRow[] {
    return this.guard(
      () => this.db.prepare('SELECT seq, kind, observed_at, leaf_hash, bytes FROM records WHERE kind = ? ORDER BY seq DESC LIMIT ?').all(kind, limit) as RecordRow[],
    );
  }

  checkpoints(): CheckpointRow[] {
    return this.guard(() => this.db.prepare('SELECT id, tree_size, epoch, created_at, note FROM checkpoints ORDER BY id').all() as CheckpointRow[]);
  }

  tsaTokens(): TsaTokenRow[] {
    return this.guard(() => this.db.prepare('SELECT id, checkpoint_id, tsa_url, gen_time, token FROM tsa_tokens ORDER BY id').all() as TsaTokenRow[]);
  }

  *blobChunks(): Iterable<BlobChunkRow> {
    try {
      for (const row of this.db.prepare('SELECT sha256, chunk, data FROM blobs ORDER BY sha256, chunk').iterate()) yield row as BlobChunkRow;
    } catch (err) {
      throw wrapReadError(err, this.location);
    }
  }

  close(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    this.db.close();
  }
}
