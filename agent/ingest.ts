/**
 * The agent's ingest engine: every line of every watched log, byte-exact, in order, sealed in the
 * evidence store; nothing lost or recorded twice across crashes and rotations.
 *
 * How it stays exact:
 * - The evidence store is the source of truth for where reading stopped (see tail/cursor.ts). On
 *   start the cursors are folded from the evidence (after a cached fold kept in the state
 *   database), so a kill -9 at any instant resumes at the first byte not committed.
 * - Files are followed by identity (device + inode) through an open handle: a renamed or deleted
 *   file is read to its end before it is let go, and finished with a `log.file` record (its hash).
 * - What cannot be read is an `agent.gap` record saying what, where and how much: a truncation, a
 *   rewrite, a file that vanished while the agent was down, content skipped by `startAt: 'end'`.
 * - One worker loop does all reading and appending; the file itself is the buffer, so a burst is
 *   read only as fast as the store commits (bounded memory). When the store cannot commit (disk
 *   full, EIO, read-only), reading stops, the queued records stay queued, and commits are retried
 *   with backoff until they succeed.
 *
 * Watching is one `fs.watch` (inotify on Linux) per folder that holds a followed file or that a
 * glob can reach (tail/folder-watch.ts): the kernel reports a write, a new name or a removed one in
 * it, and the loop looks at that path. Events only make reading prompt; correctness does not rest on them (every followed
 * path is re-checked every second and the globs are re-expanded every five, which also covers a
 * followed symlink whose target lives in a folder not watched). chokidar did the same job with a
 * stat per write and a re-read of the folder (readdirp, an lstat per entry) about once a second: a
 * third of the agent's time at a steady 1,000 lines/s (BENCHMARKS.md).
 *
 * Times that matter as evidence (the partial-line flush) come from the injected clock; file-system
 * heuristics (stability of a compressed file, the grace period of a rotated file) use the monotonic
 * clock.
 */
import fg from 'fast-glob';
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createGunzip } from 'node:zlib';
import type { Logger } from 'pino';
import type { Clock } from '../src/clock.js';
import { messageOf } from '../src/errors.js';
import { encodeRawText } from '../src/records/canonical.js';
import { formatTimestamp, type PayloadOf, type RecordKind } from '../src/records/schema.js';
import type { EvidenceStore } from '../src/store/evidence-store.js';
import type { StateStore } from '../src/store/state-store.js';
import {
  applyEffect,
  compressedKey,
  FILE_SOURCE_PREFIX,
  GONE_REASON,
  identityKey,
  SKIP_REASON,
  toCache,
  windowOf,
  type Cursor,
  type CursorEffect,
  type CursorMap,
} from './tail/cursor.js';
import { StoreAppender, type StoreBlocked } from './store-appender.js';
import { FolderWatchers } from './tail/folder-watch.js';
import { CURSOR_STATE_KEY, resumeFromEvidence } from './tail/resume.js';
import { Tail } from './tail/tail.js';

export interface IngestOptions {
  watch: string[];
  startAt: 'beginning' | 'end';
  partialLineFlushMs: number /* default 2000 */;
  maxLineBytes: number /* default 16 MiB; longer lines are recorded as consecutive partial records, never dropped */;
  maxPendingRecords: number /* backpressure threshold */;
  retry: { initialMs: number; maxMs: number };
}

export const DEFAULT_INGEST_OPTIONS: Omit<IngestOptions, 'watch'> = {
  startAt: 'beginning',
  partialLineFlushMs: 2000,
  maxLineBytes: 16 * 1024 * 1024,
  maxPendingRecords: 4096,
  retry: { initialMs: 500, maxMs: 30_000 },
};

export interface FileSourceStatus {
  path: string;
  dev: string;
  ino: string;
  committedOffset: number;
  size: number;
  lagBytes: number;
  lines: number;
  lastSeq?: number;
  state: 'following' | 'draining' | 'gone' | 'error';
  error?: string;
}

export interface IngestDeps {
  store: EvidenceStore;
  state: StateStore;
  logger: Logger;
  clock: Clock;
  /**
   * The agent's one appender to the store, shared with the live sources (agent/store-appender.ts);
   * without one the ingestor makes its own from its maxPendingRecords and retry options.
   */
  appender?: StoreAppender;
}

/** Bytes read per read call, and at most per file per loop turn (fairness between files). */
const READ_CHUNK_BYTES = 1 << 20;
const READ_BUDGET_BYTES = 8 << 20;
/** Every followed path is re-checked this often even without a watcher event. */
const POLL_MS = 1000;
/** Globs are re-expanded this often even without a watcher event. */
const RESCAN_MS = 5000;
/** A rotated (renamed or deleted) file is let go after it has not grown for this long. */
const DRAIN_GRACE_MS = 2000;
/** A compressed file is preserved once its size and mtime have not changed for this long… */
const COMPRESSED_STABLE_MS = 500;
/** …and, for gzip, once it is a complete stream or has been around this long. */
const COMPRESSED_MAX_WAIT_MS = 10_000;
/** Larger compressed files are hashed but their content is not stored. */
const MAX_PRESERVE_BYTES = 256 * 1024 * 1024;
const SAVE_STATE_MS = 1000;
/**
 * Writes that come closer together than this are read in one pass: a write event wakes the loop at
 * once, but when the last pass began less than this long ago the loop waits out the rest first.
 * Every pass costs stats, reads and bookkeeping of its own, whatever it reads: a writer appending
 * 1,000 lines/s in writes every 10 ms cost the agent about twice the CPU of the same lines written
 * every 100 ms (BENCHMARKS.md, the agent at a steady 1,000 lines/s). A backlog is still read
 * without waiting (the loop goes on at once while a pass leaves work), and idle() and stop() do not
 * wait. What this adds to the time from a write to its record is small beside the store's batch
 * (DEFAULT_POLICY.batchMs).
 */
const READ_PASS_MS = 100;
const COMPRESSED_NAME = /\.(gz|bz2|xz|zst)$/i;
const ROTATION_SEPARATORS = '.-_';

interface FifoEntry {
  seq: number;
  effect: CursorEffect | undefined;
  tail: Tail | undefined;
  countsLine: boolean;
}

interface CompressedCandidate {
  firstSeenMono: number;
  stableSinceMono: number;
  size: number;
  mtime: string;
}

/** A file's mtime as a record states it (also the compressed-file key's mtime part). */
export function formatMtime(st: BigIntStats): string {
  const ns = st.mtimeNs;
  return formatTimestamp(Number(ns / 1_000_000n), Number((ns / 1000n) % 1000n));
}

function isEnoent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function gzipComplete(content: Buffer): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const z = createGunzip();
    z.on('data', () => undefined);
    z.on('end', () => resolvePromise(true));
    z.on('error', () => resolvePromise(false));
    z.end(content);
  });
}

async function hashHandle(fd: FileHandle, size: number): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  let pos = 0;
  while (pos < size) {
    const { bytesRead } = await fd.read(buf, 0, Math.min(buf.length, size - pos), pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash.digest('hex');
}

async function windowMatches(fd: FileHandle, endOffset: number, window: Buffer): Promise<boolean> {
  if (window.length === 0) return true;
  if (endOffset < window.length) return false;
  const buf = Buffer.allocUnsafe(window.length);
  const { bytesRead } = await fd.read(buf, 0, window.length, endOffset - window.length);
  return bytesRead === window.length && buf.equals(window);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves after `ms`, or at once when the function handed to `expose` is called; `expose` gets
 * undefined again once the sleep is over, so a late call does nothing.
 */
function sleepOrCut(ms: number, expose: (cut: (() => void) | undefined) => void): Promise<void> {
  return new Promise((res) => {
    const timer = setTimeout(() => {
      expose(undefined);
      res();
    }, ms);
    expose(() => {
      clearTimeout(timer);
      res();
    });
  });
}

export class FileIngestor {
  private readonly store: EvidenceStore;
  private readonly state: StateStore;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly options: IngestOptions;
  private readonly patterns: string[];
  private readonly tickMs: number;
  private readonly buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);

  /** Followed and draining files by identity. */
  private readonly tails = new Map<string, Tail>();
  /** Watched path → the file followed there. */
  private readonly owners = new Map<string, Tail>();
  private readonly dirty = new Set<string>();
  private readonly compressedPending = new Map<string, CompressedCandidate>();
  private readonly compressedQueued = new Set<string>();
  private readonly unreadable = new Set<string>();
  private readonly gone: FileSourceStatus[] = [];

  /** Cursors as of the committed evidence (what a restart would fold to). */
  private committed: CursorMap = new Map();
  private compressedDone = new Set<string>();
  private fifo: FifoEntry[] = [];
  private fifoHead = 0;

  /** Set at start: the folders watched (tail/folder-watch.ts). */
  private folderWatchers: FolderWatchers | undefined;
  private loopPromise: Promise<void> | undefined;
  private wakeResolve: (() => void) | undefined;
  /** Ends the wait between two close passes (READ_PASS_MS); only stop() and idle() call it. */
  private hurryResolve: (() => void) | undefined;
  /** performance.now() at the start of the last pass (step). */
  private lastPassMono = 0;
  private started = false;
  private stopping = false;
  private readonly appender: StoreAppender;
  /** The store was seen failing and the ingestor has not yet caught up after it recovered. */
  private sawBlocked = false;
  private rescanRequested = false;
  private rescanGenRequested = 0;
  private rescanGenDone = 0;
  private flushRequested = false;
  private firstPendingMono = 0;
  private lastPollMono = 0;
  private lastRescanMono = 0;
  private lastSaveMono = 0;
  private lastSavedSeq = -1;
  private stateDirty = false;

  constructor(deps: IngestDeps, options: IngestOptions) {
    this.store = deps.store;
    this.state = deps.state;
    this.log = deps.logger;
    this.clock = deps.clock;
    this.options = { ...DEFAULT_INGEST_OPTIONS, ...options, retry: { ...DEFAULT_INGEST_OPTIONS.retry, ...options.retry } };
    this.appender = deps.appender ?? new StoreAppender(deps.store, deps, { maxPendingRecords: this.options.maxPendingRecords, retry: this.options.retry });
    if (!(this.options.maxLineBytes >= 1)) throw new RangeError('maxLineBytes must be at least 1');
    this.patterns = options.watch.map((p) => resolve(p));
    this.tickMs = Math.max(10, Math.min(100, Math.floor(this.options.partialLineFlushMs / 4)));
  }

  /**
   * Set while the store cannot commit (whoever of the agent's writers met it first). Seeing it
   * remembers it: whatever reading stopped for it is taken up again once the store commits, even
   * when another writer's retry was the one that found it committing.
   */
  private get blocked(): Readonly<StoreBlocked> | undefined {
    const b = this.appender.blocked;
    if (b !== undefined) this.sawBlocked = true;
    return b;
  }

  // ───────────────────────────── lifecycle ─────────────────────────────

  async start(): Promise<void> {
    if (this.started) throw new Error('FileIngestor.start() called twice');
    this.started = true;
    const resume = resumeFromEvidence(this.store, this.state);
    this.committed = resume.cursors;
    this.compressedDone = resume.compressed;
    this.log.info(
      { evt: 'ingest.resumed', cache: resume.cache, from_seq: resume.fromSeq, folded: resume.folded, files: resume.cursors.size, first_run: resume.firstRun },
      'ingest cursors recovered from the evidence store',
    );
    if (resume.disagreements.length > 0) {
      // Someone changed state.sqlite (or it is from another store): the evidence decided instead.
      this.log.warn({ evt: 'ingest.cursor_cache_rejected', disagreements: resume.disagreements }, 'the cursor cache in the state database disagrees with the evidence; resumed from the evidence');
    }

    const matched = await this.expandGlobs();
    const byKey = new Map<string, { path: string; st: BigIntStats }>();
    const pathKeys: Array<{ path: string; key: string; st: BigIntStats }> = [];
    for (const path of matched) {
      if (COMPRESSED_NAME.test(path)) {
        this.considerCompressed(path);
        continue;
      }
      try {
        const st = await stat(path, { bigint: true });
        if (!st.isFile()) continue;
        const key = identityKey(st.dev, st.ino);
        if (!byKey.has(key)) byKey.set(key, { path, st });
        pathKeys.push({ path, key, st });
      } catch (err) {
        if (!isEnoent(err)) this.reportUnreadable(path, err);
      }
    }

    const cursorPaths = new Set<string>();
    for (const cursor of [...resume.cursors.values()].map((c) => ({ ...c }))) {
      cursorPaths.add(cursor.path);
      const key = identityKey(cursor.dev, cursor.ino);
      const hit = byKey.get(key);
      if (hit) {
        await this.openTail(hit.path, key, hit.st, cursor, 'beginning', true);
        continue;
      }
      const found = await this.searchIdentity(cursor);
      if (found) {
        this.log.info({ evt: 'ingest.rotation', kind: 'renamed_while_down', path: cursor.path, now_at: found.path, dev: cursor.dev, ino: cursor.ino }, 'a followed file was renamed while the agent was down; reading it to its end');
        const tail = await this.openTail(found.path, key, found.st, cursor, 'beginning', false);
        if (tail) this.beginDrain(tail, `renamed to ${found.path} while the agent was not running`);
        continue;
      }
      this.recordGone(cursor);
    }

    for (const { path, key, st } of pathKeys) {
      if (this.owners.has(path)) continue;
      const existing = this.tails.get(key);
      if (existing) {
        this.owners.set(path, existing);
        if (existing.state === 'draining') existing.state = 'following';
        continue;
      }
      const startAt = this.options.startAt === 'end' && !cursorPaths.has(path) ? 'end' : 'beginning';
      await this.openTail(path, key, st, undefined, startAt, true);
    }
    await this.scanCompressedSiblings();

    this.folderWatchers = new FolderWatchers(this.patterns, this.log, { onEvent: (folder, event, name) => this.onFolderEvent(folder, event, name), onError: () => this.requestRescan() });
    await this.refreshFolderWatchers();
    for (const path of this.owners.keys()) this.dirty.add(path);
    this.requestRescan();
    this.lastPollMono = performance.now();
    this.lastRescanMono = performance.now();
    this.loopPromise = this.loop();
  }

  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    this.hurry();
    await this.loopPromise;
    this.folderWatchers?.close();
    this.flushStore();
    this.trackCommits();
    this.saveState(true);
    for (const tail of this.tails.values()) {
      await tail.fd?.close().catch(() => undefined);
      tail.fd = undefined;
    }
    this.log.info({ evt: 'ingest.stopped', files: this.tails.size, blocked: this.blocked !== undefined }, 'ingest stopped');
  }

  status(): FileSourceStatus[] {
    const out: FileSourceStatus[] = [];
    for (const tail of this.tails.values()) {
      const s: FileSourceStatus = {
        path: tail.path,
        dev: tail.dev,
        ino: tail.ino,
        committedOffset: tail.committedOffset,
        size: tail.size,
        lagBytes: Math.max(0, tail.size - tail.committedOffset),
        lines: tail.linesCommitted,
        state: tail.state,
      };
      if (tail.lastSeq !== undefined) s.lastSeq = tail.lastSeq;
      const error = this.blocked ? `store: ${this.blocked.message}` : tail.error;
      if (error !== undefined) {
        s.state = 'error';
        s.error = error;
      }
      out.push(s);
    }
    return [...out, ...this.gone];
  }

  /**
   * Resolves when every complete line now in the watched files (and every file now matching the
   * globs) is committed. A trailing partial line is held, not waited for (its flush timeout is
   * evidence time, driven by the clock).
   */
  async idle(): Promise<void> {
    const gen = this.requestRescan();
    for (const path of this.owners.keys()) this.dirty.add(path);
    for (;;) {
      if (this.stopping || !this.started) return;
      this.flushRequested = true;
      this.hurry();
      if (await this.isIdle(gen)) return;
      await sleep(10);
    }
  }

  private async isIdle(gen: number): Promise<boolean> {
    if (this.rescanGenDone < gen || this.rescanRequested || this.dirty.size > 0 || this.blocked || this.compressedPending.size > 0) return false;
    if (this.store.pendingCount > 0) return false;
    this.trackCommits();
    if (this.fifoHead < this.fifo.length) return false;
    for (const [path, tail] of this.owners) {
      try {
        const st = await stat(path, { bigint: true });
        if (identityKey(st.dev, st.ino) !== tail.key || Number(st.size) !== tail.readOffset) return false;
      } catch {
        return false;
      }
      if (tail.committedOffset !== tail.recordedOffset) return false;
    }
    for (const tail of this.tails.values()) {
      if (!tail.fd) continue;
      try {
        const st = await tail.fd.stat();
        if (st.size !== tail.readOffset) return false;
      } catch {
        return false;
      }
    }
    return this.dirty.size === 0 && !this.rescanRequested;
  }

  // ───────────────────────────── the loop ─────────────────────────────

  private wake(): void {
    const r = this.wakeResolve;
    this.wakeResolve = undefined;
    r?.();
  }

  /** wake(), and an end to the wait between two close passes too. */
  private hurry(): void {
    const r = this.hurryResolve;
    this.hurryResolve = undefined;
    r?.();
    this.wake();
  }

  /** Waits until READ_PASS_MS after the last pass began, unless stopping or asked to flush. */
  private spaceOutPasses(): Promise<void> {
    const rest = READ_PASS_MS - (performance.now() - this.lastPassMono);
    if (rest <= 0 || this.stopping || this.flushRequested) return Promise.resolve();
    return sleepOrCut(rest, (cut) => {
      this.hurryResolve = cut;
    });
  }

  private waitWake(ms: number): Promise<void> {
    return sleepOrCut(ms, (cut) => {
      this.wakeResolve = cut;
    });
  }

  private requestRescan(): number {
    this.rescanRequested = true;
    this.wake();
    return ++this.rescanGenRequested;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.step();
      } catch (err) {
        this.log.error({ evt: 'ingest.internal_error', err: messageOf(err) }, 'ingest loop error; continuing');
        await sleep(this.tickMs);
      }
      if (this.stopping) break;
      const busy = !this.blocked && (this.dirty.size > 0 || this.rescanRequested);
      if (busy) await new Promise<void>((r) => setImmediate(r));
      else {
        const wait = this.blocked ? Math.max(1, Math.min(this.tickMs, this.blocked.nextRetryMono - performance.now())) : this.tickMs;
        await this.waitWake(wait);
        await this.spaceOutPasses();
      }
    }
  }

  private async step(): Promise<void> {
    const now = performance.now();
    this.lastPassMono = now;
    this.trackCommits();
    if (this.blocked) {
      this.sawBlocked = true;
      if (now < this.blocked.nextRetryMono) return;
      if (!this.retryStore()) return;
    } else if (this.sawBlocked) {
      this.retryStore(); // another writer's retry found the store committing again: catch up here too
    }
    if (now - this.lastPollMono >= POLL_MS) {
      this.lastPollMono = now;
      for (const path of this.owners.keys()) this.dirty.add(path);
    }
    if (now - this.lastRescanMono >= RESCAN_MS) this.requestRescan();
    if (this.rescanRequested) await this.rescan();

    for (const path of [...this.dirty]) {
      if (this.blocked || this.stopping) break;
      this.dirty.delete(path);
      await this.guard(path, () => this.processPath(path));
    }
    for (const tail of [...this.tails.values()]) {
      if (this.blocked || this.stopping) break;
      if (tail.state === 'draining') await this.guard(tail.currentPath, () => this.processDraining(tail));
    }
    if (!this.blocked && !this.stopping) await this.flushTimedOutPartials();
    if (!this.blocked && !this.stopping && this.compressedPending.size > 0) await this.processCompressed();

    if (!this.blocked && this.store.pendingCount > 0 && (this.flushRequested || performance.now() - this.firstPendingMono >= this.store.policy.batchMs)) {
      this.flushStore();
    }
    this.flushRequested = false;
    this.trackCommits();
    if (performance.now() - this.lastSaveMono >= SAVE_STATE_MS) this.saveState(false);
  }

  private async guard(path: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const tail = this.owners.get(path);
      const message = messageOf(err);
      if (tail) tail.error = message;
      this.log.error({ evt: 'ingest.read_error', path, err: message }, 'reading a watched file failed; will retry');
    }
  }

  // ───────────────────────────── store ─────────────────────────────

  /** Queues a record; returns false when the store is now blocked (the record itself IS queued). */
  private appendRecord<K extends RecordKind>(kind: K, source: string, payload: PayloadOf<K>, effect: CursorEffect | undefined, tail?: Tail, countsLine = false): boolean {
    const before = this.store.nextSequence;
    if (this.store.pendingCount === 0) this.firstPendingMono = performance.now();
    // Throws only for an invalid record (nothing queued); a failed commit leaves it queued: ok false.
    const { ok } = this.appender.append(kind, source, payload);
    if (!ok) this.sawBlocked = true;
    if (effect !== undefined || tail !== undefined) this.fifo.push({ seq: before, effect, tail, countsLine });
    return ok;
  }

  private flushStore(): boolean {
    const ok = this.appender.flush();
    if (!ok) this.sawBlocked = true;
    return ok;
  }

  /** After the store failed: retries when due (the shared backoff) and, once it commits, reads on where reading stopped. */
  private retryStore(): boolean {
    if (this.blocked && !this.appender.retry()) return false;
    if (this.sawBlocked) {
      this.sawBlocked = false;
      for (const tail of this.tails.values()) tail.error = undefined;
      for (const path of this.owners.keys()) this.dirty.add(path);
      this.trackCommits();
    }
    return true;
  }

  /** Moves committed positions forward for every queued record the store has committed. */
  private trackCommits(): void {
    const size = this.store.size;
    let moved = false;
    while (this.fifoHead < this.fifo.length) {
      const entry = this.fifo[this.fifoHead] as FifoEntry;
      if (entry.seq >= size) break;
      this.fifoHead++;
      moved = true;
      if (entry.effect) applyEffect(this.committed, this.compressedDone, entry.effect);
      const tail = entry.tail;
      if (tail) {
        tail.lastSeq = entry.seq;
        if (entry.effect?.t === 'line') tail.committedOffset = entry.effect.end;
        else if (entry.effect?.t === 'reset') tail.committedOffset = entry.effect.offset;
        if (entry.countsLine) tail.linesCommitted++;
      }
    }
    if (moved) this.stateDirty = true;
    if (this.fifoHead > 4096 && this.fifoHead * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.fifoHead);
      this.fifoHead = 0;
    }
  }

  /** Saves the committed cursors with the seq they are true at (a cache; evidence stays the truth). */
  private saveState(force: boolean): void {
    this.lastSaveMono = performance.now();
    const seq = this.store.size;
    if (!force && !this.stateDirty && seq === this.lastSavedSeq) return;
    // Only valid when every queued record below `seq` has been applied.
    this.trackCommits();
    try {
      this.state.set(CURSOR_STATE_KEY, toCache(seq, this.committed, this.compressedDone));
      this.lastSavedSeq = seq;
      this.stateDirty = false;
    } catch (err) {
      this.log.warn({ evt: 'ingest.state_error', err: messageOf(err) }, 'could not save ingest cursors to the state database (a cache; evidence is unaffected)');
    }
  }

  // ───────────────────────────── records ─────────────────────────────

  private readonly emitLine = (tail: Tail, bytes: Buffer, partial: boolean): boolean => {
    const offset = tail.recordedOffset;
    const end = offset + bytes.length + (partial ? 0 : 1);
    const nextLineNo = partial ? tail.lineNo : tail.lineNo + 1;
    const window = windowOf(bytes, !partial);
    // Built field by field (no spreads: one object per line, not three).
    const payload: PayloadOf<'log.line'> = { path: tail.path, dev: tail.dev, ino: tail.ino, offset, line_no: tail.lineNo, length: bytes.length };
    if (partial) payload.partial = true;
    const raw = encodeRawText(bytes);
    if ('text' in raw) payload.text = raw.text;
    else payload.raw_b64 = raw.raw_b64;
    const effect: CursorEffect = { t: 'line', path: tail.path, dev: tail.dev, ino: tail.ino, end, nextLineNo, window };
    const ok = this.appendRecord('log.line', tail.source, payload, effect, tail, !partial);
    tail.recordedOffset = end;
    tail.lineNo = nextLineNo;
    tail.window = window;
    return ok;
  };

  /** Records what is held as a partial line (timeout, rotation, truncation). */
  private emitHeld(tail: Tail): boolean {
    if (tail.heldLen === 0) return true;
    return this.emitLine(tail, tail.takeHeld(), true);
  }

  private recordGap(tail: { path: string; dev: string; ino: string } | undefined, path: string, reason: string, detail: string, extra: { from_offset?: number; to_offset?: number; bytes?: number }, effect: CursorEffect | undefined, owner?: Tail): void {
    const payload: PayloadOf<'agent.gap'> = {
      source: FILE_SOURCE_PREFIX + (tail?.path ?? path),
      path: tail?.path ?? path,
      ...(tail ? { dev: tail.dev, ino: tail.ino } : {}),
      reason,
      detail,
      ...extra,
    };
    this.appendRecord('agent.gap', payload.source, payload, effect, owner);
    this.log.warn({ evt: 'ingest.gap', path: payload.path, reason, detail, ...extra }, 'recorded a gap');
  }

  private recordGone(cursor: Cursor): void {
    this.recordGap(
      cursor,
      cursor.path,
      GONE_REASON,
      `${cursor.path} (dev ${cursor.dev}, inode ${cursor.ino}) was removed or replaced while the agent was not running and was not found beside it; anything written to it after offset ${cursor.offset} was not read`,
      { from_offset: cursor.offset },
      { t: 'close', dev: cursor.dev, ino: cursor.ino },
    );
    this.gone.push({ path: cursor.path, dev: cursor.dev, ino: cursor.ino, committedOffset: cursor.offset, size: 0, lagBytes: 0, lines: 0, state: 'gone' });
    if (this.gone.length > 100) this.gone.shift();
  }

  private reportUnreadable(path: string, err: unknown): void {
    if (this.unreadable.has(path)) return;
    this.unreadable.add(path);
    const message = messageOf(err);
    this.log.error({ evt: 'ingest.unreadable', path, err: message }, 'a watched file cannot be read');
    this.recordGap(undefined, path, 'unreadable', `${path} matches a watched pattern but cannot be read: ${message}`, {}, undefined);
  }

  // ───────────────────────────── files ─────────────────────────────

  private async expandGlobs(): Promise<string[]> {
    return fg(this.patterns, { absolute: true, onlyFiles: true, suppressErrors: true, followSymbolicLinks: true, dot: true, unique: true });
  }

  private async openTail(path: string, key: string, st: BigIntStats, cursor: Cursor | undefined, startAt: 'beginning' | 'end', follow: boolean): Promise<Tail | undefined> {
    let fd: FileHandle;
    try {
      fd = await open(path, 'r');
    } catch (err) {
      if (!isEnoent(err)) this.reportUnreadable(path, err);
      return undefined;
    }
    const fst = await fd.stat({ bigint: true });
    if (identityKey(fst.dev, fst.ino) !== key) {
      // Replaced between stat and open: look again on the next turn.
      await fd.close();
      this.dirty.add(path);
      return undefined;
    }
    this.unreadable.delete(path);
    const tail = new Tail({ key, dev: String(st.dev), ino: String(st.ino), path: cursor?.path ?? path, currentPath: path, fd });
    tail.size = Number(fst.size);
    tail.lastGrowthMono = performance.now();
    if (cursor) {
      tail.recordedOffset = cursor.offset;
      tail.committedOffset = cursor.offset;
      tail.lineNo = cursor.lineNo;
      tail.window = cursor.window;
    }
    this.tails.set(key, tail);
    if (follow) this.owners.set(path, tail);
    else tail.state = 'draining';
    if (!cursor && startAt === 'end' && tail.size > 0) {
      tail.recordedOffset = tail.size;
      this.recordGap(
        tail,
        path,
        SKIP_REASON,
        `configured to start at the end: the first ${tail.size} bytes already in the file were not recorded; line numbers count from offset ${tail.size}`,
        { from_offset: 0, to_offset: tail.size, bytes: tail.size },
        { t: 'reset', path: tail.path, dev: tail.dev, ino: tail.ino, offset: tail.size },
        tail,
      );
    }
    this.log.info(
      { evt: 'ingest.file_opened', path, dev: tail.dev, ino: tail.ino, offset: tail.recordedOffset, size: tail.size, resumed: cursor !== undefined, following: follow },
      'following a file',
    );
    return tail;
  }

  /** Finds a followed identity among the files beside its old path (a rename while the agent was down). */
  private async searchIdentity(cursor: Cursor): Promise<{ path: string; st: BigIntStats } | undefined> {
    const dir = dirname(cursor.path);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return undefined;
    }
    for (const name of names) {
      const path = `${dir}/${name}`;
      try {
        const st = await stat(path, { bigint: true });
        if (st.isFile() && String(st.dev) === cursor.dev && String(st.ino) === cursor.ino) return { path, st };
      } catch {
        // vanished meanwhile
      }
    }
    return undefined;
  }

  private beginDrain(tail: Tail, why: string): void {
    for (const [p, t] of this.owners) if (t === tail) this.owners.delete(p);
    tail.state = 'draining';
    tail.drainReason = why;
    tail.lastGrowthMono = performance.now();
  }

  /** Looks at a watched path: rotation, truncation, new data. */
  private async processPath(path: string): Promise<void> {
    let st: BigIntStats | undefined;
    try {
      st = await stat(path, { bigint: true });
    } catch (err) {
      if (!isEnoent(err)) throw err;
    }
    const owner = this.owners.get(path);
    if (!st || !st.isFile()) {
      if (owner) {
        const others = [...this.owners.entries()].some(([p, t]) => t === owner && p !== path);
        this.owners.delete(path);
        if (!others) {
          this.log.info({ evt: 'ingest.rotation', kind: 'removed', path, dev: owner.dev, ino: owner.ino }, 'a followed file was renamed or deleted; reading it to its end');
          this.beginDrain(owner, `${path} was renamed or deleted`);
          await this.readTail(owner);
        }
      }
      return;
    }
    const key = identityKey(st.dev, st.ino);
    if (owner && owner.key === key) {
      if ((await this.readTail(owner)) === 'more') this.dirty.add(path);
      return;
    }
    if (owner) {
      // rename + create: finish the old file first, so its lines come before the new file's.
      this.log.info({ evt: 'ingest.rotation', kind: 'replaced', path, old_ino: owner.ino, new_ino: String(st.ino) }, 'a followed file was replaced; reading the old one to its end');
      this.beginDrain(owner, `${path} was replaced by a new file (inode ${String(st.ino)})`);
      while ((await this.readTail(owner)) === 'more' && !this.blocked && !this.stopping) {
        // keep draining
      }
      if (this.blocked) {
        this.dirty.add(path);
        return;
      }
    }
    let tail = this.tails.get(key);
    if (tail) {
      if (tail.state === 'draining') {
        this.log.info({ evt: 'ingest.rotation', kind: 'moved_into_watch', path, dev: tail.dev, ino: tail.ino }, 'a followed file reappeared under a watched name');
        tail.state = 'following';
      }
      tail.currentPath = path;
      this.owners.set(path, tail);
    } else {
      tail = await this.openTail(path, key, st, undefined, 'beginning', true);
      if (!tail) return;
    }
    if ((await this.readTail(tail)) === 'more') this.dirty.add(path);
  }

  private async processDraining(tail: Tail): Promise<void> {
    const r = await this.readTail(tail);
    if (r !== 'eof' || this.blocked) return;
    if (performance.now() - tail.lastGrowthMono < DRAIN_GRACE_MS) return;
    await this.closeDrained(tail);
  }

  /**
   * Reads what is new in a file (up to the per-turn budget). Detects truncation (size below what
   * was read) and rewriting (the bytes before the cursor are not what was recorded).
   */
  private async readTail(tail: Tail): Promise<'eof' | 'more' | 'stopped'> {
    const fd = tail.fd;
    if (!fd || this.blocked) return 'stopped';
    const st = await fd.stat();
    if (st.size !== tail.size) {
      tail.size = st.size;
      tail.lastGrowthMono = performance.now();
    }
    if (st.size < tail.readOffset) {
      await this.handleTruncation(tail, st.size, 'truncated');
      return this.blocked ? 'stopped' : 'more';
    }
    if (!(await windowMatches(fd, tail.recordedOffset, tail.window))) {
      await this.handleTruncation(tail, st.size, 'rewritten');
      return this.blocked ? 'stopped' : 'more';
    }
    tail.error = undefined;
    const r = await this.readRange(tail, fd, st.size, READ_BUDGET_BYTES);
    return r;
  }

  private async readRange(tail: Tail, fd: FileHandle, size: number, budget: number): Promise<'eof' | 'more' | 'stopped'> {
    let left = budget;
    while (tail.readOffset < size && left > 0) {
      const want = Math.min(this.buf.length, size - tail.readOffset);
      const { bytesRead } = await fd.read(this.buf, 0, want, tail.readOffset);
      if (bytesRead === 0) break;
      left -= bytesRead;
      const ok = tail.consume(this.buf.subarray(0, bytesRead), this.options.maxLineBytes, this.clock.nowMs(), this.emitLine);
      if (!ok || this.blocked) {
        // The store is blocked: forget what is held, the file still has it; re-read later.
        tail.dropHeld();
        return 'stopped';
      }
    }
    return tail.readOffset < size ? 'more' : 'eof';
  }

  /**
   * The file is shorter than what was read, or the bytes before the cursor changed. Records what
   * was read but not yet recorded, preserves the rest of a copytruncate copy when one is found
   * beside the file, records the gap, and restarts at offset 0.
   */
  private async handleTruncation(tail: Tail, size: number, reason: 'truncated' | 'rewritten'): Promise<void> {
    if (!this.emitHeld(tail)) return;
    const at = tail.recordedOffset;
    let from = at;
    let copyNote = '';
    const copy = await this.findCopy(tail, at);
    if (copy) {
      this.log.info({ evt: 'ingest.rotation', kind: 'copytruncate', path: tail.path, copy: copy.path, from_offset: at, copy_size: copy.size }, 'copytruncate: preserving the rest of the copy');
      try {
        let r: 'eof' | 'more' | 'stopped' = 'more';
        while (r === 'more') r = await this.readRange(tail, copy.fd, copy.size, READ_BUDGET_BYTES);
        if (r === 'stopped') return;
        if (!this.emitHeld(tail)) return;
      } finally {
        await copy.fd.close();
      }
      from = tail.recordedOffset;
      copyNote = `; bytes ${at}..${from} were read from the copy ${copy.path}`;
    }
    const detail =
      reason === 'truncated'
        ? `${tail.path} shrank to ${size} bytes (inode ${tail.ino}); it had been read up to offset ${from}${copyNote}; anything written after offset ${from} before the truncation was not read; reading restarts at offset 0`
        : `${tail.path} (inode ${tail.ino}) no longer holds the bytes recorded before offset ${at} (size now ${size}): it was truncated and rewritten${copyNote}; anything written after offset ${from} before that was not read; reading restarts at offset 0`;
    this.recordGap(tail, tail.path, reason, detail, { from_offset: from }, { t: 'reset', path: tail.path, dev: tail.dev, ino: tail.ino, offset: 0 }, tail);
    tail.recordedOffset = 0;
    tail.lineNo = 1;
    tail.window = Buffer.alloc(0);
    tail.dropHeld();
  }

  /** A copytruncate copy: a sibling named like the file whose bytes before `at` are what was recorded. */
  private async findCopy(tail: Tail, at: number): Promise<{ path: string; fd: FileHandle; size: number } | undefined> {
    if (tail.window.length === 0) return undefined;
    const dir = dirname(tail.currentPath);
    const base = basename(tail.currentPath);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return undefined;
    }
    let best: { path: string; fd: FileHandle; size: number; mtime: bigint } | undefined;
    for (const name of names) {
      if (name === base || !name.startsWith(base) || COMPRESSED_NAME.test(name)) continue;
      if (!ROTATION_SEPARATORS.includes(name.charAt(base.length))) continue;
      const path = `${dir}/${name}`;
      let fd: FileHandle | undefined;
      try {
        const st = await stat(path, { bigint: true });
        const key = identityKey(st.dev, st.ino);
        if (!st.isFile() || key === tail.key || this.tails.has(key) || Number(st.size) < at) continue;
        if (best && st.mtimeNs <= best.mtime) continue;
        fd = await open(path, 'r');
        if (await windowMatches(fd, at, tail.window)) {
          await best?.fd.close();
          best = { path, fd, size: Number(st.size), mtime: st.mtimeNs };
          fd = undefined;
        }
      } catch {
        // not a candidate
      } finally {
        await fd?.close();
      }
    }
    return best;
  }

  /** A rotated file has been read to its end and stayed quiet: record its final hash and let it go. */
  private async closeDrained(tail: Tail): Promise<void> {
    const fd = tail.fd;
    if (!fd) return;
    if (!this.emitHeld(tail)) return;
    const st = await fd.stat({ bigint: true });
    const size = Number(st.size);
    if (size !== tail.readOffset) return; // grew meanwhile: next turn
    const sha256 = await hashHandle(fd, size);
    const deleted = st.nlink === 0n;
    const note = `${deleted ? 'deleted while followed; read to its end through an open handle' : tail.drainReason}; its lines are log.line records of this dev+ino up to offset ${tail.recordedOffset}`;
    this.appendRecord(
      'log.file',
      tail.source,
      { path: tail.path, size, mtime: formatMtime(st), sha256, reason: 'rotated', content: 'omitted', dev: tail.dev, ino: tail.ino, note },
      { t: 'close', dev: tail.dev, ino: tail.ino },
      tail,
    );
    await fd.close().catch(() => undefined);
    tail.fd = undefined;
    this.tails.delete(tail.key);
    this.log.info({ evt: 'ingest.file_closed', path: tail.path, dev: tail.dev, ino: tail.ino, size, sha256, deleted }, 'finished a rotated file');
  }

  private async flushTimedOutPartials(): Promise<void> {
    const limit = this.options.partialLineFlushMs;
    for (const tail of [...this.tails.values()]) {
      if (this.blocked) return;
      if (tail.heldLen === 0 || tail.heldSince === undefined) continue;
      if (this.clock.nowMs() - tail.heldSince < limit) continue;
      // The newline may already be there: read first.
      await this.readTail(tail);
      if (this.blocked || tail.heldLen === 0 || tail.heldSince === undefined) continue;
      if (this.clock.nowMs() - tail.heldSince < limit) continue;
      this.emitHeld(tail);
    }
  }

  // ───────────────────────────── rescans and compressed rotations ─────────────────────────────

  private async rescan(): Promise<void> {
    this.rescanRequested = false;
    const gen = this.rescanGenRequested;
    this.lastRescanMono = performance.now();
    const matched = await this.expandGlobs();
    for (const path of matched) {
      if (COMPRESSED_NAME.test(path)) {
        this.considerCompressed(path);
        continue;
      }
      if (!this.owners.has(path)) await this.guard(path, () => this.processPath(path));
    }
    await this.scanCompressedSiblings();
    await this.refreshFolderWatchers();
    this.rescanGenDone = Math.max(this.rescanGenDone, gen);
  }

  private isRotationSibling(path: string): boolean {
    if (!COMPRESSED_NAME.test(path)) return false;
    const dir = dirname(path);
    const name = basename(path);
    for (const tail of this.tails.values()) {
      for (const p of new Set([tail.path, tail.currentPath])) {
        if (dirname(p) !== dir) continue;
        const base = basename(p);
        if (name.startsWith(base) && ROTATION_SEPARATORS.includes(name.charAt(base.length))) return true;
      }
    }
    return false;
  }

  private async scanCompressedSiblings(): Promise<void> {
    const dirs = new Set<string>();
    for (const tail of this.tails.values()) {
      dirs.add(dirname(tail.path));
      dirs.add(dirname(tail.currentPath));
    }
    for (const dir of dirs) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        const path = `${dir}/${name}`;
        if (this.isRotationSibling(path)) this.considerCompressed(path);
      }
    }
  }

  private considerCompressed(path: string): void {
    if (this.compressedPending.has(path)) return;
    const now = performance.now();
    this.compressedPending.set(path, { firstSeenMono: now, stableSinceMono: now, size: -1, mtime: '' });
  }

  /** Preserves compressed rotations (`app.log.1.gz`) whole, as `log.file` records with their content. */
  private async processCompressed(): Promise<void> {
    for (const [path, cand] of [...this.compressedPending]) {
      if (this.blocked || this.stopping) return;
      let st: BigIntStats;
      try {
        st = await stat(path, { bigint: true });
      } catch {
        this.compressedPending.delete(path);
        continue;
      }
      if (!st.isFile()) {
        this.compressedPending.delete(path);
        continue;
      }
      const dev = String(st.dev);
      const ino = String(st.ino);
      const size = Number(st.size);
      const mtime = formatMtime(st);
      const key = compressedKey(dev, ino, size, mtime);
      if (this.compressedDone.has(key) || this.compressedQueued.has(key)) {
        this.compressedPending.delete(path);
        continue;
      }
      const now = performance.now();
      if (size !== cand.size || mtime !== cand.mtime) {
        cand.size = size;
        cand.mtime = mtime;
        cand.stableSinceMono = now;
        continue;
      }
      if (now - cand.stableSinceMono < COMPRESSED_STABLE_MS) continue;
      let fd: FileHandle;
      try {
        fd = await open(path, 'r');
      } catch (err) {
        this.compressedPending.delete(path);
        this.reportUnreadable(path, err);
        continue;
      }
      try {
        const fst = await fd.stat({ bigint: true });
        if (identityKey(fst.dev, fst.ino) !== identityKey(dev, ino) || Number(fst.size) !== size) continue;
        let sha256: string;
        let content: 'stored' | 'omitted' = 'stored';
        const notes: string[] = [];
        if (size > MAX_PRESERVE_BYTES) {
          sha256 = await hashHandle(fd, size);
          content = 'omitted';
          notes.push(`larger than ${MAX_PRESERVE_BYTES} bytes: hashed, content not stored`);
        } else {
          const bytes = Buffer.allocUnsafe(size);
          let pos = 0;
          while (pos < size) {
            const { bytesRead } = await fd.read(bytes, pos, size - pos, pos);
            if (bytesRead === 0) break;
            pos += bytesRead;
          }
          if (pos !== size) continue;
          if (/\.gz$/i.test(path) && !(await gzipComplete(bytes))) {
            if (now - cand.firstSeenMono < COMPRESSED_MAX_WAIT_MS) continue;
            notes.push('not a complete gzip stream');
          }
          try {
            sha256 = this.store.putBlob(bytes);
          } catch (err) {
            this.appender.fail(err);
            this.sawBlocked = true;
            return;
          }
        }
        const sibling = [...this.tails.values()].find((t) => this.isSiblingOf(path, t));
        if (sibling) notes.push(`compressed rotation of ${sibling.path}`);
        const payload: PayloadOf<'log.file'> = { path, size, mtime, sha256, reason: 'compressed', content, dev, ino, ...(notes.length ? { note: notes.join('; ') } : {}) };
        this.compressedQueued.add(key);
        this.compressedPending.delete(path);
        this.appendRecord('log.file', FILE_SOURCE_PREFIX + path, payload, { t: 'compressed', key });
        this.log.info({ evt: 'ingest.compressed_preserved', path, size, sha256, content }, 'preserved a compressed rotated log');
      } finally {
        await fd.close().catch(() => undefined);
      }
    }
  }

  private isSiblingOf(path: string, tail: Tail): boolean {
    const name = basename(path);
    for (const p of [tail.path, tail.currentPath]) {
      const base = basename(p);
      if (dirname(p) === dirname(path) && name.startsWith(base) && ROTATION_SEPARATORS.includes(name.charAt(base.length))) return true;
    }
    return false;
  }

  // ───────────────────────────── watching ─────────────────────────────

  /** Watches the folders the globs reach and those of the followed files (tail/folder-watch.ts). */
  private async refreshFolderWatchers(): Promise<void> {
    const followed = new Set<string>();
    for (const tail of this.tails.values()) {
      followed.add(dirname(tail.path));
      followed.add(dirname(tail.currentPath));
    }
    await this.folderWatchers?.refresh(followed);
  }

  /** A write to, or a new, renamed or removed name in, a watched folder. */
  private onFolderEvent(folder: string, event: string, name: string | Buffer | null): void {
    if (this.stopping) return;
    if (name === null) {
      // The kernel did not say which name (an overflowed queue): look at everything.
      for (const path of this.owners.keys()) this.dirty.add(path);
      this.requestRescan();
      return;
    }
    const path = `${folder}/${typeof name === 'string' ? name : name.toString('utf8')}`;
    if (this.owners.has(path)) {
      this.dirty.add(path);
    } else if (COMPRESSED_NAME.test(path)) {
      if (this.isRotationSibling(path)) this.considerCompressed(path);
      else if (event === 'rename') this.requestRescan();
      else return;
    } else if (event === 'rename') {
      // A new file or folder, or one renamed or removed: a rescan finds what the globs match now.
      this.requestRescan();
      return;
    } else {
      return; // a write to a file that is not followed
    }
    this.wake();
  }
}
