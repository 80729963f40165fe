/**
 * Appending to the agent's one evidence store, for every writer in it: the file ingestor and the
 * live sources (journald, USB, watched folders) share one StoreAppender, so they share one idea of
 * whether the store is failing, one backoff, and one limit on how far reading may run ahead of the
 * commits (backpressure).
 *
 * The rules it keeps, whoever appends:
 * - A record whose commit fails is not lost: the store keeps it queued and the appender says so
 *   (`ok: false`); the writer stops reading (its source, a file or a pipe, is the buffer) until
 *   `retry()` finds the store committing again. Only an invalid record throws (a bug, never bytes
 *   dropped quietly).
 * - Backoff after a failure: `retry.initialMs`, doubling up to `retry.maxMs`; one `ingest.store_error`
 *   when the store starts failing and one per failed retry, one `ingest.store_recovered` at the end.
 * - Backpressure: at `maxPendingRecords` queued records the appender commits them at once, and
 *   `backedUp` tells readers to pause while the store is failing or that far behind.
 */
import type { Clock } from '../src/clock.js';
import { isCustodyError, messageOf } from '../src/errors.js';
import type { PayloadOf, RecordKind } from '../src/records/schema.js';
import type { EvidenceStore } from '../src/store/evidence-store.js';
import type { Logger } from './logger.js';

export interface StoreAppenderOptions {
  /** Read no further ahead of the store than this many queued records. */
  maxPendingRecords: number;
  /** Backoff while the store cannot commit. */
  retry: { initialMs: number; maxMs: number };
}

/** The store is failing: since when, the next retry, and the last error. */
export interface StoreBlocked {
  since: number;
  delayMs: number;
  nextRetryMono: number;
  attempts: number;
  message: string;
}

export class StoreAppender {
  readonly store: EvidenceStore;
  readonly options: StoreAppenderOptions;
  private readonly log: Logger;
  private readonly clock: Clock;
  private blockedState: StoreBlocked | undefined;

  constructor(store: EvidenceStore, deps: { logger: Logger; clock: Clock }, options: StoreAppenderOptions) {
    this.store = store;
    this.log = deps.logger;
    this.clock = deps.clock;
    this.options = options;
  }

  /** Set while the store cannot commit (what was appended stays queued in it). */
  get blocked(): Readonly<StoreBlocked> | undefined {
    return this.blockedState;
  }

  /** Readers should pause: the store is failing, or this many records wait for their commit. */
  get backedUp(): boolean {
    return this.blockedState !== undefined || this.store.pendingCount >= this.options.maxPendingRecords;
  }

  /**
   * Queues one record. `ok` is false when the store is now failing: the record IS queued and will
   * be committed by a later retry. Throws only when the record was refused (invalid).
   */
  append<K extends RecordKind>(kind: K, source: string, payload: PayloadOf<K>): { seq: number; ok: boolean } {
    const before = this.store.nextSequence;
    try {
      this.store.append(kind, source, payload);
    } catch (err) {
      if (this.store.nextSequence === before) throw err;
      this.fail(err);
      return { seq: before, ok: false };
    }
    if (this.blockedState !== undefined) return { seq: before, ok: false };
    if (this.store.pendingCount >= this.options.maxPendingRecords) return { seq: before, ok: this.flush() };
    return { seq: before, ok: true };
  }

  /** Commits what is queued (and checkpoints when due); false, and failing, when it cannot. */
  flush(): boolean {
    try {
      this.store.flush();
      this.store.maybeCheckpoint();
      return true;
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  /** Notes a failed commit (from append, flush, or a writer's own store call). */
  fail(err: unknown): void {
    const message = messageOf(err);
    if (this.blockedState) {
      this.blockedState.message = message;
      return;
    }
    const delay = this.options.retry.initialMs;
    this.blockedState = { since: this.clock.nowMs(), delayMs: delay, nextRetryMono: performance.now() + delay, attempts: 0, message };
    this.log.error(
      { evt: 'ingest.store_error', err: message, code: isCustodyError(err) ? err.code : undefined, pending: this.store.pendingCount, retry_in_ms: delay },
      'the evidence store cannot commit; reading is paused and commits will be retried',
    );
  }

  /**
   * When the store is failing and its retry is due, tries to commit again. True when the store is
   * not failing (any more); false while it still fails or the retry is not due yet.
   */
  retry(): boolean {
    const b = this.blockedState;
    if (!b) return true;
    if (this.store.isClosed || performance.now() < b.nextRetryMono) return false;
    try {
      this.store.flush();
      this.store.maybeCheckpoint();
    } catch (err) {
      b.attempts++;
      b.message = messageOf(err);
      b.delayMs = Math.min(this.options.retry.maxMs, b.delayMs * 2);
      b.nextRetryMono = performance.now() + b.delayMs;
      this.log.warn({ evt: 'ingest.store_error', err: b.message, attempt: b.attempts, pending: this.store.pendingCount, retry_in_ms: b.delayMs }, 'the evidence store still cannot commit');
      return false;
    }
    this.blockedState = undefined;
    this.log.info({ evt: 'ingest.store_recovered', attempts: b.attempts + 1, blocked_ms: this.clock.nowMs() - b.since }, 'the evidence store commits again; reading resumes');
    return true;
  }
}
