/**
 * The one write path for records and checkpoints: leaf-hashes a batch, extends the Merkle tree,
 * signs the checkpoint that is due, and commits records and checkpoint in one transaction.
 *
 * It runs either in the store's own thread or in the writer thread (writer-thread-worker.ts), with
 * a connection of its own there; the owner of the Merkle frontier is whichever runs it. On failure
 * nothing changes: the frontier stays as it was and the caller keeps the batch.
 */
import type Database from 'better-sqlite3';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import { formatCheckpointBody, signNote } from '../integrity/checkpoint.js';
import type { SigningKey } from '../integrity/keys.js';
import { leafHashPrefixed, MerkleFrontier } from '../integrity/merkle.js';
import type { CheckpointRow } from '../verify/reader.js';
import { retryWhileBusy } from './pragmas.js';
import type { RecordBatch } from './record-batch.js';

/** Rows go in this many at a time: one statement per 64 rows instead of per row roughly halves SQLite's share of an append (scripts/bench/store.mjs). */
const INSERT_CHUNK = 64;

/** A checkpoint to sign over the tree as it will be after the batch, and when it was asked for. */
export interface CheckpointRequest {
  createdAt: string;
  key: SigningKey;
}

export interface CommitOutcome {
  /** Tree size after the commit. */
  size: number;
  checkpoint: CheckpointRow | undefined;
}

export function wrapWriteError(err: unknown, what: string, where: string): CustodyError {
  if (err instanceof CustodyError) return err;
  const code = (err as { code?: string }).code ?? '';
  return new CustodyError(ErrorCodes.STORE_WRITE_FAILED, `${what} failed (${code || 'error'}): ${messageOf(err)}`, { where, cause: err });
}

export class RecordCommitter {
  private frontier: MerkleFrontier;
  private readonly insertRecord: Database.Statement;
  private readonly insertRecordChunk: Database.Statement;
  private readonly insertCheckpoint: Database.Statement;
  private readonly transaction: (rows: Uint8Array[], batches: readonly RecordBatch[], checkpoint: Omit<CheckpointRow, 'id'> | undefined) => number | undefined;

  constructor(
    db: Database.Database,
    private readonly dbPath: string,
    private readonly origin: string,
    frontier: MerkleFrontier,
  ) {
    this.frontier = frontier;
    this.insertRecord = db.prepare('INSERT INTO records(seq, kind, observed_at, leaf_hash, bytes) VALUES (?, ?, ?, ?, ?)');
    this.insertRecordChunk = db.prepare(
      `INSERT INTO records(seq, kind, observed_at, leaf_hash, bytes) VALUES ${Array(INSERT_CHUNK).fill('(?, ?, ?, ?, ?)').join(', ')}`,
    );
    this.insertCheckpoint = db.prepare('INSERT INTO checkpoints(tree_size, epoch, created_at, note) VALUES (?, ?, ?, ?)');
    const nextSeqInDb = db.prepare('SELECT COALESCE(MAX(seq) + 1, 0) FROM records').pluck();
    const chunkArgs: unknown[] = new Array<unknown>(INSERT_CHUNK * 5).fill(undefined);
    // `leaves` holds one leaf hash per record of `batches`, in order. BEGIN IMMEDIATE: the
    // transaction reads (the seq check) before it writes, and a deferred one would then fail at
    // once, without waiting, when another connection wrote in between (pragmas.ts).
    this.transaction = db.transaction((leaves: Uint8Array[], batches: readonly RecordBatch[], checkpoint: Omit<CheckpointRow, 'id'> | undefined) => {
      if (leaves.length > 0) {
        // The store's own invariant, checked where it cannot race: the batch continues the table.
        const expected = nextSeqInDb.get() as number;
        const first = batches[0]!.firstSeq;
        if (first !== expected) {
          throw new CustodyError(ErrorCodes.STORE_CORRUPT, `the store holds records up to seq ${expected - 1}, so seq ${first} cannot follow: another writer changed it`, { where: dbPath });
        }
        const args = chunkArgs; // one array for every chunk: SQLite copies the values when binding them
        let k = 0;
        let leaf = 0;
        try {
          for (const batch of batches) {
            const data = Buffer.from(batch.data.buffer, batch.data.byteOffset, batch.data.byteLength);
            let start = 0;
            for (let i = 0; i < batch.ends.length; i++) {
              const end = batch.ends[i]!;
              const seq = batch.firstSeq + i;
              const bytes = data.subarray(start + 1, end);
              const leafHash = leaves[leaf++];
              start = end;
              if (k === 0 && leaves.length - leaf + 1 < INSERT_CHUNK) {
                // Fewer than a chunk left: row by row.
                this.insertRecord.run(seq, batch.kinds[i], batch.observedAt[i], leafHash, bytes);
                continue;
              }
              args[k++] = seq;
              args[k++] = batch.kinds[i];
              args[k++] = batch.observedAt[i];
              args[k++] = leafHash;
              args[k++] = bytes;
              if (k === args.length) {
                this.insertRecordChunk.run(args);
                k = 0;
              }
            }
          }
        } finally {
          chunkArgs.fill(undefined); // holds no record past its commit
        }
      }
      if (checkpoint === undefined) return undefined;
      return Number(this.insertCheckpoint.run(checkpoint.tree_size, checkpoint.epoch, checkpoint.created_at, checkpoint.note).lastInsertRowid);
    }).immediate;
  }

  get size(): number {
    return this.frontier.size;
  }

  /** The frontier, for handing over to the other thread (the committer must not be used until it is given back). */
  frontierState(): ReturnType<MerkleFrontier['toState']> {
    return this.frontier.toState();
  }

  adoptFrontier(frontier: MerkleFrontier): void {
    this.frontier = frontier;
  }

  /**
   * Commits `batches` (consecutive, continuing the tree) and, when asked, a checkpoint of the tree
   * after them, all in one transaction. Throws E_STORE_WRITE_FAILED (or E_STORE_CORRUPT when the
   * table does not end where the tree does); then nothing was written and nothing changed here.
   */
  commit(batches: readonly RecordBatch[], checkpoint: CheckpointRequest | undefined): CommitOutcome {
    let expectedSeq = this.frontier.size;
    for (const batch of batches) {
      if (batch.firstSeq !== expectedSeq) {
        throw new CustodyError(ErrorCodes.STORE_CORRUPT, `a batch starting at seq ${batch.firstSeq} cannot follow a tree of ${expectedSeq} records`, { where: this.dbPath });
      }
      expectedSeq += batch.ends.length;
    }
    const leaves: Uint8Array[] = [];
    const next = expectedSeq > this.frontier.size ? this.frontier.clone() : this.frontier;
    for (const batch of batches) {
      let start = 0;
      for (const end of batch.ends) {
        const leaf = leafHashPrefixed(batch.data.subarray(start, end));
        leaves.push(leaf);
        next.push(leaf);
        start = end;
      }
    }
    let row: Omit<CheckpointRow, 'id'> | undefined;
    if (checkpoint !== undefined) {
      const body = formatCheckpointBody({ origin: this.origin, treeSize: next.size, rootHash: next.root(), extensions: [`time ${checkpoint.createdAt}`] });
      row = { tree_size: next.size, epoch: checkpoint.key.epoch, created_at: checkpoint.createdAt, note: signNote(body, checkpoint.key) };
    }
    if (leaves.length === 0 && row === undefined) return { size: next.size, checkpoint: undefined };
    let id: number | undefined;
    const first = batches[0]?.firstSeq;
    const what = leaves.length > 0 ? `committing records ${first}..${next.size - 1}` : `writing the checkpoint of size ${next.size}`;
    try {
      id = retryWhileBusy(() => this.transaction(leaves, batches, row), what, this.dbPath);
    } catch (err) {
      throw wrapWriteError(err, what, this.dbPath);
    }
    this.frontier = next;
    return { size: next.size, checkpoint: row === undefined || id === undefined ? undefined : { id, ...row } };
  }
}
