/**
 * Collect's verify stage, one snapshot at a time: the snapshot verified against its live store's
 * enrollment key, with what the vault found of the same store joined to its result. The result goes
 * into the manifest as it is; nothing it finds stops the collection (a damaged store is evidence too).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprint } from '../../src/integrity/keys.js';
import { ENROLLMENT_FILE } from '../../src/store/keyfiles.js';
import type { StoreVerification } from '../../src/verify/store-verify.js';
import { compareWithVault } from '../../src/verify/vault-copy.js';
import type { VaultSource } from '../collect-vault.js';
import { verifyStoreDir } from '../verify.js';
import { localFacts } from '../verify-vault.js';
import type { StoreSnapshot, StoreSource } from './snapshot.js';

export interface StoreVerified {
  verification: StoreVerification;
  /** The snapshot's Merkle root at its tree size, as the verification computed it (undefined if it stopped before). */
  root: Uint8Array | undefined;
  /** Where the vault holds this store: the copy it was collected from, or the one a store folder was checked against. */
  vaultOf: VaultSource | undefined;
  /** Whether its records belong in the timeline, the tables and the report. */
  inTimeline: boolean;
}

export interface VerifyContext {
  tsaCaFiles: readonly string[] | undefined;
  /** By store id: the vault's copies of stores also given as folders. */
  vaultChecks: ReadonlyMap<string, readonly VaultSource[]>;
}

const hasError = (v: StoreVerification): boolean => v.findings.some((f) => f.severity === 'error');

export async function verifyStage(src: StoreSource, snap: StoreSnapshot, ctx: VerifyContext): Promise<StoreVerified> {
  const { host, storeId, meta, dest } = snap;
  const rawKey = new Uint8Array(Buffer.from(meta.get('enrollment_public_key') ?? '', 'base64'));
  const liveEnrollment = join(src.dir, ENROLLMENT_FILE);
  const trustKey = existsSync(liveEnrollment) ? liveEnrollment : rawKey.length === 32 ? fingerprint(rawKey) : undefined;
  let root: Uint8Array | undefined;
  // A vault copy filed under another host than its records name is kept as evidence of that
  // (with its findings), but its records are not the named host's activity: they stay out of
  // the timeline, the tables and the report.
  const inTimeline = src.vault === undefined || meta.get('host') === host;
  const verification = await verifyStoreDir(dest, {
    // Collect parses every record anyway: the timeline pass proves each well-formed (canonical
    // JSON, its kind's schema) and adds what it finds to this result before the bundle is
    // sealed, so this verification proves integrity only (issue 14). A store kept out of the
    // timeline is checked deep here instead.
    deep: !inTimeline,
    ...(trustKey !== undefined ? { key: trustKey } : {}),
    ...(ctx.tsaCaFiles ? { tsaCa: [...ctx.tsaCaFiles] } : {}),
    // A window's tree size is its end seq, not its count of records.
    rootsAt: [snap.treeSize],
    onRoot: (_size, r) => (root = r),
  });
  if (src.vault !== undefined) {
    // What the vault's own checks found (second versions, segments, pending records) belongs to this host's result.
    // An array literal, not unshift(...): spreading into a call stops at ~120,000 findings.
    verification.findings = [...src.vault.findings, ...verification.findings];
  }
  if (verification.window !== undefined && src.vault?.window === undefined) {
    // Only a vault window's snapshot may start after seq 0: a folder that says it does has lost
    // (or had removed) everything before its start, whatever its own metadata claims.
    verification.findings.push({
      code: 'window.in_store_folder',
      severity: 'error',
      message: `the store folder ${src.dir} says it holds only seq ${verification.window.startSeq}..${verification.window.endSeq - 1} of its store (a window's metadata): records before seq ${verification.window.startSeq} are not there`,
      where: { file: src.dir },
    });
  }
  const checks = src.vault === undefined ? (ctx.vaultChecks.get(storeId) ?? []) : [];
  const vaultCheck = checks.find((c) => c.host === host) ?? checks[0];
  for (const other of checks) {
    if (other === vaultCheck) continue;
    // Loops, not push(...): a hostile vault copy can have more findings than a spread call takes.
    for (const f of other.findings) verification.findings.push({ ...f, message: `the vault's copy of this store filed under host ${other.host}: ${f.message}` });
  }
  if (vaultCheck?.check !== undefined) {
    // A store folder the vault also holds: the snapshot checked against what its agent shipped (a rollback names itself here).
    for (const f of vaultCheck.findings) verification.findings.push(f);
    for (const f of compareWithVault(localFacts(dest).facts, vaultCheck.check)) verification.findings.push(f);
  }
  verification.ok = !hasError(verification);
  return { verification, root, vaultOf: src.vault ?? vaultCheck, inTimeline };
}
