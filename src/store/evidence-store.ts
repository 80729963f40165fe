/**
 * The write-once evidence store: one SQLite file of canonical records in gapless `seq` order, a
 * Merkle tree over them, signed checkpoints, and the key epochs that sign them.
 *
 * The store enforces its own invariants: it assigns `seq`, validates every record against its
 * schema before accepting it, stores exact canonical bytes, and has no code path that updates or
 * deletes evidence (the database's triggers refuse both, and refuse out-of-order records too).
 */
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { CustodyError, ErrorCodes, messageOf } from '../errors.js';
import { formatCheckpointBody, signNote } from '../integrity/checkpoint.js';
import { certifyNextKey, epochKeyName, generateEd25519, rawPublicKey, type SigningKey } from '../integrity/keys.js';
import { MerkleFrontier, leafHashPrefixed } from '../integrity/merkle.js';
import { decodeCanonical } from '../records/canonical.js';
import { recordText } from '../records/record-bytes.js';
import { formatTimestamp, RECORD_VERSION, validatePayload, type EvidenceRecord, type PayloadOf, type RecordKind } from '../records/schema.js';
import {
  enrollmentFor,
  eraseEpochKey,
  listEpochKeys,
  readEpochKey,
  writeEnrollment,
  writeEpochKey,
  type Enrollment,
} from './keyfiles.js';
import type { CheckpointRow, RecordRow } from '../verify/reader.js';
import { EVIDENCE_FORMAT_VERSION, EVIDENCE_SCHEMA } from './schema.js';

export type { CheckpointRow, RecordRow };

export const EVIDENCE_FILE = 'evidence.sqlite';
export const STATE_FILE = 'state.sqlite';
export const LOCK_FILE = 'writer.lock';
const STORE_SOURCE = 'custody.store';
const BLOB_CHUNK_BYTES = 1 << 20;
const INSERT_CHUNK = 64;
/**
 * Records are encoded into arenas of this size: each record's bytes sit one byte after a 0x00 the
 * store writes, so the RFC 6962 leaf hash is taken over the record in place (no copy), and one
 * allocation serves hundreds of records. An arena is only ever appended to; a new one replaces it
 * when full, and the old one lives on while queued records still point into it.
 */
const ARENA_BYTES = 256 * 1024;
/** Records longer than this (in UTF-16 units) are measured exactly instead of reserving 3 bytes per unit. */
const MEASURE_ABOVE = 16 * 1024;

export interface StorePolicy {
  /** Commit when this many records are queued… */
  batchRecords: number;
  /** …or this long after the first of them was queued, whichever comes first. */
  batchMs: number;
  /** Sign a checkpoint when this many records have been committed since the last one… */
  checkpointRecords: number;
  /** …or when this long has passed since the last one and there is anything new. */
  checkpointMs: number;
  /** Move to a new key epoch this often (the old key is erased), even when idle. */
  epochMs: number;
}

export const DEFAULT_POLICY: StorePolicy = {
  batchRecords: 256,
  batchMs: 250,
  checkpointRecords: 1000,
  checkpointMs: 10_000,
  epochMs: 24 * 60 * 60 * 1000,
};

export interface OpenOptions {
  clock?: Clock;
  /** The kernel's boot id (Linux: /proc/sys/kernel/random/boot_id); read by the caller. */
  bootId?: string;
  policy?: Partial<StorePolicy>;
  /** Called with errors from the background batch timer (a failed commit keeps its records queued). */
  onBackgroundError?: (err: CustodyError) => void;
  /**
   * Caps the evidence file's size (SQLite max_page_count). When reached, commits fail with
   * E_STORE_WRITE_FAILED (SQLITE_FULL) exactly as on a full disk, and nothing queued is lost.
   */
  maxDatabaseBytes?: number;
}

export interface CreateOptions extends OpenOptions {
  host: string;
}

interface PendingRecord {
  seq: number;
  kind: string;
  observedAt: string;
  leaf: Uint8Array;
  bytes: Uint8Array;
}

/** Pragmas for durability: a committed batch survives power loss and kill -9. */
export function applyDurablePragmas(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
}

function wrapWriteError(err: unknown, what: string, where: string): CustodyError {
  if (err instanceof CustodyError) return err;
  const code = (err as { code?: string }).code ?? '';
  return new CustodyError(ErrorCodes.STORE_WRITE_FAILED, `${what} failed (${code || 'error'}): ${messageOf(err)}`, { where, cause: err });
}

/** Takes the single-writer lock of a store folder; a lock left by a dead process is taken over. */
function acquireWriterLock(dir: string): string {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw wrapWriteError(err, 'taking the writer lock', path);
      const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
        throw new CustodyError(ErrorCodes.STORE_LOCKED, `store is being written by process ${holder}`, { where: dir });
      }
      unlinkSync(path);
    }
  }
  throw new CustodyError(ErrorCodes.STORE_LOCKED, 'could not take the writer lock', { where: dir });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class EvidenceStore {
  readonly dir: string;
  readonly storeId: string;
  readonly host: string;
  readonly origin: string;
  readonly policy: StorePolicy;

  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly bootId: string;
  private readonly lockPath: string;
  private readonly onBackgroundError: ((err: CustodyError) => void) | undefined;
  private frontier: MerkleFrontier;
  private readonly insertRecord: Database.Statement;
  private readonly insertRecordChunk: Database.Statement;
  private readonly insertCheckpoint: Database.Statement;
  private readonly commitTransaction: (batch: PendingRecord[], checkpoint: Omit<CheckpointRow, 'id'> | undefined) => number | undefined;
  private pending: PendingRecord[] = [];
  private nextSeq: number;
  private key: SigningKey;
  private lastCheckpointRow: CheckpointRow | undefined;
  private epochStartedMs: number;
  private batchTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private timestampMs = Number.NaN;
  private timestampText = '';
  private arena: Buffer = Buffer.allocUnsafeSlow(0);
  private arenaUsed = 0;

  /** Creates a new store folder with its enrollment key (epoch 0). */
  static create(dir: string, options: CreateOptions): { store: EvidenceStore; enrollment: Enrollment } {
    const clock = options.clock ?? systemClock;
    if (existsSync(join(dir, EVIDENCE_FILE))) {
      throw new CustodyError(ErrorCodes.STORE_EXISTS, 'a store already exists here', { where: dir });
    }
    if (!/^[A-Za-z0-9._-]+$/.test(options.host)) {
      throw new CustodyError(ErrorCodes.USAGE, `host name ${JSON.stringify(options.host)} may hold only letters, digits, '.', '_' and '-'`);
    }
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    const storeId = randomBytes(16).toString('hex');
    const origin = `custody/${options.host}/${storeId}`;
    const createdAt = formatTimestamp(clock.nowMs());
    const { privateKey, publicKeyRaw } = generateEd25519();
    const enrollment = enrollmentFor(storeId, options.host, origin, publicKeyRaw, createdAt);

    const dbPath = join(dir, EVIDENCE_FILE);
    const db = new Database(dbPath);
    try {
      applyDurablePragmas(db);
      db.transaction(() => {
        for (const statement of EVIDENCE_SCHEMA) db.exec(statement);
        // Partial indexes: only these rare kinds are indexed, so appends of everything else pay nothing.
        db.exec(`CREATE INDEX records_key_rotations ON records(seq) WHERE kind = 'key.rotate';`);
        db.exec(`CREATE INDEX records_gaps ON records(seq) WHERE kind = 'agent.gap';`);
        const put = db.prepare('INSERT INTO meta(name, value) VALUES (?, ?)');
        put.run('format_version', EVIDENCE_FORMAT_VERSION);
        put.run('store_id', storeId);
        put.run('host', options.host);
        put.run('origin', origin);
        put.run('enrollment_public_key', enrollment.public_key);
        put.run('created_at', createdAt);
      })();
    } finally {
      db.close();
    }
    writeEpochKey(dir, 0, privateKey);
    writeEnrollment(dir, enrollment);
    return { store: EvidenceStore.open(dir, options), enrollment };
  }

  /** Opens an existing store for writing, finishing any key rotation a crash interrupted. */
  static open(dir: string, options: OpenOptions = {}): EvidenceStore {
    const dbPath = join(dir, EVIDENCE_FILE);
    if (!existsSync(dbPath)) throw new CustodyError(ErrorCodes.STORE_NOT_FOUND, 'no evidence store here', { where: dir });
    const lockPath = acquireWriterLock(dir);
    try {
      return new EvidenceStore(dir, lockPath, options);
    } catch (err) {
      unlinkSync(lockPath);
      throw err;
    }
  }

  private constructor(dir: string, lockPath: string, options: OpenOptions) {
    this.dir = dir;
    this.lockPath = lockPath;
    this.clock = options.clock ?? systemClock;
    this.bootId = options.bootId ?? '';
    this.policy = { ...DEFAULT_POLICY, ...options.policy };
    this.onBackgroundError = options.onBackgroundError;
    const dbPath = join(dir, EVIDENCE_FILE);
    this.db = new Database(dbPath, { fileMustExist: true });
    applyDurablePragmas(this.db);
    if (options.maxDatabaseBytes !== undefined) this.setMaxDatabaseBytes(options.maxDatabaseBytes);

    const meta = new Map(this.db.prepare('SELECT name, value FROM meta').all().map((r) => {
      const row = r as { name: string; value: string };
      return [row.name, row.value] as const;
    }));
    const need = (name: string): string => {
      const value = meta.get(name);
      if (value === undefined) throw new CustodyError(ErrorCodes.STORE_CORRUPT, `store metadata lacks ${name}`, { where: dbPath });
      return value;
    };
    if (need('format_version') !== EVIDENCE_FORMAT_VERSION) {
      throw new CustodyError(ErrorCodes.STORE_CORRUPT, `store format ${need('format_version')} is not supported (expected ${EVIDENCE_FORMAT_VERSION})`, { where: dbPath });
    }
    this.storeId = need('store_id');
    this.host = need('host');
    this.origin = need('origin');

    this.frontier = new MerkleFrontier();
    for (const row of this.db.prepare('SELECT leaf_hash FROM records ORDER BY seq').raw().iterate()) {
      this.frontier.push((row as [Uint8Array])[0]);
    }
    this.nextSeq = this.frontier.size;
    this.lastCheckpointRow = this.db.prepare('SELECT * FROM checkpoints ORDER BY id DESC LIMIT 1').get() as CheckpointRow | undefined;

    this.insertRecord = this.db.prepare('INSERT INTO records(seq, kind, observed_at, leaf_hash, bytes) VALUES (?, ?, ?, ?, ?)');
    // Rows go in INSERT_CHUNK at a time: one statement per 64 rows instead of per row roughly halves
    // SQLite's share of an append (measured in scripts/bench/store.mjs).
    this.insertRecordChunk = this.db.prepare(
      `INSERT INTO records(seq, kind, observed_at, leaf_hash, bytes) VALUES ${Array(INSERT_CHUNK).fill('(?, ?, ?, ?, ?)').join(', ')}`,
    );
    const nextSeqInDb = this.db.prepare('SELECT COALESCE(MAX(seq) + 1, 0) FROM records').pluck();
    this.insertCheckpoint = this.db.prepare('INSERT INTO checkpoints(tree_size, epoch, created_at, note) VALUES (?, ?, ?, ?)');
    // Records and, when one is due, the checkpoint that seals them commit in one transaction: one
    // synchronous commit instead of two, and never a checkpoint without its records or vice versa.
    const chunkArgs: unknown[] = new Array<unknown>(INSERT_CHUNK * 5).fill(undefined);
    this.commitTransaction = this.db.transaction((batch: PendingRecord[], checkpoint: Omit<CheckpointRow, 'id'> | undefined) => {
      if (batch.length > 0) {
        // The store's own invariant, checked where it cannot race: the batch continues the table.
        const expected = nextSeqInDb.get() as number;
        if (batch[0]!.seq !== expected) {
          throw new CustodyError(ErrorCodes.STORE_CORRUPT, `the store holds records up to seq ${expected - 1}, so seq ${batch[0]!.seq} cannot follow: another writer changed it`, { where: dbPath });
        }
        let i = 0;
        for (; i + INSERT_CHUNK <= batch.length; i += INSERT_CHUNK) {
          // One array for every chunk: SQLite copies the values when binding them.
          const args = chunkArgs;
          let k = 0;
          for (let j = i; j < i + INSERT_CHUNK; j++) {
            const r = batch[j]!;
            args[k++] = r.seq;
            args[k++] = r.kind;
            args[k++] = r.observedAt;
            args[k++] = r.leaf;
            args[k++] = r.bytes;
          }
          this.insertRecordChunk.run(args);
        }
        chunkArgs.fill(undefined); // holds no record past its commit
        for (; i < batch.length; i++) {
          const r = batch[i]!;
          this.insertRecord.run(r.seq, r.kind, r.observedAt, r.leaf, r.bytes);
        }
      }
      if (checkpoint === undefined) return undefined;
      return Number(this.insertCheckpoint.run(checkpoint.tree_size, checkpoint.epoch, checkpoint.created_at, checkpoint.note).lastInsertRowid);
    });

    this.key = this.recoverSigningKey(need('enrollment_public_key'));
    this.epochStartedMs = this.clock.nowMs();
  }

  /**
   * Works out the current epoch from the log itself (the last `key.rotate` record) and loads its key.
   * A rotation cut short by a crash is finished or rolled back so the chain stays unbroken.
   */
  private recoverSigningKey(enrollmentKeyB64: string): SigningKey {
    const lastRotate = this.db.prepare(`SELECT seq, bytes FROM records WHERE kind = 'key.rotate' ORDER BY seq DESC LIMIT 1`).get() as
      | { seq: number; bytes: Uint8Array }
      | undefined;
    let epoch = 0;
    let publicKeyRaw = new Uint8Array(Buffer.from(enrollmentKeyB64, 'base64'));
    if (lastRotate) {
      const record = decodeCanonical(lastRotate.bytes) as EvidenceRecord;
      const payload = record.payload as PayloadOf<'key.rotate'>;
      epoch = payload.epoch;
      publicKeyRaw = new Uint8Array(Buffer.from(payload.public_key, 'base64'));
    }
    const onDisk = listEpochKeys(this.dir);
    // A key newer than the log knows was never certified: a crash came before its key.rotate record.
    for (const e of onDisk) if (e > epoch) eraseEpochKey(this.dir, e);
    const privateKey = readEpochKey(this.dir, epoch);
    if (!Buffer.from(rawPublicKey(privateKey)).equals(Buffer.from(publicKeyRaw))) {
      throw new CustodyError(ErrorCodes.KEY_INVALID, `the epoch ${epoch} key on disk does not match the key the log certifies`, { where: this.dir });
    }
    const key: SigningKey = { name: epochKeyName(this.storeId, epoch), epoch, privateKey, publicKeyRaw };
    if (epoch > 0 && onDisk.includes(epoch - 1) && lastRotate) {
      // The crash came after the key.rotate record but before the old key sealed it and was erased.
      const boundarySize = lastRotate.seq + 1;
      const sealed = this.db.prepare('SELECT 1 FROM checkpoints WHERE tree_size = ? AND epoch = ?').get(boundarySize, epoch - 1);
      if (!sealed && this.frontier.size === boundarySize) {
        const previous: SigningKey = {
          name: epochKeyName(this.storeId, epoch - 1),
          epoch: epoch - 1,
          privateKey: readEpochKey(this.dir, epoch - 1),
          publicKeyRaw: rawPublicKey(readEpochKey(this.dir, epoch - 1)),
        };
        this.commit('always', previous);
      }
      eraseEpochKey(this.dir, epoch - 1);
    }
    return key;
  }

  /** Changes the size cap at run time (see OpenOptions.maxDatabaseBytes); 0 removes it. */
  setMaxDatabaseBytes(bytes: number): void {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = bytes > 0 ? Math.max(1, Math.floor(bytes / pageSize)) : 4294967294;
    this.db.pragma(`max_page_count = ${pages}`);
  }

  /** Bytes the evidence file uses now (pages × page size, WAL not included). */
  databaseBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    return pageSize * pages;
  }

  get size(): number {
    return this.frontier.size;
  }
  get pendingCount(): number {
    return this.pending.length;
  }
  get nextSequence(): number {
    return this.nextSeq;
  }
  get epoch(): number {
    return this.key.epoch;
  }
  get lastCheckpoint(): CheckpointRow | undefined {
    return this.lastCheckpointRow;
  }
  get isClosed(): boolean {
    return this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new CustodyError(ErrorCodes.STORE_CLOSED, 'the store is closed', { where: this.dir });
  }

  /**
   * Queues one record and returns the seq it will have. The record is validated and canonicalised
   * now, so a bad record is refused at the door rather than discovered by a verifier later.
   * Commits when the batch is full (which may throw E_STORE_WRITE_FAILED: the records stay queued).
   */
  append<K extends RecordKind>(kind: K, source: string, payload: PayloadOf<K>): number {
    this.assertOpen();
    const seq = this.nextSeq;
    const nowMs = this.clock.nowMs();
    if (nowMs !== this.timestampMs) {
      // Bursts append many records per millisecond: format the time once per millisecond.
      this.timestampMs = nowMs;
      this.timestampText = formatTimestamp(nowMs);
    }
    const observedAt = this.timestampText;
    const monoNs = this.clock.monoNs().toString();
    // The store builds the envelope itself (seq, times, host), so only the caller's part needs checking.
    validatePayload(kind, payload);
    const text = recordText({ v: RECORD_VERSION, seq, kind, observed_at: observedAt, mono_ns: monoNs, boot_id: this.bootId, host: this.host, source, payload });
    // 0x00 || canonical bytes, written once into the arena: the leaf hash is over exactly this.
    const room = 1 + (text.length > MEASURE_ABOVE ? Buffer.byteLength(text, 'utf8') : 3 * text.length);
    if (this.arenaUsed + room > this.arena.length) {
      this.arena = Buffer.allocUnsafeSlow(Math.max(ARENA_BYTES, room));
      this.arenaUsed = 0;
    }
    const arena = this.arena;
    const start = this.arenaUsed;
    arena[start] = 0x00;
    const end = start + 1 + arena.write(text, start + 1, 'utf8');
    this.arenaUsed = end;
    const leaf = leafHashPrefixed(arena.subarray(start, end));
    this.pending.push({ seq, kind, observedAt, leaf, bytes: arena.subarray(start + 1, end) });
    this.nextSeq = seq + 1;
    if (this.pending.length >= this.policy.batchRecords) {
      this.flush();
    } else if (this.batchTimer === undefined) {
      this.batchTimer = setTimeout(() => this.backgroundFlush(), this.policy.batchMs);
      this.batchTimer.unref();
    }
    return seq;
  }

  private backgroundFlush(): void {
    this.batchTimer = undefined;
    if (this.closed) return;
    try {
      this.flush();
    } catch (err) {
      const wrapped = wrapWriteError(err, 'background commit', this.dir);
      if (this.onBackgroundError) this.onBackgroundError(wrapped);
    }
  }

  /**
   * Commits every queued record in one transaction, together with a checkpoint when the policy says
   * one is due. On failure nothing is lost: the records stay queued and the tree is unchanged.
   */
  flush(): number {
    this.commit('policy');
    return this.frontier.size;
  }

  /** Signs a checkpoint if the policy says one is due (also when nothing is queued). Returns it, or undefined. */
  maybeCheckpoint(): CheckpointRow | undefined {
    return this.commit('policy');
  }

  /**
   * Commits what is queued and signs a checkpoint of the whole tree with the current epoch key.
   * Without `force`, a checkpoint of a size already sealed is not repeated.
   */
  checkpoint(options: { force?: boolean } = {}): CheckpointRow {
    const row = this.commit(options.force ? 'force' : 'always');
    const last = row ?? this.lastCheckpointRow;
    if (!last) throw new CustodyError(ErrorCodes.STORE_WRITE_FAILED, 'no checkpoint was written', { where: this.dir });
    return last;
  }

  private checkpointDue(size: number): boolean {
    const last = this.lastCheckpointRow;
    if (last === undefined) return true;
    const newRecords = size - last.tree_size;
    if (newRecords <= 0) return false;
    return newRecords >= this.policy.checkpointRecords || this.clock.nowMs() - Date.parse(last.created_at) >= this.policy.checkpointMs;
  }

  /**
   * The one write path: queued records, plus a checkpoint signed by `key` when `mode` asks for one
   * ('policy': when due; 'always': unless this size is already sealed; 'force': regardless).
   */
  private commit(mode: 'policy' | 'always' | 'force', key: SigningKey = this.key): CheckpointRow | undefined {
    this.assertOpen();
    if (this.batchTimer !== undefined) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
    }
    const batch = this.pending;
    const next = batch.length > 0 ? this.frontier.clone() : this.frontier;
    for (const r of batch) next.push(r.leaf);
    const alreadySealed = this.lastCheckpointRow !== undefined && this.lastCheckpointRow.tree_size === next.size;
    const wanted = mode === 'force' || (mode === 'always' ? !alreadySealed : this.checkpointDue(next.size));
    let checkpoint: Omit<CheckpointRow, 'id'> | undefined;
    if (wanted) {
      const createdAt = formatTimestamp(this.clock.nowMs());
      const body = formatCheckpointBody({ origin: this.origin, treeSize: next.size, rootHash: next.root(), extensions: [`time ${createdAt}`] });
      checkpoint = { tree_size: next.size, epoch: key.epoch, created_at: createdAt, note: signNote(body, key) };
    }
    if (batch.length === 0 && checkpoint === undefined) return undefined;
    let id: number | undefined;
    try {
      id = this.commitTransaction(batch, checkpoint);
    } catch (err) {
      const what = batch.length > 0 ? `committing records ${batch[0]?.seq}..${batch.at(-1)?.seq}` : `writing the checkpoint of size ${next.size}`;
      throw wrapWriteError(err, what, join(this.dir, EVIDENCE_FILE));
    }
    this.pending = [];
    this.frontier = next;
    if (checkpoint === undefined || id === undefined) return undefined;
    this.lastCheckpointRow = { id, ...checkpoint };
    return this.lastCheckpointRow;
  }

  /** True when the current epoch has lasted `policy.epochMs`. */
  epochDue(): boolean {
    return this.clock.nowMs() - this.epochStartedMs >= this.policy.epochMs;
  }

  /**
   * Moves to the next key epoch. Order matters for crash safety: seal what exists with the old key,
   * persist the new key, append its certificate, seal that with the old key, then erase the old key.
   */
  rotateKey(): SigningKey {
    this.assertOpen();
    this.checkpoint();
    const next = generateEd25519();
    const epoch = this.key.epoch + 1;
    const nextKey: SigningKey = { name: epochKeyName(this.storeId, epoch), epoch, privateKey: next.privateKey, publicKeyRaw: next.publicKeyRaw };
    writeEpochKey(this.dir, epoch, next.privateKey);
    const certificate = certifyNextKey(this.storeId, this.key, nextKey);
    this.append('key.rotate', STORE_SOURCE, {
      epoch,
      public_key: Buffer.from(nextKey.publicKeyRaw).toString('base64'),
      key_name: nextKey.name,
      certificate: Buffer.from(certificate).toString('base64'),
    });
    this.commit('always', this.key); // the retiring key seals the certificate of its successor
    const retired = this.key.epoch;
    this.key = nextKey;
    this.epochStartedMs = this.clock.nowMs();
    eraseEpochKey(this.dir, retired);
    return nextKey;
  }

  /**
   * Stores a blob (a preserved file's content) in 1 MiB chunks under its SHA-256 and returns the
   * hex digest. Storing the same content twice stores it once.
   */
  putBlob(content: Uint8Array): string {
    this.assertOpen();
    const sha256 = createHash('sha256').update(content).digest('hex');
    const exists = this.db.prepare('SELECT 1 FROM blobs WHERE sha256 = ? AND chunk = 0').get(sha256);
    if (exists) return sha256;
    const insert = this.db.prepare('INSERT INTO blobs(sha256, chunk, data) VALUES (?, ?, ?)');
    try {
      this.db.transaction(() => {
        let chunk = 0;
        for (let offset = 0; offset < content.length || chunk === 0; offset += BLOB_CHUNK_BYTES, chunk++) {
          insert.run(sha256, chunk, content.subarray(offset, offset + BLOB_CHUNK_BYTES));
        }
      })();
    } catch (err) {
      throw wrapWriteError(err, `storing blob ${sha256}`, join(this.dir, EVIDENCE_FILE));
    }
    return sha256;
  }

  /** Stores an RFC 3161 token obtained for a checkpoint. */
  attachTimestamp(checkpointId: number, tsaUrl: string, genTime: string, token: Uint8Array): void {
    this.assertOpen();
    try {
      this.db.prepare('INSERT INTO tsa_tokens(checkpoint_id, tsa_url, gen_time, token) VALUES (?, ?, ?, ?)').run(checkpointId, tsaUrl, genTime, token);
    } catch (err) {
      throw wrapWriteError(err, `storing the time stamp of checkpoint ${checkpointId}`, join(this.dir, EVIDENCE_FILE));
    }
  }

  /** Committed records from `fromSeq` on, in seq order (for status, proofs and tests). */
  *records(fromSeq = 0): IterableIterator<RecordRow> {
    for (const row of this.db.prepare('SELECT seq, kind, observed_at, leaf_hash, bytes FROM records WHERE seq >= ? ORDER BY seq').iterate(fromSeq)) {
      yield row as RecordRow;
    }
  }

  /** Leaf hash of a committed record, for inclusion and consistency proofs. */
  leafHashAt(seq: number): Uint8Array {
    const row = this.db.prepare('SELECT leaf_hash FROM records WHERE seq = ?').raw().get(seq) as [Uint8Array] | undefined;
    if (!row) throw new CustodyError(ErrorCodes.PROOF_INVALID, `no record with seq ${seq}`, { where: this.dir });
    return row[0];
  }

  /** Commits what is queued, optionally seals it with a final checkpoint, and releases the store. */
  close(options: { finalCheckpoint?: boolean } = {}): void {
    if (this.closed) return;
    try {
      if (options.finalCheckpoint) this.checkpoint();
      else this.commit('policy');
    } finally {
      if (this.batchTimer !== undefined) clearTimeout(this.batchTimer);
      this.closed = true;
      this.db.close();
      try {
        unlinkSync(this.lockPath);
      } catch {
        // Already gone: nothing to release.
      }
    }
  }
}
