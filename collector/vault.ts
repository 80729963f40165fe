/**
 * `custody vault init` and `custody vault hosts`: plain async functions over the S3 module, so the
 * CLI stays a thin shell and tests call them directly against a real vault.
 *
 * init refuses rather than repairs: a bucket that cannot lock (no Object Lock, versioning off or
 * suspended) cannot be made into a vault by custody, and an existing default rule is reported,
 * never changed (init must not quietly weaken or alter a vault's policy). The one thing init adds
 * to an existing bucket is a missing default retention rule on a bucket that has Object Lock on:
 * that only strengthens it (every object is then locked even if a writer sends no lock headers).
 */
import { CustodyError, ErrorCodes } from '../src/errors.js';
import { checkpointsPrefix, hostsPrefix, parseObjectKey, decodeHost, hostPrefix } from '../src/vault/layout.js';
import { VaultClient, type LockMode } from '../src/vault/s3.js';
import { formatVaultUrl, parseVaultUrl } from '../src/vault/url.js';
import { escapeForTerminal } from '../src/text/terminal.js';

export interface VaultAccess {
  url: string;
  endpoint?: string;
  /** The environment the AWS SDK would read (endpoint, region, keys). */
  env: Readonly<Record<string, string | undefined>>;
  maxAttempts?: number;
}

export interface VaultInitOptions extends VaultAccess {
  /** `365d` or `1y` (S3's default retention is whole days or years). Default 365d. */
  retention?: string;
  /** Default compliance. */
  mode?: string;
}

export interface VaultInitResult {
  vault: string;
  bucket: string;
  /** true when this call created the bucket. */
  created: boolean;
  /** true when this call added the default retention rule to an existing lock bucket. */
  ruleAdded: boolean;
  versioning: 'Enabled';
  objectLock: true;
  defaultRetention: { mode: LockMode; days: number };
  warnings: string[];
}

/** `365d`, `30d`, `1y` → days (a year is 365 days, as S3 counts a default retention in years). */
export function parseRetention(value: string): number {
  const m = /^([1-9]\d{0,5})([dy])$/.exec(value.trim());
  if (m === null) throw new CustodyError(ErrorCodes.USAGE, `--retention must be a number of days or years, like 365d or 7y; got ${JSON.stringify(value)}`);
  const n = Number(m[1]);
  const days = m[2] === 'y' ? n * 365 : n;
  if (days > 36500) throw new CustodyError(ErrorCodes.USAGE, `--retention ${value} is longer than 100 years`);
  return days;
}

export function parseLockMode(value: string | undefined): LockMode {
  if (value === undefined || value.toLowerCase() === 'compliance') return 'COMPLIANCE';
  if (value.toLowerCase() === 'governance') return 'GOVERNANCE';
  throw new CustodyError(ErrorCodes.USAGE, `--mode must be compliance or governance, got ${JSON.stringify(value)}`);
}

export function openVault(access: VaultAccess): VaultClient {
  const vault = parseVaultUrl(access.url);
  return new VaultClient(vault, {
    env: access.env,
    ...(access.endpoint !== undefined ? { endpoint: access.endpoint } : {}),
    ...(access.maxAttempts !== undefined ? { maxAttempts: access.maxAttempts } : {}),
  });
}

function notLockable(bucket: string, reason: string): CustodyError {
  return new CustodyError(ErrorCodes.VAULT_NOT_LOCKABLE, `bucket ${bucket} cannot be an evidence vault: ${reason}`, { where: `s3://${bucket}` });
}

export async function vaultInit(options: VaultInitOptions): Promise<VaultInitResult> {
  const days = parseRetention(options.retention ?? '365d');
  const mode = parseLockMode(options.mode);
  const client = openVault(options);
  try {
    const warnings: string[] = [];
    let created = false;
    let ruleAdded = false;
    if (!(await client.bucketExists())) {
      await client.createLockedBucket({ mode, days });
      created = true;
    }
    let config = await client.lockConfiguration();
    if (!config.objectLock) {
      throw notLockable(
        client.bucket,
        'Object Lock is not enabled on it (S3 turns Object Lock on when a bucket is created; make a new bucket with `custody vault init s3://NEW-BUCKET`)',
      );
    }
    if (config.versioning !== 'Enabled') {
      throw notLockable(client.bucket, `versioning is ${config.versioning === 'Suspended' ? 'suspended' : 'off'}; Object Lock needs it enabled`);
    }
    if (config.defaultRule === undefined) {
      await client.putDefaultRetention({ mode, days });
      ruleAdded = true;
      config = await client.lockConfiguration();
    }
    const rule = config.defaultRule;
    if (rule === undefined) throw notLockable(client.bucket, 'it has no default retention rule and did not keep the one custody set');
    const ruleDays = rule.days ?? (rule.years ?? 0) * 365;
    if (!created && !ruleAdded && (rule.mode !== mode || ruleDays !== days)) {
      warnings.push(`the bucket keeps its own default retention (${rule.mode.toLowerCase()}, ${ruleDays} days); init does not change an existing vault's rule`);
    }
    if (rule.mode === 'GOVERNANCE') {
      warnings.push('governance mode: anyone with s3:BypassGovernanceRetention can delete or shorten the retention of evidence; compliance mode is the guarantee');
    }
    return {
      vault: formatVaultUrl(client.vault),
      bucket: client.bucket,
      created,
      ruleAdded,
      versioning: 'Enabled',
      objectLock: true,
      defaultRetention: { mode: rule.mode, days: ruleDays },
      warnings,
    };
  } finally {
    client.destroy();
  }
}

export function formatVaultInit(r: VaultInitResult): string {
  const what = r.created ? 'created' : r.ruleAdded ? 'checked (default retention added)' : 'checked';
  let out = `vault ${r.vault}: ${what}\n  versioning: enabled\n  object lock: enabled, default retention ${r.defaultRetention.mode.toLowerCase()} ${r.defaultRetention.days} days\n`;
  for (const w of r.warnings) out += `  warning: ${w}\n`;
  return out;
}

export interface VaultHost {
  host: string;
  storeId: string;
  /** The newest checkpoint the vault holds for this store, or undefined when it holds none yet. */
  newestCheckpoint: { treeSize: number; checkpointId: number; key: string; bytes: number; receivedAt: string | undefined } | undefined;
  /** Seconds from the vault's receipt of the newest checkpoint to `now`: how far behind shipping is, or the host is. */
  behindSeconds: number | undefined;
}

export interface VaultHostsResult {
  vault: string;
  hosts: VaultHost[];
  /** Names under the hosts/ prefix that are not in the layout (a host or store folder custody never writes). */
  unrecognised: string[];
}

/**
 * Every host and store in the vault with its newest checkpoint. Cost: one LIST for the hosts, one per
 * host for its stores, and one short LIST per store (checkpoint names sort newest first); no object
 * is read. "Received" is the vault's own LastModified, not the host's clock.
 */
export async function vaultHosts(access: VaultAccess, nowMs: number): Promise<VaultHostsResult> {
  const client = openVault(access);
  const prefix = client.vault.prefix;
  try {
    const hosts: VaultHost[] = [];
    const unrecognised: string[] = [];
    for await (const page of client.list(hostsPrefix(prefix), { delimiter: '/' })) {
      for (const o of page.objects) unrecognised.push(o.key);
      for (const hp of page.prefixes) {
        const host = decodeHost(hp.slice(hostsPrefix(prefix).length, -1));
        if (host === undefined) {
          unrecognised.push(hp);
          continue;
        }
        for await (const storePage of client.list(hostPrefix(prefix, host), { delimiter: '/' })) {
          for (const o of storePage.objects) unrecognised.push(o.key);
          for (const sp of storePage.prefixes) {
            const storeId = sp.slice(hostPrefix(prefix, host).length, -1);
            if (!/^[0-9a-f]{32}$/.test(storeId)) {
              unrecognised.push(sp);
              continue;
            }
            hosts.push(await newestOf(client, prefix, host, storeId, nowMs));
          }
        }
      }
    }
    return { vault: formatVaultUrl(client.vault), hosts, unrecognised };
  } finally {
    client.destroy();
  }
}

async function newestOf(client: VaultClient, prefix: string, host: string, storeId: string, nowMs: number): Promise<VaultHost> {
  // Newest first: the first note in the listing is the newest checkpoint. Its TSA tokens sort after it.
  for await (const page of client.list(checkpointsPrefix(prefix, host, storeId))) {
    for (const o of page.objects) {
      const parsed = parseObjectKey(prefix, o.key);
      if (parsed?.type !== 'checkpoint') continue;
      const receivedMs = o.lastModified?.getTime();
      return {
        host,
        storeId,
        newestCheckpoint: {
          treeSize: parsed.treeSize,
          checkpointId: parsed.checkpointId,
          key: o.key,
          bytes: o.size,
          receivedAt: o.lastModified?.toISOString(),
        },
        behindSeconds: receivedMs === undefined ? undefined : Math.max(0, Math.round((nowMs - receivedMs) / 1000)),
      };
    }
  }
  return { host, storeId, newestCheckpoint: undefined, behindSeconds: undefined };
}

function age(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

/** A table for people; host names are shown escaped (they come from the vault, any byte may be in them). */
export function formatVaultHosts(r: VaultHostsResult): string {
  const esc = escapeForTerminal;
  const rows = [['HOST', 'STORE', 'RECORDS', 'NEWEST CHECKPOINT (vault time)', 'BEHIND']];
  for (const h of r.hosts) {
    rows.push([
      esc(h.host),
      h.storeId,
      h.newestCheckpoint === undefined ? '-' : String(h.newestCheckpoint.treeSize),
      h.newestCheckpoint?.receivedAt ?? 'none shipped',
      age(h.behindSeconds),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  let out = `vault ${r.vault}: ${r.hosts.length} store${r.hosts.length === 1 ? '' : 's'}\n`;
  for (const row of rows) out += `${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`;
  for (const u of r.unrecognised) out += `not in custody's layout: ${esc(u)}\n`;
  return out;
}
