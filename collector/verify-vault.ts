/**
 * `custody verify STORE --vault s3://B` and `custody verify --vault s3://B --host NAME`: the store
 * on the host checked against the seals and records its agent shipped, or, with the store gone, the
 * vault's copy verified on its own. Reads (the store, the vault) here; every check is pure
 * (src/verify/store-verify.ts, src/verify/vault-copy.ts).
 */
import { CustodyError, ErrorCodes } from '../src/errors.js';
import { fingerprint } from '../src/integrity/keys.js';
import { HASH_SIZE, leafHash } from '../src/integrity/merkle.js';
import { SqliteStoreReader } from '../src/store/store-reader.js';
import { VaultCopyReader } from '../src/vault/copy-reader.js';
import { storePrefix } from '../src/vault/layout.js';
import { listVaultStores, readVaultStore, resolveVaultStore, type VaultStoreCopy } from '../src/vault/read.js';
import type { VaultClient } from '../src/vault/s3.js';
import { formatVaultUrl } from '../src/vault/url.js';
import { verifyStore, type Finding, type StoreVerification, type TrustAnchor, type VaultCheckSummary } from '../src/verify/store-verify.js';
import { analyseVaultCopy, compareWithVault, type LocalStoreFacts, type VaultCopyAnalysis } from '../src/verify/vault-copy.js';
import { openVault, type VaultAccess } from './vault.js';
import { loadTsaRoots, resolveTrustAnchor, verifyStoreDir, type VerifyStoreDirOptions } from './verify.js';

export interface VerifyWithVaultOptions extends Pick<VerifyStoreDirOptions, 'key' | 'tsaCa' | 'onProgress' | 'deep'> {
  /** Parallel GETs from the vault (default 8). */
  concurrency?: number;
}

function finish(result: StoreVerification): StoreVerification {
  result.ok = !result.findings.some((f) => f.severity === 'error');
  return result;
}

function summary(client: VaultClient, copy: VaultStoreCopy, analysis: VaultCopyAnalysis, mode: VaultCheckSummary['mode']): VaultCheckSummary {
  const newest = [...analysis.checkpoints].sort((a, b) => b.treeSize - a.treeSize || b.checkpointId - a.checkpointId)[0];
  const received = newest === undefined ? undefined : copy.checkpoints.find((c) => c.checkpointId === newest.checkpointId)?.receivedAt;
  const objects =
    (copy.enrollment ? 1 : 0) + copy.certificates.length + copy.checkpoints.length + copy.tsaTokens.length + copy.segments.length + copy.blobs.length;
  return {
    url: formatVaultUrl(client.vault),
    prefix: storePrefix(client.vault.prefix, copy.host, copy.storeId),
    mode,
    checkpoints: analysis.checkpoints.length,
    newest: newest === undefined ? undefined : { checkpointId: newest.checkpointId, treeSize: newest.treeSize, receivedAt: received },
    recordsEnd: analysis.recordsEnd,
    objects,
  };
}

function trustForVault(trust: TrustAnchor): { publicKeyRaw?: Uint8Array; fingerprint?: string } {
  return trust.publicKeyRaw !== undefined ? { publicKeyRaw: trust.publicKeyRaw } : trust.fingerprint !== undefined ? { fingerprint: trust.fingerprint } : {};
}

/**
 * A store folder's facts for the comparison with the vault: leaf hashes from the bytes as read (not
 * the leaf_hash column, which an attacker rewrites with the bytes), and the checkpoint notes.
 */
export function localFacts(storeDir: string): { host: string; storeId: string; facts: LocalStoreFacts } {
  const reader = new SqliteStoreReader(storeDir);
  let host: string | undefined;
  let storeId: string | undefined;
  let records = 0;
  let checkpoints: { id: number; tree_size: number; note: string }[];
  const chunks: Uint8Array[] = [];
  try {
    const meta = reader.meta();
    host = meta.get('host');
    storeId = meta.get('store_id');
    checkpoints = reader.checkpoints().map((c) => ({ id: c.id, tree_size: c.tree_size, note: c.note }));
    for (const r of reader.records()) {
      if (r.seq !== records) break; // a gap: the local verification names it; compare the gapless prefix
      chunks.push(leafHash(r.bytes));
      records++;
    }
  } finally {
    reader.close();
  }
  if (host === undefined || storeId === undefined || !/^[0-9a-f]{32}$/.test(storeId)) {
    throw new CustodyError(ErrorCodes.STORE_CORRUPT, 'the store has no host or store id, so its place in the vault is unknown', { where: storeDir });
  }
  return { host, storeId, facts: { records, leaves: new Uint8Array(Buffer.concat(chunks, records * HASH_SIZE)), checkpoints } };
}

/** The store folder verified as `custody verify STORE` does, then checked against the vault's copy. */
export async function verifyStoreWithVault(storeDir: string, access: VaultAccess, options: VerifyWithVaultOptions = {}): Promise<StoreVerification> {
  const trust = resolveTrustAnchor(storeDir, options.key);
  const result = await verifyStoreDir(storeDir, { ...(options.key !== undefined ? { key: options.key } : {}), ...(options.tsaCa !== undefined ? { tsaCa: options.tsaCa } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.deep !== undefined ? { deep: options.deep } : {}) });

  const { host, storeId, facts } = localFacts(storeDir);
  const client = openVault(access);
  try {
    const known = (await listVaultStores(client, [host])).some((s) => s.storeId === storeId);
    const vaultFindings: Finding[] = [];
    if (!known) {
      vaultFindings.push({
        code: 'vault.store_not_shipped',
        severity: 'error',
        message: `the vault holds no object of store ${storeId} of host ${JSON.stringify(host)}: its agent never shipped to this vault (or ships under another prefix), so nothing was checked against it`,
        where: { vaultObject: storePrefix(client.vault.prefix, host, storeId) },
      });
      result.findings.push(...vaultFindings);
      return finish(result);
    }
    const copy = await readVaultStore(client, host, storeId, { blobs: false, ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}) });
    const analysis = analyseVaultCopy(copy, trustForVault(trust));
    vaultFindings.push(...analysis.findings, ...compareWithVault(facts, analysis));
    result.findings.push(...vaultFindings);
    result.vault = summary(client, copy, analysis, 'store');
    return finish(result);
  } finally {
    client.destroy();
  }
}

export interface VerifyVaultHostOptions extends VerifyWithVaultOptions {
  host: string;
  storeId?: string;
  /** Worker threads for the per-record checks (see VerifyStoreOptions.workers). */
  workers?: number;
}

/**
 * A host's store verified from the vault alone (the store deleted, the host unreachable): one
 * result per store of the host (a re-enrolled machine has more than one), or only `storeId`'s.
 */
export async function verifyVaultHost(access: VaultAccess, options: VerifyVaultHostOptions): Promise<StoreVerification[]> {
  const tsaRoots = loadTsaRoots(options.tsaCa);
  const pinned: TrustAnchor | undefined = options.key !== undefined ? resolveTrustAnchor('.', options.key) : undefined;
  const client = openVault(access);
  try {
    const stores = await resolveVaultStore(client, options.host, options.storeId);
    const results: StoreVerification[] = [];
    for (const s of stores) {
      const copy = await readVaultStore(client, s.host, s.storeId, options.concurrency !== undefined ? { concurrency: options.concurrency } : {});
      const location = `${formatVaultUrl({ bucket: client.bucket, prefix: '' })}/${storePrefix(client.vault.prefix, s.host, s.storeId)}`;
      // Without a pin, the shipped enrollment key is the anchor, and the output says so.
      const shipped = analyseVaultCopy(copy, {});
      const trust: TrustAnchor =
        pinned ?? (shipped.enrollment !== undefined ? { publicKeyRaw: shipped.enrollment.publicKeyRaw, source: 'vault-enrollment' } : { fingerprint: 'SHA256:', source: 'vault-enrollment' });
      const analysis = pinned === undefined ? shipped : analyseVaultCopy(copy, trustForVault(pinned));
      const reader = new VaultCopyReader(copy, analysis, location);
      const result = await verifyStore(reader, {
        trust,
        tsaRoots,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.workers !== undefined ? { workers: options.workers } : {}),
      });
      // The vault's own findings first: they say which objects the copy above was built from.
      // An array literal, not unshift(...): spreading into a call stops at ~120,000 findings.
      result.findings = [...analysis.findings, ...result.findings];
      result.vault = summary(client, copy, analysis, 'vault-only');
      if (analysis.enrollment !== undefined && result.trust.fingerprint === 'SHA256:') result.trust.fingerprint = fingerprint(analysis.enrollment.publicKeyRaw);
      results.push(finish(result));
    }
    return results;
  } finally {
    client.destroy();
  }
}
