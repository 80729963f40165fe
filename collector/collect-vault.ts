/**
 * The vault side of `custody collect --vault`: every store of the named hosts (or of all hosts) read
 * back from the vault, checked (src/verify/vault-copy.ts: the shipped enrollment key, the key chain,
 * each checkpoint's signature, each segment against its checkpoint) and written out as a store
 * snapshot folder, so the rest of collect treats it exactly as a store folder: the same verify, the
 * same witness, timeline, tables and report.
 *
 * Hosts are read with bounded concurrency (4 stores at a time, each with up to 8 GETs in flight),
 * and each finished host gets a progress line of its own. A host whose newest checkpoint reached the
 * vault longer ago than its own recorded policy allows is named: the agent seals at least every
 * heartbeat plus checkpoint interval, so a silence longer than that (plus a grace for shipping) means
 * the host is down, its agent stopped, or it is cut off from the vault.
 */
import { join } from 'node:path';
import type { BundleManifest } from '../src/bundle/manifest.js';
import { CustodyError, ErrorCodes } from '../src/errors.js';
import { writeStoreFromReader } from '../src/store/reader-snapshot.js';
import { VaultCopyReader } from '../src/vault/copy-reader.js';
import { storePrefix } from '../src/vault/layout.js';
import { listVaultStores, mapBounded, readVaultStore, resolveVaultStore, type VaultStoreCopy } from '../src/vault/read.js';
import type { VaultClient } from '../src/vault/s3.js';
import { formatVaultUrl } from '../src/vault/url.js';
import type { Finding } from '../src/verify/store-findings.js';
import { analyseVaultCopy, type VaultCopyAnalysis } from '../src/verify/vault-copy.js';
import type { CollectProgress } from './collect.js';
import { holdVersions } from './vault-case.js';
import type { VaultAccess } from './vault.js';
import { maxOf } from '../src/extremes.js';

export interface VaultCollectOptions {
  access: VaultAccess;
  /** Hosts to collect (each with all its stores); or allHosts. */
  hosts?: readonly string[];
  allHosts?: boolean;
  /** Stores read at the same time (default 4). */
  concurrency?: number;
  /** GETs in flight per store (default 8). */
  readConcurrency?: number;
  /** Place legal holds on every object used (default true). */
  hold?: boolean;
  /** A time window (RFC 3339 instants, already checked): only the segments that can hold records observed in it are read. */
  since?: string;
  until?: string;
}

export type VaultProvenance = NonNullable<BundleManifest['hosts'][number]['vault']>;
export type WindowClaim = NonNullable<BundleManifest['hosts'][number]['window']>;

export interface VaultSource {
  /** The store snapshot written from the vault's copy; undefined for a store also given with --store (checked, not copied). */
  dir: string | undefined;
  /** For a store also given with --store: the vault's analysed copy, to check the store folder against. */
  check?: VaultCopyAnalysis;
  host: string;
  storeId: string;
  client: VaultClient;
  /** The vault copy's own findings (second versions, segments, pending records), for the host's result. */
  findings: Finding[];
  provenance: VaultProvenance;
  /** For a time window: what the snapshot holds of the store, for the manifest. */
  window?: WindowClaim;
}

const WINDOW_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * `--since`/`--until`: ISO 8601 with a date, a time and an explicit zone, as RFC 3339 writes it
 * (`2026-12-05T09:30:00+09:00`, `2026-12-05T00:30Z`, `2026-12-05T00:30:00.250Z`; seconds and a
 * fraction optional, `Z` or ±hh:mm). A time without a zone is refused: the host's, the collector's
 * and the examiner's zones differ, and a window read in the wrong one leaves records out. Returned
 * as RFC 3339 UTC (milliseconds: a finer fraction is cut, which widens a window by under 1 ms at
 * most at --since; --until is rounded up so it never narrows).
 */
export function parseWindowTime(flag: '--since' | '--until', value: string): string {
  const m = WINDOW_TIME.exec(value);
  const ms = m === null ? NaN : Date.parse(value);
  const [, y, mo, d, h, mi, sec] = m ?? [];
  const fieldsOk = m !== null && Number(mo) >= 1 && Number(mo) <= 12 && Number(d) >= 1 && Number(d) <= 31 && Number(h) <= 23 && Number(mi) <= 59 && Number(sec ?? 0) <= 59 && y !== undefined;
  if (!fieldsOk || Number.isNaN(ms) || new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))).getUTCDate() !== Number(d)) {
    throw new CustodyError(ErrorCodes.USAGE, `${flag} ${JSON.stringify(value)} is not an ISO 8601 time with a zone: give e.g. 2026-12-05T09:30:00+09:00 or 2026-12-05T00:30:00Z`);
  }
  const fraction = m?.[7] ?? '';
  const roundUp = flag === '--until' && fraction.length > 4 && /[1-9]/.test(fraction.slice(4));
  return new Date(ms + (roundUp ? 1 : 0)).toISOString();
}

/** Both window bounds checked, and in order. */
export function parseWindowFlags(since: string | undefined, until: string | undefined): { since?: string; until?: string } {
  const s = since === undefined ? undefined : parseWindowTime('--since', since);
  const u = until === undefined ? undefined : parseWindowTime('--until', until);
  if (s !== undefined && u !== undefined && Date.parse(u) < Date.parse(s)) throw new CustodyError(ErrorCodes.USAGE, `--until ${until} is before --since ${since}: the window is empty`);
  return { ...(s !== undefined ? { since: s } : {}), ...(u !== undefined ? { until: u } : {}) };
}

/** Time for an acknowledged checkpoint to reach the vault beyond the agent's own intervals. */
const SHIP_GRACE_MS = 120_000;

interface RecordedPolicy {
  checkpoint_ms?: number;
  heartbeat_ms?: number;
}

/** The newest agent.start's policy and whether the log ends in a sealed agent.stop. */
function agentAccount(analysis: VaultCopyAnalysis): { policy: RecordedPolicy | undefined; stoppedAt: string | undefined } {
  let policy: RecordedPolicy | undefined;
  let stoppedAt: string | undefined;
  for (let i = analysis.records.length - 1; i >= 0; i--) {
    let r: { kind?: unknown; observed_at?: unknown; payload?: { policy?: RecordedPolicy } };
    try {
      r = JSON.parse(Buffer.from(analysis.records[i] as Uint8Array).toString('utf8')) as typeof r;
    } catch {
      continue;
    }
    if (i === analysis.records.length - 1 && r.kind === 'agent.stop' && typeof r.observed_at === 'string') stoppedAt = r.observed_at;
    if (r.kind === 'agent.start') {
      policy = r.payload?.policy;
      break;
    }
  }
  return { policy, stoppedAt };
}

function behindPolicy(analysis: VaultCopyAnalysis, receivedAt: string | undefined, nowMs: number): string | undefined {
  const { policy, stoppedAt } = agentAccount(analysis);
  if (policy === undefined || typeof policy.checkpoint_ms !== 'number' || typeof policy.heartbeat_ms !== 'number') return undefined;
  if (receivedAt === undefined) return undefined;
  const limitMs = policy.heartbeat_ms + policy.checkpoint_ms + SHIP_GRACE_MS;
  const silentMs = nowMs - Date.parse(receivedAt);
  if (!(silentMs > limitMs)) return undefined;
  const minutes = (ms: number): string => `${Math.round(ms / 60_000)} min`;
  return (
    `its newest checkpoint reached the vault ${minutes(silentMs)} ago (${receivedAt}); its agent's policy seals at least every ${minutes(policy.heartbeat_ms + policy.checkpoint_ms)} ` +
    `(heartbeat ${policy.heartbeat_ms} ms + checkpoint ${policy.checkpoint_ms} ms, plus ${minutes(SHIP_GRACE_MS)} for shipping): ` +
    (stoppedAt !== undefined ? `its last record is a sealed agent.stop at ${stoppedAt} (the agent was stopped)` : 'the host is down, its agent stopped without a trace, or it is cut off from the vault')
  );
}

function objectsOf(copy: VaultStoreCopy): { key: string; version_id: string }[] {
  const all = [copy.enrollment, ...copy.certificates, ...copy.checkpoints, ...copy.tsaTokens, ...copy.segments, ...copy.blobs];
  return all
    .filter((o): o is NonNullable<typeof o> => o !== undefined)
    .map((o) => ({ key: o.key, version_id: o.versionId ?? 'null' }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** What a windowed snapshot holds, each end named by the signed checkpoint that proves it. */
function windowClaim(analysis: VaultCopyAnalysis, options: VaultCollectOptions): WindowClaim {
  const at = (size: number): { checkpoint_id: number; tree_size: number } | undefined => {
    const c = analysis.checkpoints.filter((x) => x.treeSize === size).sort((a, b) => a.checkpointId - b.checkpointId)[0];
    return c === undefined ? undefined : { checkpoint_id: c.checkpointId, tree_size: c.treeSize };
  };
  const start = analysis.recordsStart > 0 ? at(analysis.recordsStart) : undefined;
  const end = analysis.recordsEnd > analysis.recordsStart ? at(analysis.recordsEnd) : undefined;
  return {
    ...(options.since !== undefined ? { since: options.since } : {}),
    ...(options.until !== undefined ? { until: options.until } : {}),
    first_seq: analysis.recordsStart,
    end_seq: analysis.recordsEnd,
    ...(start !== undefined ? { start_checkpoint: start } : {}),
    ...(end !== undefined ? { end_checkpoint: end } : {}),
    vault_tree_size: maxOf(analysis.checkpoints.map((c) => c.treeSize), analysis.recordsEnd),
  };
}

/**
 * Reads the stores with `client` (the caller opens and destroys it, and so can still record the
 * holds placed so far when a later step fails: a legal hold never expires, and release finds holds
 * only through a case record). `onHeld` is told of every version held, as soon as it is.
 */
export async function collectFromVault(
  options: VaultCollectOptions,
  client: VaultClient,
  workDir: string,
  ctx: { nowMs: number; localStores: ReadonlyMap<string, Uint8Array | undefined>; report: (p: Partial<CollectProgress>) => void; onHeld: (objects: readonly { key: string; version_id: string }[]) => void },
): Promise<VaultSource[]> {
  if ((options.hosts === undefined || options.hosts.length === 0) && options.allHosts !== true) {
    throw new CustodyError(ErrorCodes.USAGE, '--vault needs the hosts to collect: --host NAME (repeatable) or --all-hosts');
  }
  if (options.allHosts === true && options.hosts !== undefined && options.hosts.length > 0) {
    throw new CustodyError(ErrorCodes.USAGE, '--all-hosts collects every host in the vault: leave out --host, or name the hosts without --all-hosts');
  }
  {
    ctx.report({ stage: 'vault', detail: `listing ${formatVaultUrl(client.vault)}` });
    const listed = options.allHosts === true ? await listVaultStores(client) : (await mapBounded(options.hosts ?? [], 4, (h) => resolveVaultStore(client, h))).flat();
    const seen = new Set<string>();
    const stores = listed.filter((s) => {
      const id = `${s.host}\u0000${s.storeId}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    if (stores.length === 0 && options.allHosts === true) throw new CustodyError(ErrorCodes.VAULT_NOT_FOUND, 'the vault holds no host yet', { where: formatVaultUrl(client.vault) });
    const vaultUrl = formatVaultUrl(client.vault);
    let done = 0;
    const sources = await mapBounded(stores, options.concurrency ?? 4, async (s, i) => {
      // A store also given with --store is collected from its folder (which also holds what was not
      // shipped yet) and checked against the vault's copy, read without its blobs.
      const local = ctx.localStores.has(s.storeId);
      const localKey = ctx.localStores.get(s.storeId);
      const windowed = options.since !== undefined || options.until !== undefined;
      const copy = await readVaultStore(client, s.host, s.storeId, {
        ...(options.readConcurrency !== undefined ? { concurrency: options.readConcurrency } : {}),
        ...(local ? { blobs: false } : {}),
        ...(options.since !== undefined ? { since: options.since } : {}),
        ...(options.until !== undefined ? { until: options.until } : {}),
      });
      const analysis = analyseVaultCopy(copy, localKey !== undefined ? { publicKeyRaw: localKey } : {});
      const location = `s3://${client.bucket}/${storePrefix(client.vault.prefix, s.host, s.storeId)}`;
      const dir = local ? undefined : join(workDir, String(i));
      if (dir !== undefined) writeStoreFromReader(dir, new VaultCopyReader(copy, analysis, location), copy.enrollment?.bytes);
      const newest = [...analysis.checkpoints].sort((a, b) => b.treeSize - a.treeSize || b.checkpointId - a.checkpointId)[0];
      const receivedAt = newest === undefined ? undefined : copy.checkpoints.find((c) => c.checkpointId === newest.checkpointId)?.receivedAt;
      // A window's records need not reach the newest agent.start: its policy is then not judged.
      const behind = windowed ? undefined : behindPolicy(analysis, receivedAt, ctx.nowMs);
      const window = windowed ? windowClaim(analysis, options) : undefined;
      const objects = objectsOf(copy);
      // Held as soon as read, while other stores are still being read: the holds cost as many
      // requests as the reads, and overlapping them is most of what keeps collect near a raw GET.
      if (options.hold !== false) {
        await holdVersions(client, objects, options.readConcurrency ?? 8);
        ctx.onHeld(objects);
      }
      const bytes = [copy.enrollment, ...copy.certificates, ...copy.checkpoints, ...copy.tsaTokens, ...copy.segments, ...copy.blobs].reduce((n, o) => n + (o?.bytes.length ?? 0), 0);
      done++;
      ctx.report({
        stage: 'vault',
        detail: `${s.host} ${s.storeId}`,
        line:
          `vault ${done}/${stores.length} ${s.host} ${s.storeId}${local ? ' (also given with --store: the folder is collected and checked against these)' : ''}: ${objects.length} objects, ${(bytes / 1048576).toFixed(1)} MiB, records ${analysis.recordsStart}..${analysis.recordsEnd - 1}${window !== undefined ? ` (the segments around the window; the vault's newest checkpoint covers ${window.vault_tree_size})` : ''}` +
          `${receivedAt ? `, newest checkpoint received ${receivedAt}` : ''}${analysis.findings.length > 0 ? `, ${analysis.findings.length} vault finding(s)` : ''}${behind ? `; BEHIND ITS POLICY: ${behind}` : ''}`,
      });
      const source: VaultSource = {
        dir,
        ...(local ? { check: analysis } : {}),
        host: s.host,
        storeId: s.storeId,
        client,
        findings: analysis.findings,
        ...(window !== undefined ? { window } : {}),
        provenance: {
          url: vaultUrl,
          prefix: storePrefix(client.vault.prefix, s.host, s.storeId),
          objects,
          ...(newest !== undefined ? { newest_checkpoint: { checkpoint_id: newest.checkpointId, tree_size: newest.treeSize, ...(receivedAt !== undefined ? { received_at: receivedAt } : {}) } } : {}),
          ...(behind !== undefined ? { behind_policy: behind } : {}),
        },
      };
      return source;
    });
    return sources;
  }
}
