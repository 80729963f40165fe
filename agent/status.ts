/**
 * `custody agent status`: what a store holds and what its agent is doing, read without disturbing
 * it. The evidence database is opened read-only (no writer lock), the state database only when it
 * exists, so this works while the agent runs and never creates files in a store it does not own.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { decodeCanonical } from '../src/records/canonical.js';
import type { EvidenceRecord, PayloadOf } from '../src/records/schema.js';
import { EVIDENCE_FILE, LOCK_FILE, STATE_FILE } from '../src/store/evidence-store.js';
import { StateStore } from '../src/store/state-store.js';
import { SqliteStoreReader } from '../src/store/store-reader.js';
import { terminalLines } from '../src/text/terminal.js';
import type { VaultShipStatus } from './ship/loop.js';
import { loadAcknowledged } from './ship/shipper.js';

/** StateStore keys the agent writes and `agent status` reads. */
export const STATE_STATUS_KEY = 'agent.status';
export const STATE_CLOCK_KEY = 'agent.clock';
export const STATE_TSA_KEY = 'agent.tsa';

/** What the agent persists to the state database for `agent status` (a cache, never evidence). */
export interface AgentStatusState {
  pid: number;
  version: string;
  config_sha256: string;
  started_at: string;
  updated_at: string;
  stopped_at?: string;
  stop_reason?: string;
  watch: string[];
  last_heartbeat_at?: string;
  clock_anomalies: number;
  commit_errors: number;
  last_commit_error?: string;
  tsa?: TsaStatus;
  /** What the file ingestor reports about each source (offsets, sizes, errors). */
  ingest?: unknown;
  /** What each live source (journald, USB, watched folders) says about itself (agent/sources). */
  sources?: unknown;
  /** Shipping to the vault (agent/ship/loop.ts), when a vault is configured. */
  vault?: VaultShipStatus;
}

export interface TsaStatus {
  url: string;
  last_stamped_checkpoint?: number;
  last_gen_time?: string;
  last_success_at?: string;
  failures: number;
  last_error?: string;
  last_error_at?: string;
}

/** How many of the most recent gaps the report lists. */
export const LATEST_GAPS = 5;

export interface SourceStatus {
  path: string;
  /** Bytes read and preserved so far (the ingestor's cursor). */
  offset?: number;
  /** The file's size when the agent last looked. */
  size?: number;
  /** The file's size now, as this command sees it (when it can read it). */
  currentSize?: number;
  /** Bytes in the file not yet preserved: current size (or last known size) minus offset. */
  lagBytes?: number;
  dev?: string;
  ino?: string;
  /** Anything else the ingestor reports about this source (state, errors, line counts). */
  detail: Record<string, unknown>;
}

/** A live source (journald, USB, watched folders) as it last reported itself. */
export interface LiveSourceRow {
  name: string;
  state: string;
  records?: number;
  lastSeq?: number;
  /** Why it is unavailable or disabled, or what it is doing. */
  detail?: string;
  lastError?: string;
  /** The source's own other facts (USB: sysfs/udev state, devices present; watch: folders, files known…). */
  facts: Record<string, string | number | boolean>;
}

export interface GapSummary {
  seq: number;
  observed_at: string;
  source: string;
  path?: string;
  reason: string;
  detail: string;
}

export interface AgentStatusReport {
  store: string;
  host?: string;
  storeId?: string;
  origin?: string;
  agent: {
    /** True when a live process holds the store's writer lock. */
    running: boolean;
    pid?: number;
    version?: string;
    configSha256?: string;
    startedAt?: string;
    updatedAt?: string;
    stoppedAt?: string;
    stopReason?: string;
    lastHeartbeatAt?: string;
    clockAnomalies?: number;
    commitErrors?: number;
    lastCommitError?: string;
    watch?: string[];
    /** Why the agent's state could not be read (the evidence part of the report is unaffected). */
    stateError?: string;
  };
  records: { total: number; sealed: number; unsealed: number; byKind: Record<string, number> };
  lastCheckpoint?: { id: number; treeSize: number; epoch: number; createdAt: string; tsaGenTime?: string; tsaUrl?: string };
  lastTimestamped?: { checkpointId: number; treeSize: number; genTime: string; tsaUrl: string };
  keyEpoch: number;
  sources: SourceStatus[];
  /** As of the agent's last status write (`agent.updatedAt`); a stopped agent's are as it stopped. */
  liveSources: LiveSourceRow[];
  gaps: { count: number; latest: GapSummary[] };
  storeSize: { evidenceBytes: number; walBytes: number; stateBytes: number; totalBytes: number };
  tsa?: TsaStatus;
  /** Shipping to the vault, when the agent has a vault configured. */
  vault?: VaultLagReport;
}

/** How far the vault is behind the store, and how shipping is going. */
export interface VaultLagReport {
  vault: string;
  endpoint?: string;
  /** As the agent last reported: shipping, failing, stopped… */
  state: string;
  /** Records in the store not yet in the vault (segments end at checkpoints: the unsealed tail counts too). */
  lagRecords: number;
  /** Their canonical bytes. */
  lagBytes: number;
  /** The observed_at of the oldest record not yet in the vault, when there is one. */
  oldestUnshipped?: string;
  /** Checkpoints not yet in the vault. */
  lagCheckpoints: number;
  shippedRecords: number;
  shippedCheckpointId: number;
  lastSuccessAt?: string;
  failures: number;
  lastError?: string;
  lastErrorCode?: string;
  lastErrorAt?: string;
  /** An outage the agent recorded (vault.unreachable) and has not yet seen end. */
  outageSince?: string;
  outageSeq?: number;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function lockHolder(storeDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(storeDir, LOCK_FILE), 'utf8'), 10);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    try {
      process.kill(pid, 0);
      return pid;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
    }
  } catch {
    return undefined;
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : undefined);

/** The live sources' own reports, read tolerantly: the state DB is a cache written by another version perhaps. */
export function liveSourcesFromState(sources: unknown): LiveSourceRow[] {
  if (!Array.isArray(sources)) return [];
  const rows: LiveSourceRow[] = [];
  for (const item of sources as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const o = item as Record<string, unknown>;
    const name = str(o['name']);
    const state = str(o['state']);
    if (name === undefined || state === undefined) continue;
    const facts: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(o)) {
      if (['name', 'state', 'records', 'last_seq', 'detail', 'last_error'].includes(k)) continue;
      if (typeof v === 'string' || typeof v === 'boolean' || num(v) !== undefined) facts[k] = v as string | number | boolean;
      else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) facts[k] = v.join(', ');
    }
    const row: LiveSourceRow = { name, state, facts };
    const records = num(o['records']);
    const lastSeq = num(o['last_seq']);
    const detail = str(o['detail']);
    const lastError = str(o['last_error']);
    if (records !== undefined) row.records = records;
    if (lastSeq !== undefined) row.lastSeq = lastSeq;
    if (detail !== undefined) row.detail = detail;
    if (lastError !== undefined) row.lastError = lastError;
    rows.push(row);
  }
  return rows;
}

/**
 * Turns what the ingestor reported into per-source rows. Tolerant of its shape: a list of sources,
 * or an object holding one under `files` or `sources`, each with at least a `path`.
 */
export function sourcesFromIngestStatus(ingest: unknown): SourceStatus[] {
  let list: unknown = ingest;
  if (list !== null && typeof list === 'object' && !Array.isArray(list)) {
    const obj = list as Record<string, unknown>;
    list = obj['files'] ?? obj['sources'] ?? [];
  }
  if (!Array.isArray(list)) return [];
  const rows: SourceStatus[] = [];
  for (const item of list) {
    if (item === null || typeof item !== 'object') continue;
    const o = item as Record<string, unknown>;
    const path = str(o['path']);
    if (path === undefined) continue;
    const offset = num(o['committedOffset']) ?? num(o['offset']);
    const size = num(o['size']);
    const dev = str(o['dev']);
    const ino = str(o['ino']);
    const detail = Object.fromEntries(Object.entries(o).filter(([k]) => !['path', 'committedOffset', 'offset', 'size', 'lagBytes', 'dev', 'ino'].includes(k)));
    const row: SourceStatus = { path, detail };
    if (offset !== undefined) row.offset = offset;
    if (size !== undefined) row.size = size;
    if (dev !== undefined) row.dev = dev;
    if (ino !== undefined) row.ino = ino;
    // Lag against the file as it is now, when it is still the same file the agent was reading.
    try {
      const st = statSync(path, { bigint: true });
      if (ino === undefined || st.ino.toString() === ino) row.currentSize = Number(st.size);
    } catch {
      // unreadable here (permissions, rotated away): fall back to what the agent saw
    }
    const against = row.currentSize ?? size;
    if (offset !== undefined && against !== undefined) row.lagBytes = Math.max(0, against - offset);
    else if (num(o['lagBytes']) !== undefined) row.lagBytes = num(o['lagBytes']);
    rows.push(row);
  }
  return rows;
}

export function agentStatus(storeDir: string): AgentStatusReport {
  if (!existsSync(join(storeDir, EVIDENCE_FILE))) {
    throw new CustodyError(ErrorCodes.STORE_NOT_FOUND, 'no evidence store here', { where: storeDir });
  }
  const reader = new SqliteStoreReader(storeDir);
  const byKind: Record<string, number> = {};
  let total = 0;
  let keyEpoch = 0;
  let gapCount = 0;
  const latestGaps: GapSummary[] = [];
  let meta: Map<string, string>;
  let checkpoints;
  let tokens;
  try {
    meta = reader.meta();
    // Read the checkpoints first: the records read after them can only be more, never fewer.
    checkpoints = reader.checkpoints();
    tokens = reader.tsaTokens();
    for (const [kind, count] of reader.kindCounts()) {
      byKind[kind] = count;
      total += count;
    }
    gapCount = byKind['agent.gap'] ?? 0;
    for (const row of reader.latestOfKind('agent.gap', LATEST_GAPS)) {
      const record = decodeCanonical(row.bytes) as EvidenceRecord;
      const payload = record.payload as PayloadOf<'agent.gap'>;
      latestGaps.push({
        seq: row.seq,
        observed_at: row.observed_at,
        source: record.source,
        ...(payload.path !== undefined ? { path: payload.path } : {}),
        reason: payload.reason,
        detail: payload.detail,
      });
    }
    const [rotation] = reader.latestOfKind('key.rotate', 1);
    if (rotation) keyEpoch = ((decodeCanonical(rotation.bytes) as EvidenceRecord).payload as PayloadOf<'key.rotate'>).epoch;
  } finally {
    reader.close();
  }

  const last = checkpoints.at(-1);
  const tokenByCheckpoint = new Map(tokens.map((t) => [t.checkpoint_id, t]));
  const sizeById = new Map(checkpoints.map((c) => [c.id, c.tree_size]));
  const lastToken = tokens.at(-1);
  const sealed = Math.min(last?.tree_size ?? 0, total);

  let agentState: AgentStatusState | undefined;
  let stateError: string | undefined;
  if (existsSync(join(storeDir, STATE_FILE))) {
    try {
      const state = new StateStore(storeDir);
      try {
        agentState = state.get<AgentStatusState>(STATE_STATUS_KEY);
      } finally {
        state.close();
      }
    } catch (err) {
      // The state is a cache: without it the evidence part of the report still stands.
      stateError = messageOf(err);
    }
  }
  const pid = lockHolder(storeDir);
  const vault = agentState?.vault !== undefined ? vaultLag(storeDir, agentState.vault, checkpoints, meta.get('store_id')) : undefined;

  const evidenceBytes = fileSize(join(storeDir, EVIDENCE_FILE));
  const walBytes = fileSize(join(storeDir, `${EVIDENCE_FILE}-wal`));
  const stateBytes = fileSize(join(storeDir, STATE_FILE)) + fileSize(join(storeDir, `${STATE_FILE}-wal`));

  const report: AgentStatusReport = {
    store: storeDir,
    agent: { running: pid !== undefined },
    records: { total, sealed, unsealed: total - sealed, byKind },
    keyEpoch,
    sources: sourcesFromIngestStatus(agentState?.ingest),
    liveSources: liveSourcesFromState(agentState?.sources),
    gaps: { count: gapCount, latest: latestGaps },
    storeSize: { evidenceBytes, walBytes, stateBytes, totalBytes: evidenceBytes + walBytes + stateBytes },
  };
  const host = meta.get('host');
  const storeId = meta.get('store_id');
  const origin = meta.get('origin');
  if (host !== undefined) report.host = host;
  if (storeId !== undefined) report.storeId = storeId;
  if (origin !== undefined) report.origin = origin;
  if (pid !== undefined) report.agent.pid = pid;
  if (stateError !== undefined) report.agent.stateError = stateError;
  if (agentState) {
    const a = report.agent;
    a.version = agentState.version;
    a.configSha256 = agentState.config_sha256;
    a.startedAt = agentState.started_at;
    a.updatedAt = agentState.updated_at;
    if (agentState.stopped_at !== undefined) a.stoppedAt = agentState.stopped_at;
    if (agentState.stop_reason !== undefined) a.stopReason = agentState.stop_reason;
    if (agentState.last_heartbeat_at !== undefined) a.lastHeartbeatAt = agentState.last_heartbeat_at;
    a.clockAnomalies = agentState.clock_anomalies;
    a.commitErrors = agentState.commit_errors;
    if (agentState.last_commit_error !== undefined) a.lastCommitError = agentState.last_commit_error;
    a.watch = agentState.watch;
    if (agentState.tsa) report.tsa = agentState.tsa;
  }
  if (vault !== undefined) report.vault = vault;
  if (last) {
    const token = tokenByCheckpoint.get(last.id);
    report.lastCheckpoint = {
      id: last.id,
      treeSize: last.tree_size,
      epoch: last.epoch,
      createdAt: last.created_at,
      ...(token ? { tsaGenTime: token.gen_time, tsaUrl: token.tsa_url } : {}),
    };
  }
  if (lastToken) {
    report.lastTimestamped = { checkpointId: lastToken.checkpoint_id, treeSize: sizeById.get(lastToken.checkpoint_id) ?? 0, genTime: lastToken.gen_time, tsaUrl: lastToken.tsa_url };
  }
  return report;
}

/** The vault section: the agent's last word on shipping, and the lag computed from the store and the acknowledged watermarks now. */
function vaultLag(storeDir: string, shipping: VaultShipStatus, checkpoints: readonly { id: number }[], storeId: string | undefined): VaultLagReport | undefined {
  if (typeof shipping !== 'object' || shipping === null || typeof shipping.vault !== 'string') return undefined;
  let acked;
  try {
    const state = new StateStore(storeDir);
    try {
      acked = loadAcknowledged(state, shipping.vault, storeId);
    } finally {
      state.close();
    }
  } catch {
    return undefined;
  }
  const reader = new SqliteStoreReader(storeDir);
  let summary;
  try {
    summary = reader.recordsFromSummary(acked.segmentEnd);
  } finally {
    reader.close();
  }
  const report: VaultLagReport = {
    vault: shipping.vault,
    state: String(shipping.state),
    lagRecords: summary.records,
    lagBytes: summary.bytes,
    lagCheckpoints: checkpoints.filter((c) => c.id > acked.checkpointId).length,
    shippedRecords: acked.segmentEnd,
    shippedCheckpointId: acked.checkpointId,
    failures: num(shipping.failures) ?? 0,
  };
  if (shipping.endpoint !== undefined) report.endpoint = shipping.endpoint;
  if (summary.oldestObservedAt !== undefined) report.oldestUnshipped = summary.oldestObservedAt;
  if (shipping.last_success_at !== undefined) report.lastSuccessAt = shipping.last_success_at;
  if (shipping.last_error !== undefined) report.lastError = shipping.last_error;
  if (shipping.last_error_code !== undefined) report.lastErrorCode = shipping.last_error_code;
  if (shipping.last_error_at !== undefined) report.lastErrorAt = shipping.last_error_at;
  if (shipping.outage !== undefined) {
    report.outageSince = shipping.outage.since;
    report.outageSeq = shipping.outage.seq;
  }
  return report;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

function ago(iso: string | undefined, nowMs: number): string {
  if (iso === undefined) return 'never';
  const ms = nowMs - Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  const s = Math.max(0, Math.round(ms / 1000));
  const rel = s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
  return `${iso} (${rel})`;
}

/** The report for people. */
export function formatAgentStatus(r: AgentStatusReport, nowMs: number): string {
  const lines: string[] = [];
  lines.push(`store        ${r.store}${r.host ? `  host ${r.host}` : ''}${r.storeId ? `  id ${r.storeId}` : ''}`);
  const a = r.agent;
  if (a.running) lines.push(`agent        running (pid ${a.pid})${a.version ? `, custody ${a.version}` : ''}, started ${a.startedAt ?? '?'}`);
  else lines.push(`agent        not running${a.stoppedAt ? `; stopped ${a.stoppedAt} (${a.stopReason ?? 'unknown reason'})` : ''}`);
  if (a.updatedAt) lines.push(`  status     updated ${ago(a.updatedAt, nowMs)}; last heartbeat ${ago(a.lastHeartbeatAt, nowMs)}`);
  if (a.stateError) lines.push(`  state      cannot be read: ${a.stateError}`);
  if (a.commitErrors) lines.push(`  problems   ${a.commitErrors} failed commit(s): ${a.lastCommitError ?? ''}`);
  if (a.clockAnomalies) lines.push(`  clock      ${a.clockAnomalies} clock anomal${a.clockAnomalies === 1 ? 'y' : 'ies'} this run`);
  lines.push(`records      ${r.records.total} (${r.records.sealed} sealed, ${r.records.unsealed} not yet checkpointed)`);
  const kinds = Object.entries(r.records.byKind).sort(([x], [y]) => x.localeCompare(y));
  if (kinds.length > 0) lines.push(`  by kind    ${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (r.lastCheckpoint) {
    const c = r.lastCheckpoint;
    lines.push(`checkpoint   #${c.id} size ${c.treeSize}, epoch ${c.epoch}, ${ago(c.createdAt, nowMs)}`);
    lines.push(`  TSA time   ${c.tsaGenTime ? `${c.tsaGenTime} (${c.tsaUrl})` : 'none on this checkpoint'}`);
  } else {
    lines.push('checkpoint   none yet');
  }
  if (r.lastTimestamped && r.lastTimestamped.checkpointId !== r.lastCheckpoint?.id) {
    lines.push(`  last TSA   checkpoint #${r.lastTimestamped.checkpointId} (size ${r.lastTimestamped.treeSize}) at ${r.lastTimestamped.genTime}`);
  }
  if (r.tsa && r.tsa.failures > 0) lines.push(`  TSA        ${r.tsa.failures} failure(s) in a row; last: ${r.tsa.last_error ?? ''}`);
  lines.push(`key epoch    ${r.keyEpoch}`);
  lines.push(`store size   ${bytes(r.storeSize.totalBytes)} (evidence ${bytes(r.storeSize.evidenceBytes)}, WAL ${bytes(r.storeSize.walBytes)}, state ${bytes(r.storeSize.stateBytes)})`);
  if (r.sources.length === 0) {
    lines.push(`sources      ${a.watch ? `watching ${a.watch.join(', ')}; no file reported yet` : 'no source status recorded'}`);
  } else {
    lines.push('sources');
    for (const s of r.sources) {
      const pos = s.offset === undefined ? '' : `offset ${s.offset}`;
      const size = s.currentSize ?? s.size;
      const lag = s.lagBytes === undefined ? '' : `, lag ${bytes(s.lagBytes)}`;
      const extra = typeof s.detail['error'] === 'string' ? `, error: ${s.detail['error']}` : typeof s.detail['state'] === 'string' ? `, ${s.detail['state']}` : '';
      lines.push(`  ${s.path}  ${pos}${size === undefined ? '' : ` of ${size}`}${lag}${extra}`);
    }
  }
  if (r.liveSources.length > 0) {
    lines.push(`live sources${a.running ? '' : ' (as the agent last reported them)'}`);
    const width = Math.max(...r.liveSources.map((l) => l.name.length));
    for (const l of r.liveSources) {
      const counts = l.records === undefined ? '' : `; ${l.records} record${l.records === 1 ? '' : 's'}${l.lastSeq === undefined ? '' : ` (last seq ${l.lastSeq})`}`;
      const why = l.detail !== undefined ? `: ${l.detail}` : '';
      const err = l.lastError !== undefined ? `; last error: ${l.lastError}` : '';
      const facts = Object.entries(l.facts).map(([k, v]) => `${k.replace(/_/g, ' ')} ${String(v)}`).join(', ');
      lines.push(`  ${l.name.padEnd(width)}  ${l.state}${why}${counts}${err}${facts === '' ? '' : `; ${facts}`}`);
    }
  }
  if (r.vault) {
    const v = r.vault;
    lines.push(`vault        ${v.vault}${v.endpoint ? ` at ${v.endpoint}` : ''}: ${v.state}${a.running ? '' : ' (as the agent last reported)'}`);
    const age = v.oldestUnshipped === undefined ? '' : `, oldest unshipped record observed ${ago(v.oldestUnshipped, nowMs)}`;
    lines.push(`  lag        ${v.lagRecords} record${v.lagRecords === 1 ? '' : 's'} (${bytes(v.lagBytes)}), ${v.lagCheckpoints} checkpoint${v.lagCheckpoints === 1 ? '' : 's'}${age}`);
    lines.push(`  shipped    ${v.shippedRecords} records, checkpoints up to #${v.shippedCheckpointId}; last success ${ago(v.lastSuccessAt, nowMs)}`);
    if (v.failures > 0 || v.lastError !== undefined) {
      lines.push(`  last error ${v.lastError ?? 'none'}${v.lastErrorCode ? ` [${v.lastErrorCode}]` : ''}${v.lastErrorAt ? ` at ${v.lastErrorAt}` : ''}${v.failures > 0 ? `; ${v.failures} failed round(s) in a row` : '; shipping has succeeded since'}`);
    }
    if (v.outageSince !== undefined) lines.push(`  outage     since ${v.outageSince} (vault.unreachable, seq ${v.outageSeq})`);
  }
  lines.push(`gaps         ${r.gaps.count}`);
  for (const g of r.gaps.latest) lines.push(`  seq ${g.seq} ${g.observed_at} ${g.source}${g.path ? ` ${g.path}` : ''}: ${g.reason} — ${g.detail}`);
  // Paths, host names and gap details come from the store and the logs it watches: no control character reaches the terminal.
  return terminalLines(lines);
}
