/**
 * The agent service: opens (or creates) the store, records its own start, runs the file ingestor,
 * and keeps the log honest while idle: heartbeats, clock anomalies, checkpoints, key epochs and
 * RFC 3161 time stamps. On abort it stops ingest, records its stop, seals a final checkpoint and
 * closes the store.
 *
 * Takes config, logger, clock and an AbortSignal; never reads argv, handles signals or exits.
 */
import { existsSync, readFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../src/clock.js';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { EVIDENCE_FILE, EvidenceStore, type CheckpointRow, type OpenOptions, type StorePolicy } from '../src/store/evidence-store.js';
import type { Enrollment } from '../src/store/keyfiles.js';
import { StateStore } from '../src/store/state-store.js';
import { codeHash, custodyVersion } from '../src/version.js';
import { ClockWatch, type ClockAnomaly, type ClockReading } from './clock-watch.js';
import { ControlSocket } from './control.js';
import { configHash, hasLiveSources, redactConfig, type AgentConfig } from './config.js';
import { defaultHostName } from './enroll.js';
import { DEFAULT_INGEST_OPTIONS, FileIngestor, type IngestOptions } from './ingest.js';
import { Deriver } from '../src/derive/deriver.js';
import { Evt, type Logger } from './logger.js';
import type { LiveSources } from './sources/index.js';
import { processMemorySettler } from './settle-memory.js';
import { StoreAppender } from './store-appender.js';
import type { AppendOutageRecord, VaultShipLoop } from './ship/loop.js';
import { recordShippingOrigin } from './ship/origin.js';
import { STATE_CLOCK_KEY, STATE_STATUS_KEY, STATE_TSA_KEY, type AgentStatusState } from './status.js';

/** The `source` of the agent's own records. */
export const AGENT_SOURCE = 'custody.agent';
const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';
/** How long shutdown waits for a time stamp of the final checkpoint before closing without one. */
const SHUTDOWN_TSA_WAIT_MS = 5_000;
/** First retry after a TSA failure; doubles up to the configured interval. */
const TSA_RETRY_INITIAL_MS = 30_000;
/** How long shutdown waits for the shipping round in flight, then for one last round with the final checkpoint. */
const SHUTDOWN_SHIP_WAIT_MS = 5_000;

export interface RunAgentOptions {
  logger: Logger;
  clock: Clock;
  signal: AbortSignal;
  /** Called once when this run created the store, with the enrollment to record. */
  onEnrolled?: (enrollment: Enrollment) => void;
  /** Called when the store is open and ingest has started. */
  onReady?: (info: { storeDir: string; host: string; storeId: string }) => void;
  /** Milliseconds between maintenance ticks (heartbeat, clock, checkpoint, epoch, TSA checks). */
  tickMs?: number;
  /** Overrides the boot id read from /proc (tests). */
  bootId?: string;
  /**
   * The environment the vault's S3 client reads its endpoint, region and keys from (the CLI passes
   * process.env); without keys in it the AWS SDK's own chain finds them (shared credentials file,
   * roles). Only used with a `vault` block.
   */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The kernel's boot id, or '' where there is none (not Linux, or /proc hidden). */
export function readBootId(): string {
  try {
    return readFileSync(BOOT_ID_PATH, 'utf8').trim();
  } catch {
    return '';
  }
}

export function storePolicyOf(config: AgentConfig): StorePolicy {
  return {
    batchRecords: config.batching.records,
    batchMs: config.batching.interval,
    checkpointRecords: config.checkpoint.records,
    checkpointMs: config.checkpoint.interval,
    epochMs: config.keyEpoch,
  };
}

export function ingestOptionsOf(config: AgentConfig): IngestOptions {
  const files = config.sources.files;
  return {
    ...DEFAULT_INGEST_OPTIONS,
    watch: files.watch,
    startAt: files.startAt,
    partialLineFlushMs: files.partialLineFlush,
    maxLineBytes: files.maxLineBytes,
    maxPendingRecords: files.maxPendingRecords,
    retry: { initialMs: files.retry.initial, maxMs: files.retry.max },
  };
}

function isoNow(clock: Clock): string {
  return new Date(clock.nowMs()).toISOString();
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.href;
  } catch {
    return url;
  }
}

/** Loads the TSA's CA certificates, so a token that would not verify is never stored. */
async function loadTsaRoots(caFile: string | undefined): Promise<Uint8Array[]> {
  if (caFile === undefined) return [];
  const { certificatesFromPemOrDer } = await import('../src/integrity/tsa.js');
  let bytes: Buffer;
  try {
    bytes = readFileSync(caFile);
  } catch (err) {
    throw new CustodyError(ErrorCodes.CONFIG_INVALID, `tsa.caFile: cannot read ${caFile}: ${messageOf(err)}`, { where: caFile, cause: err });
  }
  const certs = certificatesFromPemOrDer(new Uint8Array(bytes));
  if (certs.length === 0) throw new CustodyError(ErrorCodes.CONFIG_INVALID, `tsa.caFile: no certificate found in ${caFile}`, { where: caFile });
  return certs;
}

function openOrCreateStore(config: AgentConfig, opts: RunAgentOptions, bootId: string): { store: EvidenceStore; enrollment?: Enrollment } {
  const onBackgroundError = (err: CustodyError): void => {
    opts.logger.error({ evt: Evt.commitFailed, code: err.code, err: err.message }, 'committing evidence failed; the records stay queued and will be retried');
  };
  const storeOptions: OpenOptions = {
    clock: opts.clock,
    bootId,
    policy: storePolicyOf(config),
    onBackgroundError,
    ...(config.maxDatabaseBytes !== undefined ? { maxDatabaseBytes: config.maxDatabaseBytes } : {}),
  };
  if (!existsSync(join(config.store, EVIDENCE_FILE))) {
    const { store, enrollment } = EvidenceStore.create(config.store, { ...storeOptions, host: config.host ?? defaultHostName() });
    return { store, enrollment };
  }
  return { store: EvidenceStore.open(config.store, storeOptions) };
}

/** Runs the agent until `signal` aborts. Rejects on a startup failure or a failed final seal. */
export async function runAgent(config: AgentConfig, opts: RunAgentOptions): Promise<void> {
  const { logger, clock, signal } = opts;
  const tickMs = opts.tickMs ?? 1000;
  const bootId = opts.bootId ?? readBootId();
  const configSha = configHash(config);
  const tsaRoots = await loadTsaRoots(config.tsa?.caFile);

  const { store, enrollment } = openOrCreateStore(config, opts, bootId);
  if (enrollment) {
    logger.info({ evt: Evt.enrolled, store: config.store, host: enrollment.host, fingerprint: enrollment.fingerprint }, 'created a new store and its enrollment key');
    opts.onEnrolled?.(enrollment);
  } else if (config.host !== undefined && config.host !== store.host) {
    logger.warn({ evt: Evt.hostMismatch, configured: config.host, store_host: store.host }, 'host is only used when a store is created; this store keeps its own');
  }

  let state: StateStore;
  try {
    state = new StateStore(config.store);
    // A store created now: every shipping of it will be recorded in this state database.
    if (enrollment) recordShippingOrigin(state, store.storeId, bootId);
  } catch (err) {
    store.close({ finalCheckpoint: true });
    throw err;
  }

  const startedMono = clock.monoNs();
  const status: AgentStatusState = {
    pid: process.pid,
    version: custodyVersion(),
    config_sha256: configSha,
    started_at: isoNow(clock),
    updated_at: isoNow(clock),
    watch: config.sources.files.watch,
    clock_anomalies: 0,
    commit_errors: 0,
    ...(config.tsa ? { tsa: { url: redactUrl(config.tsa.url), failures: 0 } } : {}),
  };
  const previousTsa = state.get<{ last_stamped_checkpoint?: number; last_gen_time?: string }>(STATE_TSA_KEY);
  if (status.tsa && previousTsa?.last_stamped_checkpoint !== undefined) {
    status.tsa.last_stamped_checkpoint = previousTsa.last_stamped_checkpoint;
    if (previousTsa.last_gen_time !== undefined) status.tsa.last_gen_time = previousTsa.last_gen_time;
  }

  const appendAnomaly = (anomaly: ClockAnomaly): void => {
    status.clock_anomalies++;
    logger.warn({ evt: Evt.clockAnomaly, ...anomaly }, anomaly.detail);
    store.append('clock.anomaly', AGENT_SOURCE, anomaly);
  };

  const clockWatch = new ClockWatch(clock, config.clockAnomalyThreshold);
  let ingestor: FileIngestor | undefined;
  let liveSources: LiveSources | undefined;
  try {
    store.append('agent.start', AGENT_SOURCE, {
      version: status.version,
      config_sha256: configSha,
      code_sha256: codeHash(),
      pid: process.pid,
      node: process.version,
      platform: `${platform()}-${arch()}`,
      policy: {
        batch_records: store.policy.batchRecords,
        batch_ms: store.policy.batchMs,
        checkpoint_records: store.policy.checkpointRecords,
        checkpoint_ms: store.policy.checkpointMs,
        epoch_ms: store.policy.epochMs,
        heartbeat_ms: config.heartbeatInterval,
      },
    });
    const sinceLast = clockWatch.sinceLastRun(state.get<ClockReading>(STATE_CLOCK_KEY), bootId);
    if (sinceLast) appendAnomaly(sinceLast);
    store.flush();
    logger.info(
      { evt: Evt.start, store: config.store, host: store.host, store_id: store.storeId, records: store.size, epoch: store.epoch, config_sha256: configSha, config: redactConfig(config) },
      'agent starting',
    );
    // One appender for every writer: the file ingestor and the live sources share one view of a
    // failing store, one backoff and one backpressure limit (agent/store-appender.ts).
    const ingestOptions = ingestOptionsOf(config);
    const appender = new StoreAppender(store, { logger, clock }, { maxPendingRecords: ingestOptions.maxPendingRecords, retry: ingestOptions.retry });
    ingestor = new FileIngestor({ store, state, logger, clock, appender }, ingestOptions);
    await ingestor.start();
    // Live sources (journald, USB, watched folders): each optional, each failing on its own.
    if (hasLiveSources(config)) {
      // Loaded only when configured: an agent that follows files alone does not carry their code.
      const { LiveSources } = await import('./sources/index.js');
      liveSources = new LiveSources({ store, state, logger, clock, appender }, config);
      await liveSources.start();
    }
  } catch (err) {
    logger.error({ evt: Evt.startFailed, code: (err as { code?: string }).code, err: messageOf(err) }, 'agent failed to start');
    try {
      if (liveSources) await liveSources.stop();
      if (ingestor) await ingestor.stop();
    } catch {
      // already failing; the first error is the one to report
    }
    try {
      store.appendSealed('agent.stop', AGENT_SOURCE, { reason: `startup failed: ${messageOf(err)}` });
      store.close({ finalCheckpoint: true });
    } finally {
      if (!store.isClosed) store.close();
      state.close();
    }
    throw err;
  }
  const running = ingestor;
  // Typed evidence (usb.*, file.access, auth.logon) from the committed lines, unless turned off.
  let deriver: Deriver | undefined;
  if (config.derive !== false) {
    try {
      deriver = new Deriver({ store, state, logger, clock });
      deriver.start();
    } catch (err) {
      deriver = undefined;
      logger.error({ evt: 'derive.start_failed', code: (err as { code?: string }).code, err: messageOf(err) }, 'deriving typed evidence could not start; lines are still preserved');
    }
  }

  // --- maintenance -----------------------------------------------------------------------------
  let vaultLoop: VaultShipLoop | undefined;
  let lastCheckpointSeen: number | undefined;
  const heartbeatNs = BigInt(config.heartbeatInterval) * 1_000_000n;
  let lastHeartbeatMono = startedMono;
  let lastPersisted = '';
  let lastPersistedMono = 0n;
  let tsaInFlight: Promise<void> | undefined;
  let tsaNextAttemptMono = 0n;

  // Only where node runs with --expose-gc (the installed service): agent/settle-memory.ts.
  const settler = processMemorySettler();

  const uptimeMs = (): number => Number((clock.monoNs() - startedMono) / 1_000_000n);

  const persistStatus = (force: boolean): void => {
    let ingestStatus: unknown;
    try {
      ingestStatus = running.status();
    } catch (err) {
      ingestStatus = { error: messageOf(err) };
    }
    status.ingest = ingestStatus;
    if (liveSources) Object.assign(status, { sources: liveSources.status() });
    if (vaultLoop) status.vault = vaultLoop.status();
    const { updated_at: _ignored, ...comparable } = status;
    const snapshot = JSON.stringify(comparable);
    const now = clock.monoNs();
    // Write when something changed, and at least every heartbeat so `status` can tell it is alive.
    if (!force && snapshot === lastPersisted && now - lastPersistedMono < heartbeatNs) return;
    status.updated_at = isoNow(clock);
    state.setMany([
      [STATE_STATUS_KEY, status],
      [STATE_CLOCK_KEY, clockWatch.reading(bootId)],
    ]);
    lastPersisted = snapshot;
    lastPersistedMono = now;
  };

  const stamp = async (checkpoint: CheckpointRow, timeoutMs: number): Promise<void> => {
    const tsa = config.tsa;
    if (!tsa || !status.tsa) return;
    const tsaStatus = status.tsa;
    try {
      const { requestTimeStamp } = await import('../src/net/tsa-http.js');
      const noteBytes = new TextEncoder().encode(checkpoint.note);
      const { tokenDer, info } = await requestTimeStamp(tsa.url, noteBytes, { timeoutMs });
      if (tsaRoots.length > 0) {
        const { verifyTimeStampToken } = await import('../src/integrity/tsa.js');
        const check = await verifyTimeStampToken(tokenDer, noteBytes, tsaRoots);
        if (!check.ok) {
          throw new CustodyError(ErrorCodes.TSA_RESPONSE_INVALID, `the token does not verify against tsa.caFile (${check.problem ?? 'unknown'}${check.detail ? `: ${check.detail}` : ''})`);
        }
      }
      if (store.isClosed) return;
      store.attachTimestamp(checkpoint.id, tsaStatus.url, info.genTime, tokenDer);
      tsaStatus.last_stamped_checkpoint = checkpoint.id;
      tsaStatus.last_gen_time = info.genTime;
      tsaStatus.last_success_at = isoNow(clock);
      tsaStatus.failures = 0;
      tsaNextAttemptMono = clock.monoNs() + BigInt(tsa.interval) * 1_000_000n;
      state.set(STATE_TSA_KEY, { last_stamped_checkpoint: checkpoint.id, last_gen_time: info.genTime });
      logger.info({ evt: Evt.tsaStamped, checkpoint: checkpoint.id, tree_size: checkpoint.tree_size, gen_time: info.genTime }, 'checkpoint time-stamped');
    } catch (err) {
      tsaStatus.failures++;
      tsaStatus.last_error = messageOf(err);
      tsaStatus.last_error_at = isoNow(clock);
      const backoffMs = Math.min(tsa.interval, TSA_RETRY_INITIAL_MS * 2 ** Math.min(tsaStatus.failures - 1, 20));
      tsaNextAttemptMono = clock.monoNs() + BigInt(backoffMs) * 1_000_000n;
      logger.warn(
        { evt: Evt.tsaFailed, checkpoint: checkpoint.id, code: (err as { code?: string }).code, err: messageOf(err), failures: tsaStatus.failures, retry_in_ms: backoffMs },
        'time-stamping failed; evidence is unaffected and the newest checkpoint will be tried again',
      );
    }
  };

  const maybeStamp = (): void => {
    if (!config.tsa || !status.tsa || tsaInFlight || clock.monoNs() < tsaNextAttemptMono) return;
    const checkpoint = store.lastCheckpoint;
    if (!checkpoint || checkpoint.id === status.tsa.last_stamped_checkpoint) return;
    tsaInFlight = stamp(checkpoint, config.tsa.timeout).finally(() => {
      tsaInFlight = undefined;
    });
  };

  const step = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      if (err instanceof CustodyError && err.code === ErrorCodes.STORE_WRITE_FAILED) {
        status.commit_errors++;
        status.last_commit_error = err.message;
      }
      logger.error({ evt: Evt.maintenanceFailed, step: what, code: (err as { code?: string }).code, err: messageOf(err) }, `${what} failed; will retry`);
    }
  };

  const tick = (): void => {
    step('clock check', () => {
      const anomaly = clockWatch.tick();
      if (anomaly) appendAnomaly(anomaly);
    });
    step('heartbeat', () => {
      const now = clock.monoNs();
      if (now - lastHeartbeatMono < heartbeatNs) return;
      lastHeartbeatMono = now;
      const seq = store.append('agent.heartbeat', AGENT_SOURCE, { uptime_ms: uptimeMs(), reason: 'interval' });
      status.last_heartbeat_at = isoNow(clock);
      logger.debug({ evt: Evt.heartbeat, seq }, 'heartbeat');
    });
    step('key rotation', () => {
      if (!store.epochDue()) return;
      // An epoch boundary is sealed even when nothing happened: the heartbeat keeps the tree growing.
      store.append('agent.heartbeat', AGENT_SOURCE, { uptime_ms: uptimeMs(), reason: 'epoch' });
      const key = store.rotateKey();
      logger.info({ evt: Evt.keyRotated, epoch: key.epoch, key_name: key.name }, 'moved to a new key epoch; the previous key was erased');
    });
    step('checkpoint', () => {
      const checkpoint = store.maybeCheckpoint();
      if (checkpoint) logger.debug({ evt: Evt.checkpoint, id: checkpoint.id, tree_size: checkpoint.tree_size, epoch: checkpoint.epoch }, 'checkpoint signed');
    });
    step('time stamp', maybeStamp);
    step('live sources', () => liveSources?.tick());
    step('vault', () => {
      // A checkpoint signed since the last look (by this tick or by a commit): ship it now.
      const id = store.lastCheckpoint?.id;
      if (vaultLoop === undefined || id === undefined || id === lastCheckpointSeen) return;
      lastCheckpointSeen = id;
      vaultLoop.nudge();
    });
    step('status', () => persistStatus(false));
    step('memory', () => {
      const settled = settler?.tick(store.nextSequence + (vaultLoop?.status().rounds ?? 0));
      if (settled) logger.debug({ evt: Evt.memorySettled, heap_before: settled.before, heap_after: settled.after }, 'quiet after a burst: collected its garbage');
    });
  };

  step('status', () => persistStatus(true));
  // `custody collect` asks through it for a seal before it snapshots the store.
  const control = await ControlSocket.start(
    config.store,
    {
      seal: () => {
        const checkpoint = store.checkpoint();
        step('time stamp', maybeStamp);
        return checkpoint;
      },
    },
    logger,
  );
  // Shipping to the vault: its own part of the agent, off the ingest path (agent/ship/loop.ts). The
  // AWS SDK is loaded only when a vault is configured: an agent without one stays as small as before.
  if (config.vault) {
    try {
      vaultLoop = await startVaultLoop(config.vault, { storeDir: config.store, state, logger, clock, env: opts.env ?? {}, bootId, append: (kind, payload) => store.append(kind, AGENT_SOURCE, payload) });
    } catch (err) {
      logger.error({ evt: 'vault.start_failed', code: (err as { code?: string }).code, err: messageOf(err) }, 'shipping to the vault could not start; evidence is still preserved locally');
    }
    // `agent status` shows the vault section (and its lag) from now on, not from the next tick.
    step('status', () => persistStatus(true));
  }
  logger.info({ evt: Evt.ready, watch: config.sources.files.watch }, 'agent running');
  opts.onReady?.({ storeDir: config.store, host: store.host, storeId: store.storeId });

  const timer = setInterval(tick, tickMs);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(timer);
  await control?.stop();
  await vaultLoop?.stop(SHUTDOWN_SHIP_WAIT_MS);

  // --- shutdown --------------------------------------------------------------------------------
  const reason = typeof signal.reason === 'string' ? `signal ${signal.reason}` : 'stopped';
  logger.info({ evt: Evt.stopping, reason }, 'agent stopping');
  try {
    await running.stop();
  } catch (err) {
    logger.error({ evt: Evt.maintenanceFailed, step: 'stopping ingest', err: messageOf(err) }, 'stopping ingest failed');
  }
  try {
    await liveSources?.stop();
  } catch (err) {
    logger.error({ evt: Evt.maintenanceFailed, step: 'stopping live sources', err: messageOf(err) }, 'stopping the live sources failed');
  }
  deriver?.stop();
  try {
    // One transaction: verify reads an agent.stop without its final checkpoint as a removed seal.
    const final = store.appendSealed('agent.stop', AGENT_SOURCE, { reason });
    status.stopped_at = isoNow(clock);
    status.stop_reason = reason;
    if (config.tsa) {
      if (tsaInFlight) await withTimeout(tsaInFlight, SHUTDOWN_TSA_WAIT_MS);
      if (status.tsa?.last_stamped_checkpoint !== final.id) await withTimeout(stamp(final, Math.min(config.tsa.timeout, SHUTDOWN_TSA_WAIT_MS)), SHUTDOWN_TSA_WAIT_MS);
    }
    persistStatus(true);
    store.close({ finalCheckpoint: true });
    logger.info({ evt: Evt.stop, reason, records: final.tree_size, checkpoint: final.id }, 'agent stopped; final checkpoint written');
    if (vaultLoop) {
      // The final checkpoint and what it seals leave the host too, unless the vault was failing
      // (then the next start ships them: shutdown must not wait on an outage).
      if (vaultLoop.healthy) await vaultLoop.finalRound(SHUTDOWN_SHIP_WAIT_MS);
      vaultLoop.close();
      status.vault = vaultLoop.status();
      state.set(STATE_STATUS_KEY, status);
    }
  } finally {
    try {
      if (!store.isClosed) store.close();
    } finally {
      vaultLoop?.close();
      state.close();
    }
  }
}

async function startVaultLoop(
  vault: NonNullable<AgentConfig['vault']>,
  deps: { storeDir: string; state: StateStore; logger: Logger; clock: Clock; env: Readonly<Record<string, string | undefined>>; bootId: string; append: AppendOutageRecord },
): Promise<VaultShipLoop> {
  const [{ VaultShipLoop }, { VaultClient }, { parseVaultUrl }] = await Promise.all([import('./ship/loop.js'), import('../src/vault/s3.js'), import('../src/vault/url.js')]);
  const client = new VaultClient(parseVaultUrl(vault.url), {
    env: deps.env,
    ...(vault.endpoint !== undefined ? { endpoint: vault.endpoint } : {}),
    ...(vault.region !== undefined ? { region: vault.region } : {}),
    requestTimeoutMs: vault.requestTimeout,
  });
  const loop = new VaultShipLoop({ ...deps, client }, { intervalMs: vault.interval, retryMaxMs: vault.retryMax, limits: { records: vault.recordsPerRound } });
  loop.start();
  deps.logger.info({ evt: 'vault.start', vault: vault.url, endpoint: client.endpoint, interval_ms: vault.interval }, 'shipping to the vault');
  return loop;
}

async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  if (timer) clearTimeout(timer);
}
