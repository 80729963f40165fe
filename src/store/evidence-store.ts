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
import { CustodyError, ErrorCodes } from '../errors.js';
import { certifyNextKey, epochKeyName, generateEd25519, rawPublicKey, type SigningKey } from '../integrity/keys.js';
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
import { applyDurablePragmas, retryWhileBusy } from './pragmas.js';
import { BatchBuilder, type RecordBatch } from './record-batch.js';
import { RecordCommitter, wrapWriteError, type CheckpointRequest } from './record-committer.js';
import { EVIDENCE_FORMAT_VERSION, EVIDENCE_SCHEMA } from './schema.js';
import { frontierFromDatabase, WriterThreadCommits, type CommitMode, type WriterHost } from './writer-thread-commits.js';

export type { CheckpointRow, RecordRow };
export { applyDurablePragmas };

export const EVIDENCE_FILE = 'evidence.sqlite';
export const STATE_FILE = 'state.sqlite';
export const LOCK_FILE = 'writer.lock';
const STORE_SOURCE = 'custody.store';
const BLOB_CHUNK_BYTES = 1 << 20;
const PAGE_BYTES = 16384;
/**
 * The writer thread ('auto'): started when this many batches in a row fill up less than
 * STREAK_GAP_MS apart, i.e. a burst that has already lasted longer than starting a thread takes
 * (~100 ms: an agent reading a few thousand existing lines at start is done before a thread could
 * help); stopped after WRITER_IDLE_MS without a full batch, so an idle agent does not carry a second
 * JavaScript heap (~8.5 MB RSS).
 */
const WRITER_START_AFTER_FULL_BATCHES = 32;
const STREAK_GAP_MS = 250;
const WRITER_IDLE_MS = 5_000;
/** A batch is also full at this many bytes (long lines), whatever policy.batchRecords says. */
const MAX_BATCH_BYTES = 8 << 20;

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
  /**
   * Where commits run: 'auto' (default) moves them to a writer thread during bursts, so SQLite's
   * work and the hashing overlap the preparation of the next batch, and back when idle; 'on' from
   * the start; 'off' always in this thread. The evidence written is the same either way.
   */
  writerThread?: 'auto' | 'on' | 'off';
  /** 'auto': how long without a full batch before the writer thread is stopped (default 5 s). */
  writerIdleMs?: number;
}

export interface CreateOptions extends OpenOptions {
  host: string;
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
  private readonly dbPath: string;
  /** Commits in this thread; owns the Merkle frontier except while the writer thread has it. */
  private readonly committer: RecordCommitter;
  /** Records appended since the last batch was sealed. */
  private builder: BatchBuilder;
  /** Sealed batches not yet committed nor posted (in seq order, all before the builder's). */
  private queued: RecordBatch[] = [];
  private committedSize: number;
  private key: SigningKey;
  private lastCheckpointRow: CheckpointRow | undefined;
  private epochStartedMs: number;
  private batchTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private timestampMs = Number.NaN;
  private timestampText = '';
  private readonly writerMode: 'auto' | 'on' | 'off';
  /** Commits in the writer thread (bursts, or always with writerThread 'on'). */
  private readonly writerCommits: WriterThreadCommits;
  private fullBatchStreak = 0;
  private lastFullBatchMono = Number.NEGATIVE_INFINITY;
  private maxPageCount: number | undefined;
  /** appendSealed: the record waits for its checkpoint instead of filling a batch. */
  private holdBatch = false;

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
      // Before anything is written (WAL mode included): fixed for the file's life. 16 KiB pages
      // take about 15% off SQLite's cost per appended record against the default 4 KiB (fewer WAL
      // frames, write calls and interior pages per commit; scripts/bench/store.mjs); any SQLite
      // reads any page size, so nothing else changes.
      db.pragma(`page_size = ${PAGE_BYTES}`);
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
    this.writerMode = options.writerThread ?? 'auto';
    const dbPath = join(dir, EVIDENCE_FILE);
    this.dbPath = dbPath;
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

    const frontier = frontierFromDatabase(this.db);
    this.committedSize = frontier.size;
    this.builder = new BatchBuilder(frontier.size);
    this.lastCheckpointRow = this.lastCheckpointInDatabase();
    this.committer = new RecordCommitter(this.db, dbPath, this.origin, frontier);
    this.writerCommits = new WriterThreadCommits(this.writerHost(), options.writerIdleMs ?? WRITER_IDLE_MS);

    this.key = this.recoverSigningKey(need('enrollment_public_key'));
    this.epochStartedMs = this.clock.nowMs();
    if (this.writerMode === 'on') this.writerCommits.startWriter(true);
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
      if (!sealed && this.committedSize === boundarySize) {
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
    this.maxPageCount = pages;
    this.writerCommits?.setMaxPageCount(pages);
  }

  /** Bytes the evidence file uses now (pages × page size, WAL not included). */
  databaseBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    return pageSize * pages;
  }

  /** Records committed (the tree's size). */
  get size(): number {
    this.writerCommits.pollWriter();
    return this.committedSize;
  }
  /** Records appended and not yet committed (queued here or being committed by the writer thread). */
  get pendingCount(): number {
    this.writerCommits.pollWriter();
    // Every record appended and not committed has a seq in [committed size, next seq).
    return this.builder.nextSeq - this.committedSize;
  }
  get nextSequence(): number {
    return this.builder.nextSeq;
  }
  /** Where commits run now: 'active' in the writer thread, 'starting' while it starts, else 'off'. */
  get writerThreadState(): 'off' | 'starting' | 'active' {
    return this.writerCommits.state;
  }

  private lastCheckpointInDatabase(): CheckpointRow | undefined {
    return this.db.prepare('SELECT * FROM checkpoints ORDER BY id DESC LIMIT 1').get() as CheckpointRow | undefined;
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
    const seq = this.builder.nextSeq;
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
    this.builder.add(text, kind, observedAt);
    if (this.holdBatch) return seq;
    if (this.builder.count >= this.policy.batchRecords || this.builder.bytes >= MAX_BATCH_BYTES) {
      this.batchFull();
    } else if (this.batchTimer === undefined) {
      this.batchTimer = setTimeout(() => this.backgroundFlush(), this.policy.batchMs);
      this.batchTimer.unref();
    }
    return seq;
  }

  /** A batch filled up: commit it here, or post it to the writer thread and go on. */
  private batchFull(): void {
    const now = performance.now();
    this.fullBatchStreak = now - this.lastFullBatchMono <= STREAK_GAP_MS ? this.fullBatchStreak + 1 : 1;
    this.lastFullBatchMono = now;
    if (this.writerMode === 'auto' && this.writerCommits.canStart && this.fullBatchStreak >= WRITER_START_AFTER_FULL_BATCHES) {
      this.writerCommits.startWriter(false);
    }
    this.writerCommits.pollWriter();
    if (this.writerCommits.active) this.writerCommits.commitThroughWriter('policy', this.key, false);
    else this.commit('policy');
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
    return this.committedSize;
  }

  /** Signs a checkpoint if the policy says one is due (also when nothing is queued). Returns it, or undefined. */
  maybeCheckpoint(): CheckpointRow | undefined {
    return this.commit('policy');
  }

  /**
   * Appends one record and commits it in the same transaction as a checkpoint that covers it (the
   * agent's stop, a key's certificate): never committed alone, so the record without its seal is a
   * trace of a removed seal (src/verify/seal-traces.ts), not an accident of batching or a crash.
   */
  appendSealed<K extends RecordKind>(kind: K, source: string, payload: PayloadOf<K>, key: SigningKey = this.key): CheckpointRow {
    this.holdBatch = true;
    try {
      this.append(kind, source, payload);
    } finally {
      this.holdBatch = false;
    }
    const row = this.commit('always', key);
    if (!row) throw new CustodyError(ErrorCodes.STORE_WRITE_FAILED, 'no checkpoint was written', { where: this.dir });
    return row;
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

  /** The newest checkpoint committed or asked for (the policy counts from it). */
  private newestCheckpoint(): { tree_size: number; created_at: string } | undefined {
    return this.writerCommits.newestAskedCheckpoint() ?? this.lastCheckpointRow;
  }

  private checkpointDue(size: number): boolean {
    const last = this.newestCheckpoint();
    if (last === undefined) return true;
    const newRecords = size - last.tree_size;
    if (newRecords <= 0) return false;
    return newRecords >= this.policy.checkpointRecords || this.clock.nowMs() - Date.parse(last.created_at) >= this.policy.checkpointMs;
  }

  /** The checkpoint `mode` asks for over a tree of `size` records, or undefined. */
  private checkpointRequest(mode: CommitMode, key: SigningKey, size: number): CheckpointRequest | undefined {
    const newest = this.newestCheckpoint();
    const alreadySealed = newest !== undefined && newest.tree_size === size;
    const wanted = mode === 'force' || (mode === 'always' ? !alreadySealed : this.checkpointDue(size));
    return wanted ? { createdAt: formatTimestamp(this.clock.nowMs()), key } : undefined;
  }

  /** Seals the builder's records into `queued`. */
  private sealBuilder(): void {
    const batch = this.builder.seal();
    if (batch === undefined) return;
    this.queued.push(batch);
  }

  /**
   * The one write path: queued records, plus a checkpoint signed by `key` when `mode` asks for one
   * ('policy': when due; 'always': unless this size is already sealed; 'force': regardless).
   * Synchronous: when it returns, everything appended before it is committed (or it threw, and
   * everything is still queued).
   */
  private commit(mode: CommitMode, key: SigningKey = this.key): CheckpointRow | undefined {
    this.assertOpen();
    if (this.batchTimer !== undefined) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
    }
    this.writerCommits.pollWriter();
    if (this.writerCommits.active) return this.writerCommits.commitThroughWriter(mode, key, true);
    this.sealBuilder();
    const checkpoint = this.checkpointRequest(mode, key, this.builder.nextSeq);
    if (this.queued.length === 0 && checkpoint === undefined) return undefined;
    const outcome = this.committer.commit(this.queued, checkpoint);
    for (const batch of this.queued) this.builder.recycle(batch);
    this.queued = [];
    this.committedSize = outcome.size;
    if (outcome.checkpoint === undefined) return undefined;
    this.lastCheckpointRow = outcome.checkpoint;
    return outcome.checkpoint;
  }

  /** The store's fields the writer thread's bookkeeping (writer-thread-commits.ts) reads and moves. */
  private writerHost(): WriterHost {
    // Accessors, not copies: the store and the bookkeeping move the same queue, size and checkpoint.
    const store = this;
    return {
      db: this.db,
      dbPath: this.dbPath,
      origin: this.origin,
      writerMode: this.writerMode,
      builder: this.builder,
      committer: this.committer,
      onBackgroundError: this.onBackgroundError,
      get closed() {
        return store.closed;
      },
      get lastFullBatchMono() {
        return store.lastFullBatchMono;
      },
      get maxPageCount() {
        return store.maxPageCount;
      },
      get queued() {
        return store.queued;
      },
      set queued(batches) {
        store.queued = batches;
      },
      get committedSize() {
        return store.committedSize;
      },
      set committedSize(size) {
        store.committedSize = size;
      },
      get lastCheckpointRow() {
        return store.lastCheckpointRow;
      },
      set lastCheckpointRow(row) {
        store.lastCheckpointRow = row;
      },
      sealBuilder: () => this.sealBuilder(),
      checkpointRequest: (mode, key, size) => this.checkpointRequest(mode, key, size),
      commitHere: (mode, key) => this.commit(mode, key),
      lastCheckpointInDatabase: () => this.lastCheckpointInDatabase(),
    };
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
    // The retiring key seals the certificate of its successor, in the certificate's own transaction.
    this.appendSealed(
      'key.rotate',
      STORE_SOURCE,
      {
        epoch,
        public_key: Buffer.from(nextKey.publicKeyRaw).toString('base64'),
        key_name: nextKey.name,
        certificate: Buffer.from(certificate).toString('base64'),
      },
      this.key,
    );
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
    const exists = this.db.prepare('SELECT 1 FROM blobs WHERE sha256 = ? AND chunk = 0');
    const insert = this.db.prepare('INSERT INTO blobs(sha256, chunk, data) VALUES (?, ?, ?)');
    const where = join(this.dir, EVIDENCE_FILE);
    // IMMEDIATE, with the existence check inside: the writer thread may commit on its own
    // connection at the same time (pragmas.ts says why a deferred read-then-write would fail).
    const store = this.db.transaction(() => {
      if (exists.get(sha256)) return;
      let chunk = 0;
      for (let offset = 0; offset < content.length || chunk === 0; offset += BLOB_CHUNK_BYTES, chunk++) {
        insert.run(sha256, chunk, content.subarray(offset, offset + BLOB_CHUNK_BYTES));
      }
    }).immediate;
    try {
      retryWhileBusy(store, `storing blob ${sha256}`, where);
    } catch (err) {
      throw wrapWriteError(err, `storing blob ${sha256}`, where);
    }
    return sha256;
  }

  /**
   * Stores a blob whose SHA-256 the caller already has (a large file hashed as it was read), from
   * `chunks`: a function that reads the content from its start, in pieces of any size, each time it
   * is called (a busy retry reads it again). The content is cut into the same 1 MiB chunks as
   * putBlob's and hashed again as it is stored; when that hash is not `sha256` (the file changed
   * since it was hashed) nothing is stored and it throws E_IO. Memory stays at one
   * chunk whatever the blob's size. Returns the size stored (0 when the content was there already).
   */
  putBlobStreaming(sha256: string, chunks: () => Iterable<Uint8Array>): number {
    this.assertOpen();
    const exists = this.db.prepare('SELECT 1 FROM blobs WHERE sha256 = ? AND chunk = 0');
    const insert = this.db.prepare('INSERT INTO blobs(sha256, chunk, data) VALUES (?, ?, ?)');
    const where = join(this.dir, EVIDENCE_FILE);
    let stored = 0;
    const store = this.db.transaction(() => {
      stored = 0;
      if (exists.get(sha256)) return;
      const hash = createHash('sha256');
      const pending = Buffer.allocUnsafe(BLOB_CHUNK_BYTES);
      let fill = 0;
      let chunk = 0;
      const put = (data: Uint8Array): void => {
        insert.run(sha256, chunk++, data);
      };
      for (const piece of chunks()) {
        hash.update(piece);
        stored += piece.length;
        let at = 0;
        // Whole chunks straight from the piece when nothing is pending; the rest through `pending`.
        while (at < piece.length) {
          if (fill === 0 && piece.length - at >= BLOB_CHUNK_BYTES) {
            put(piece.subarray(at, at + BLOB_CHUNK_BYTES));
            at += BLOB_CHUNK_BYTES;
            continue;
          }
          const n = Math.min(BLOB_CHUNK_BYTES - fill, piece.length - at);
          pending.set(piece.subarray(at, at + n), fill);
          fill += n;
          at += n;
          if (fill === BLOB_CHUNK_BYTES) {
            put(pending);
            fill = 0;
          }
        }
      }
      if (fill > 0 || chunk === 0) put(pending.subarray(0, fill));
      const got = hash.digest('hex');
      if (got !== sha256) {
        throw new CustodyError(ErrorCodes.IO, `the content changed while it was being preserved (SHA-256 ${sha256} when hashed, ${got} when stored); nothing of it was stored`, {
          where,
        });
      }
    }).immediate;
    try {
      retryWhileBusy(store, `storing blob ${sha256}`, where);
    } catch (err) {
      // A CustodyError (the content changed, the file could not be read) passes through as it is.
      throw wrapWriteError(err, `storing blob ${sha256}`, where);
    }
    return stored;
  }

  /** The content of a stored blob, one 1 MiB chunk at a time, in order (nothing when there is no such blob). */
  *blobChunks(sha256: string): Generator<Buffer> {
    this.assertOpen();
    // One row per call, not an open iterator: the caller appends records (and may commit on this
    // connection) between chunks, which better-sqlite3 refuses while an iterator is open.
    const read = this.db.prepare('SELECT data FROM blobs WHERE sha256 = ? AND chunk = ?').pluck();
    for (let chunk = 0; ; chunk++) {
      const data = read.get(sha256, chunk) as Buffer | undefined;
      if (data === undefined) return;
      yield data;
    }
  }

  /** Stores an RFC 3161 token obtained for a checkpoint. */
  attachTimestamp(checkpointId: number, tsaUrl: string, genTime: string, token: Uint8Array): void {
    this.assertOpen();
    const where = join(this.dir, EVIDENCE_FILE);
    const what = `storing the time stamp of checkpoint ${checkpointId}`;
    const insert = this.db.prepare('INSERT INTO tsa_tokens(checkpoint_id, tsa_url, gen_time, token) VALUES (?, ?, ?, ?)');
    try {
      retryWhileBusy(() => insert.run(checkpointId, tsaUrl, genTime, token), what, where);
    } catch (err) {
      throw wrapWriteError(err, what, where);
    }
  }

  /** Committed records from `fromSeq` on, in seq order (for status, proofs and tests). */
  *records(fromSeq = 0): IterableIterator<RecordRow> {
    for (const row of this.db.prepare('SELECT seq, kind, observed_at, leaf_hash, bytes FROM records WHERE seq >= ? ORDER BY seq').iterate(fromSeq)) {
      yield row as RecordRow;
    }
  }

  /** Committed records of the given kinds from `fromSeq` on, in seq order (a scan of the table: for imports and tools, not hot paths). */
  *recordsOfKinds(kinds: readonly string[], fromSeq = 0): IterableIterator<RecordRow> {
    if (kinds.length === 0) return;
    const sql = `SELECT seq, kind, observed_at, leaf_hash, bytes FROM records WHERE seq >= ? AND kind IN (${kinds.map(() => '?').join(', ')}) ORDER BY seq`;
    for (const row of this.db.prepare(sql).iterate(fromSeq, ...kinds)) yield row as RecordRow;
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
      this.writerCommits.stopWriter();
      if (options.finalCheckpoint) this.checkpoint();
      else this.commit('policy');
    } finally {
      if (this.batchTimer !== undefined) clearTimeout(this.batchTimer);
      this.writerCommits.discardWriter();
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
