/**
 * Collect's snapshot stage, one store at a time: a running agent is asked to seal what it has
 * appended, then the store is copied consistently (VACUUM INTO, safe while the agent writes) into
 * `evidence/<host>/<store_id>/` of the bundle being built.
 */
import { join } from 'node:path';
import { CustodyError, ErrorCodes } from '../../src/errors.js';
import { requestSeal, type SealRequestResult } from '../../src/net/agent-control.js';
import { snapshotStore } from '../../src/store/snapshot.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import type { VaultSource } from '../collect-vault.js';

/** A store to collect: a folder on this machine (an agent's, an import's, triage's) or a vault copy written to one. */
export interface StoreSource {
  dir: string;
  source: 'agent-store' | 'triage' | 'import' | 'vault';
  vault?: VaultSource;
}

/** A store's snapshot in the bundle being built. */
export interface StoreSnapshot {
  /** The host it is collected under: a vault copy's is the host the vault files it under. */
  host: string;
  storeId: string;
  origin: string;
  /** The store folder's metadata, read before the snapshot. */
  meta: Map<string, string>;
  /** Its folder in the bundle (`evidence/<host>/<store_id>`) and that folder on disk. */
  rel: string;
  dest: string;
  records: number;
  /** The snapshot's tree size: a window's end seq, not its count of records. */
  treeSize: number;
  /** What the running agent answered when asked to seal (agent stores only). */
  agentSeal?: SealRequestResult;
}

export interface SnapshotContext {
  /** The bundle being built. */
  work: string;
  /** Bundle folders already used: the same store given twice is refused. */
  usedPaths: Set<string>;
  sealTimeoutMs: number;
  report: (detail: string) => void;
}

/** A bundle path component from a host name or store id: anything but [A-Za-z0-9._-] and leading dots become `_`, at most 200 characters. */
export function safeComponent(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return cleaned === '' ? '_' : cleaned.slice(0, 200);
}

export async function snapshotStage(src: StoreSource, ctx: SnapshotContext): Promise<StoreSnapshot> {
  const live = new SqliteStoreReader(src.dir);
  let meta: Map<string, string>;
  try {
    meta = live.meta();
  } finally {
    live.close();
  }
  // A vault copy goes under the host the vault files it under (what --host named): a copy filed
  // under another host than its own records name is then its own entry with its findings
  // (vault.copy_invalid, host.mismatch) instead of a clash that stops the whole collection.
  const host = src.vault?.host ?? meta.get('host') ?? 'unknown-host';
  const storeId = meta.get('store_id') ?? 'unknown-store';
  const origin = meta.get('origin') ?? `custody/${storeId}`;
  const rel = `evidence/${safeComponent(host)}/${safeComponent(storeId)}`;
  if (ctx.usedPaths.has(rel)) throw new CustodyError(ErrorCodes.USAGE, `the same store (${host}, ${storeId}) was given twice`, { where: src.dir });
  ctx.usedPaths.add(rel);
  const dest = join(ctx.work, rel);
  // A running agent seals what it has appended first, so the snapshot's records are sealed up
  // to its last one but what the agent appends in between; the summary says when it could not.
  let agentSeal: SealRequestResult | undefined;
  if (src.source === 'agent-store') {
    ctx.report(`${host} ${storeId}: asking its agent to seal`);
    agentSeal = await requestSeal(src.dir, ctx.sealTimeoutMs);
  }
  ctx.report(`${host} ${storeId}`);
  const snap = snapshotStore(src.dir, dest);
  return { host, storeId, origin, meta, rel, dest, records: snap.records, treeSize: (src.vault?.window?.first_seq ?? 0) + snap.records, ...(agentSeal !== undefined ? { agentSeal } : {}) };
}
