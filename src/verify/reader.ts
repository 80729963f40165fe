/**
 * What the verifier reads. The verifier is pure over this interface; the SQLite implementation
 * lives in src/store/store-reader.ts, and a bundle can supply another.
 */
export interface RecordRow {
  seq: number;
  kind: string;
  observed_at: string;
  leaf_hash: Uint8Array;
  bytes: Uint8Array;
}

export interface CheckpointRow {
  id: number;
  tree_size: number;
  epoch: number;
  created_at: string;
  note: string;
}

export interface TsaTokenRow {
  id: number;
  checkpoint_id: number;
  tsa_url: string;
  gen_time: string;
  token: Uint8Array;
}

export interface BlobChunkRow {
  sha256: string;
  chunk: number;
  data: Uint8Array;
}

export interface StoreReader {
  /** A path or name for messages. */
  readonly location: string;
  meta(): Map<string, string>;
  /** The highest seq the database ever allocated (SQLite's AUTOINCREMENT counter), if known. */
  highWaterSeq(): number | undefined;
  /**
   * SQLite's AUTOINCREMENT counters (`sqlite_sequence`: table name → highest id ever allocated),
   * e.g. `checkpoints` and `tsa_tokens`: deleted rows leave the counter above the ids that are left.
   * Empty when the store keeps none.
   */
  sqliteSequence(): Map<string, number>;
  /** Every record row in seq order. May throw when the underlying file is corrupt. */
  records(): Iterable<RecordRow>;
  /**
   * Optional: the same rows as records(), in arrays of up to `size` (the verifier's hot path reads
   * this way when it can). On a read error, the rows read before it come first, then the error.
   */
  recordBatches?(size: number): Iterable<RecordRow[]>;
  /**
   * Optional: lets the verifier's worker threads read the records themselves (record-pipeline.ts);
   * undefined when they cannot (the records are then read by this reader only).
   */
  recordRangeSource?(): RecordRangeSource | undefined;
  checkpoints(): CheckpointRow[];
  tsaTokens(): TsaTokenRow[];
  /** Blob chunks ordered by sha256, then chunk. */
  blobChunks(): Iterable<BlobChunkRow>;
}

/**
 * A store whose records worker threads can read in seq ranges, each over its own read-only
 * connection to the same SQLite file (src/store/store-reader.ts, opened from `storeDir`).
 */
export interface RecordRangeSource {
  storeDir: string;
  /** The lowest and highest seq in the reader's snapshot: nothing outside them is read. */
  minSeq: number;
  maxSeq: number;
  /** The rows with `from <= seq < to` in seq order, read by the reader itself (its snapshot). */
  rows(from: number, to: number): Iterable<RecordRow>;
}
