/**
 * The agent's continuous shipping (issue 12): rounds of shipStore (shipper.ts) on a timer, off the
 * ingest path. The local store is the buffer: ingest never waits for the vault, and a vault that is
 * slow, down or refusing only makes the lag grow (`agent status` shows it). One round at a time;
 * a round is bounded (records and objects, config `vault.recordsPerRound`), and a round that
 * stopped at its bound is followed by the next one after a short pause instead of the interval, so
 * a backlog drains without holding the event loop for long.
 *
 * Failures back off: the pause after n failed rounds in a row is interval·2^(n−1), at most
 * `vault.retryMax`. A vault outage is evidence, so the first failed round of an outage appends a
 * `vault.unreachable` record (once per outage, not per retry) and the first round that succeeds
 * after it a `vault.reachable` naming it. The open outage is kept in the state database, so an agent
 * restarted during an outage does not record a second one.
 *
 * Secrets: the client finds credentials the AWS SDK's way; the status, the log and the records
 * carry only custody's own error text (src/vault/s3.ts never copies the far end's message or a
 * key into an error).
 */
import type { Clock } from '../../src/clock.js';
import { CustodyError, messageOf } from '../../src/errors.js';
import type { PayloadOf } from '../../src/records/schema.js';
import type { StateStore } from '../../src/store/state-store.js';
import type { VaultClient } from '../../src/vault/s3.js';
import { formatVaultUrl } from '../../src/vault/url.js';
import type { Logger } from '../logger.js';
import { shipStore, type ShipLimits, type ShipRound } from './shipper.js';

/** The open outage, kept across restarts. */
export const STATE_OUTAGE_KEY = 'ship.outage';
/** Pause between rounds while a backlog drains (a round stopped at its bound). */
const DRAIN_PAUSE_MS = 50;

export const VaultEvt = {
  round: 'vault.round',
  failed: 'vault.failed',
  unreachable: 'vault.unreachable',
  reachable: 'vault.reachable',
} as const;

/** What the loop reports in the agent's status (state database, `agent status`). */
export interface VaultShipStatus {
  vault: string;
  endpoint?: string;
  /** shipping: rounds succeed; failing: the last round failed (see last_error). */
  state: 'starting' | 'shipping' | 'failing' | 'stopped';
  rounds: number;
  objects_written: number;
  bytes_written: number;
  last_success_at?: string;
  /** Failed rounds in a row (0 while shipping). */
  failures: number;
  last_error?: string;
  last_error_code?: string;
  last_error_at?: string;
  /** When the open outage began (its vault.unreachable record's seq), while there is one. */
  outage?: { since: string; seq: number };
}

interface OpenOutage {
  vault: string;
  seq: number;
  sinceMs: number;
  failedRounds: number;
}

export type AppendOutageRecord = <K extends 'vault.unreachable' | 'vault.reachable'>(kind: K, payload: PayloadOf<K>) => number;

export interface VaultShipLoopDeps {
  storeDir: string;
  state: StateStore;
  client: VaultClient;
  logger: Logger;
  clock: Clock;
  /** Appends an agent record to the store (the outage and its end); returns its seq. */
  append: AppendOutageRecord;
  /** This boot's id, for shipStore (ShipOptions.bootId). */
  bootId?: string;
}

export interface VaultShipLoopOptions {
  intervalMs: number;
  retryMaxMs: number;
  limits: Partial<ShipLimits>;
}

export class VaultShipLoop {
  private readonly deps: VaultShipLoopDeps;
  private readonly options: VaultShipLoopOptions;
  private readonly vault: string;
  private readonly current: VaultShipStatus;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopping = false;
  private abort = new AbortController();
  /** A checkpoint came while a round ran: the next round follows at once. */
  private nudged = false;

  constructor(deps: VaultShipLoopDeps, options: VaultShipLoopOptions) {
    this.deps = deps;
    this.options = options;
    this.vault = formatVaultUrl(deps.client.vault);
    this.current = { vault: this.vault, state: 'starting', rounds: 0, objects_written: 0, bytes_written: 0, failures: 0 };
    if (deps.client.endpoint !== undefined) this.current.endpoint = deps.client.endpoint;
    const open = this.openOutage();
    if (open) this.current.outage = { since: new Date(open.sinceMs).toISOString(), seq: open.seq };
  }

  /** The first round starts at once: seals leave the host as soon as they exist. */
  start(): void {
    this.schedule(0);
  }

  /**
   * A new checkpoint exists: seals leave the host as soon as they are signed, so the next round
   * starts now instead of at the end of the interval. Not while a round runs (the next one follows
   * it) or while failing (the backoff stands).
   */
  nudge(): void {
    if (this.stopping || this.current.failures > 0) return;
    if (this.inFlight !== undefined) {
      this.nudged = true; // the round in flight may have read the store before it: one more after it
      return;
    }
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.schedule(0);
  }

  status(): VaultShipStatus {
    return { ...this.current, ...(this.current.outage ? { outage: { ...this.current.outage } } : {}) };
  }

  /** True when the last round succeeded (a final round at shutdown is worth trying). */
  get healthy(): boolean {
    return this.current.failures === 0 && this.current.rounds > 0;
  }

  /**
   * Stops the timer and asks the round in flight to stop after its current object; waits for it at
   * most `waitMs` (its request is bounded by the client's request timeout anyway).
   */
  async stop(waitMs: number): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    if (this.inFlight) await withTimeout(this.inFlight, waitMs);
    this.current.state = 'stopped';
  }

  /**
   * One last round after the agent sealed its final checkpoint, so a clean stop leaves the vault
   * with everything: at most `waitMs`, then the client is destroyed (its sockets closed) and what
   * was acknowledged stays acknowledged.
   */
  async finalRound(waitMs: number): Promise<void> {
    // A round that did not stop in time is still putting: a second one beside it would race it for
    // the same watermarks. The next start ships what is left.
    if (this.inFlight) return;
    this.stopping = false;
    this.abort = new AbortController();
    const deadline = setTimeout(() => this.abort.abort(), waitMs);
    deadline.unref();
    try {
      const round = this.round(true);
      const finished = await withTimeout(round.then(() => true), waitMs);
      if (!finished) {
        this.deps.client.destroy();
        await round;
      }
    } finally {
      clearTimeout(deadline);
      this.stopping = true;
      this.current.state = 'stopped';
    }
  }

  /** Closes the client's sockets: a request still in flight fails at once instead of holding the process. */
  close(): void {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.deps.client.destroy();
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.nudged = false;
      this.inFlight = this.round(false).finally(() => {
        this.inFlight = undefined;
      });
    }, ms);
  }

  private openOutage(): OpenOutage | undefined {
    const o = this.deps.state.get<OpenOutage>(STATE_OUTAGE_KEY);
    return o !== undefined && o.vault === this.vault ? o : undefined;
  }

  /** One round; never throws (a failure is status, log, backoff and perhaps an outage record). */
  private async round(final: boolean): Promise<void> {
    const { logger, clock, state } = this.deps;
    let next = this.options.intervalMs;
    try {
      const r: ShipRound = await shipStore(this.deps.storeDir, this.deps.client, state, { limits: this.options.limits, signal: this.abort.signal, ...(this.deps.bootId !== undefined ? { bootId: this.deps.bootId } : {}) });
      this.current.rounds++;
      this.current.objects_written += r.written;
      this.current.bytes_written += r.bytes;
      this.current.failures = 0;
      this.current.state = 'shipping';
      this.current.last_success_at = new Date(clock.nowMs()).toISOString();
      if (r.written > 0 || r.existed > 0) {
        logger.debug({ evt: VaultEvt.round, written: r.written, existed: r.existed, bytes: r.bytes, shipped_records: r.acknowledged.segmentEnd, more: r.more }, 'shipped to the vault');
      }
      if (!final) this.endOutage(); // at the final round the store is closed: the next start records it
      if (r.more || this.nudged) next = DRAIN_PAUSE_MS;
    } catch (err) {
      this.current.rounds++;
      this.current.failures++;
      this.current.state = 'failing';
      const code = err instanceof CustodyError ? err.code : 'E_INTERNAL';
      const where = err instanceof CustodyError && err.where !== undefined ? ` (${err.where})` : '';
      this.current.last_error = `${messageOf(err)}${where}`;
      this.current.last_error_code = code;
      this.current.last_error_at = new Date(clock.nowMs()).toISOString();
      next = Math.min(this.options.retryMaxMs, this.options.intervalMs * 2 ** Math.min(this.current.failures - 1, 30));
      logger.warn(
        { evt: VaultEvt.failed, code, err: this.current.last_error, failures: this.current.failures, retry_in_ms: final ? undefined : next },
        'shipping to the vault failed; the store keeps everything and the round is tried again',
      );
      if (code.startsWith('E_VAULT_') && !final) this.beginOutage(code, this.current.last_error);
    }
    if (!final) this.schedule(next);
  }

  private beginOutage(code: string, detail: string): void {
    const open = this.openOutage();
    if (open !== undefined) {
      this.deps.state.set(STATE_OUTAGE_KEY, { ...open, failedRounds: open.failedRounds + 1 });
      return;
    }
    const { logger, clock, state } = this.deps;
    try {
      const seq = this.deps.append('vault.unreachable', { vault: this.vault, code, detail });
      const outage: OpenOutage = { vault: this.vault, seq, sinceMs: clock.nowMs(), failedRounds: 1 };
      state.set(STATE_OUTAGE_KEY, outage);
      this.current.outage = { since: new Date(outage.sinceMs).toISOString(), seq };
      logger.error({ evt: VaultEvt.unreachable, code, err: detail, seq }, 'the vault cannot be shipped to; recorded as vault.unreachable, the store keeps everything meanwhile');
    } catch (err) {
      logger.error({ evt: VaultEvt.failed, code: (err as { code?: string }).code, err: messageOf(err) }, 'could not record the vault outage; will try again on the next failed round');
    }
  }

  private endOutage(): void {
    const open = this.openOutage();
    if (open === undefined) return;
    const { logger, clock, state } = this.deps;
    try {
      const durationMs = Math.max(0, clock.nowMs() - open.sinceMs);
      const seq = this.deps.append('vault.reachable', { vault: this.vault, unreachable_seq: open.seq, failed_rounds: open.failedRounds, duration_ms: durationMs });
      state.delete(STATE_OUTAGE_KEY);
      delete this.current.outage;
      logger.info({ evt: VaultEvt.reachable, seq, unreachable_seq: open.seq, failed_rounds: open.failedRounds, duration_ms: durationMs }, 'the vault is reachable again; recorded as vault.reachable');
    } catch (err) {
      logger.error({ evt: VaultEvt.failed, code: (err as { code?: string }).code, err: messageOf(err) }, 'could not record the end of the vault outage; will try again after the next round');
    }
  }
}

/** true when `promise` settled within `ms`. */
async function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
      timer.unref();
    }),
  ]);
  if (timer) clearTimeout(timer);
  return settled;
}
