/**
 * How every connection to a store file is set up, and how a write waits its turn.
 *
 * Several connections write one evidence file: the store's own, its writer thread's, and the
 * blob and time-stamp writes of the store's thread while the writer thread commits. Under WAL only
 * one can write at a time. Two rules keep them from failing each other:
 * - every write transaction starts with BEGIN IMMEDIATE (takes the write lock first). A deferred
 *   transaction that reads and then writes gets SQLITE_BUSY (or SQLITE_BUSY_SNAPSHOT) at once,
 *   without waiting, when another connection wrote in between: that was issue 15's failed import;
 * - a write that meets the lock waits (SQLite's busy handler, BUSY_TIMEOUT_MS per attempt) and is
 *   tried again until WRITE_LOCK_WAIT_MS have passed, so a long blob write of the other connection
 *   never fails a commit. Only a lock held longer than that (another process with an open write
 *   transaction) is an error, and it says so.
 */
import type Database from 'better-sqlite3';
import { CustodyError, ErrorCodes } from '../errors.js';

/** SQLite's own wait for a lock, per attempt. */
export const BUSY_TIMEOUT_MS = 5_000;
/** The longest a write waits for the write lock in all (below the store's 120 s writer-thread timeout). */
export const WRITE_LOCK_WAIT_MS = 60_000;

/**
 * The page cache of a connection that appends to a store (the store's own and its writer thread's),
 * in KiB. better-sqlite3 builds SQLite with a 16 MB default (SQLITE_DEFAULT_CACHE_SIZE=-16000), and
 * an appending connection fills it with pages it never reads again: in the agent at a steady 1,000
 * lines/s that was about 10 MB of its RSS (scripts/bench/agent-steady.mjs). Appends touch the right
 * edge of the records B-tree and a few index pages; the operating system's file cache holds the
 * rest, so a burst is as fast with 2 MiB (scripts/bench/ingest.mjs).
 */
export const APPEND_CACHE_KIB = 2048;

/** Pragmas for durability (a committed batch survives power loss and kill -9), and the appending connection's cache. */
export function applyDurablePragmas(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('foreign_keys = ON');
  db.pragma(`cache_size = -${APPEND_CACHE_KIB}`);
}

/** SQLITE_BUSY and its extended codes (BUSY_SNAPSHOT, BUSY_RECOVERY, BUSY_TIMEOUT), and SQLITE_LOCKED. */
export function isBusyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs `write` (which must start its own BEGIN IMMEDIATE transaction, or be one statement) and
 * runs it again while it fails because another connection holds the write lock, for up to
 * `maxWaitMs` in all. Synchronous, like the store: it blocks this thread while it waits.
 */
export function retryWhileBusy<T>(write: () => T, what: string, where: string, maxWaitMs = WRITE_LOCK_WAIT_MS, nowMs: () => number = () => performance.now()): T {
  const start = nowMs();
  let pause = 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return write();
    } catch (err) {
      if (!isBusyError(err)) throw err;
      const waited = nowMs() - start;
      if (waited >= maxWaitMs) {
        throw new CustodyError(
          ErrorCodes.STORE_WRITE_FAILED,
          `${what} failed: another connection held the store's write lock for ${Math.round(waited / 1000)} s (${(err as { code: string }).code}, ${attempt} attempts); is another process writing this store?`,
          { where, cause: err },
        );
      }
      Atomics.wait(sleepCell, 0, 0, pause);
      pause = Math.min(pause * 2, 250);
    }
  }
}
