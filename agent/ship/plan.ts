/**
 * What the agent still has to ship, in what order, under which names: the pure core of shipping
 * (issue 12). The shipper that will run it (reading the store, putting with src/vault/s3.ts, keeping
 * the acknowledged watermarks in the state database, lag and outages in `agent status`) is not
 * written yet; this file fixes the order and the names so that it can be.
 *
 * Order, and why:
 * 1. the enrollment key: nothing in the vault verifies without it;
 * 2. every checkpoint note not yet shipped, oldest first, each followed by its TSA tokens: seals
 *    leave the host first, because a seal off the host is what closes the rollback hole, and a
 *    note is a few hundred bytes;
 * 3. key certificates, by epoch: a note of epoch e verifies only with the chain up to e;
 * 4. the segments the shipped checkpoints seal, oldest first (one per checkpoint that grew the
 *    tree: boundaries are the store's checkpoint sizes, never the shipper's progress);
 * 5. preserved blobs, by SHA-256.
 * Resuming after a crash is computing the plan again from the watermarks: every name is a function
 * of the store's data (layout.ts), and put-once treats the same bytes under the same name as done.
 */
import { leafHash, MerkleFrontier, type FrontierState } from '../../src/integrity/merkle.js';
import { blobKey, checkpointKey, enrollmentKey, keyCertificateKey, segmentKey, tsaTokenKey } from '../../src/vault/layout.js';
import { encodeSegment, frontierRoots } from '../../src/vault/segment.js';

export interface ShippableStore {
  host: string;
  storeId: string;
  checkpoints: readonly { id: number; treeSize: number }[];
  tsaTokens: readonly { id: number; checkpointId: number }[];
  /** Epochs >= 1 whose key certificate the store holds (from its key.rotate records). */
  certificateEpochs: readonly number[];
  blobs: readonly string[];
}

/** What the vault has acknowledged: watermarks (everything up to and including) and the blob set. */
export interface Acknowledged {
  enrollment: boolean;
  checkpointId: number;
  tsaTokenId: number;
  certificateEpoch: number;
  /** Records [0, segmentEnd) are in the vault. */
  segmentEnd: number;
  blobs: ReadonlySet<string>;
}

export const NOTHING_ACKNOWLEDGED: Acknowledged = { enrollment: false, checkpointId: 0, tsaTokenId: 0, certificateEpoch: 0, segmentEnd: 0, blobs: new Set() };

export type ShipItem =
  | { kind: 'enrollment'; key: string }
  | { kind: 'checkpoint'; key: string; checkpointId: number; treeSize: number }
  | { kind: 'tsa-token'; key: string; tokenId: number; checkpointId: number }
  | { kind: 'key-certificate'; key: string; epoch: number }
  /** The key depends on the records' observed-at range: segmentObject() makes it when they are read. */
  | { kind: 'segment'; start: number; end: number }
  | { kind: 'blob'; key: string; sha256: string };

export function planShipping(prefix: string, store: ShippableStore, acked: Acknowledged): ShipItem[] {
  const { host, storeId } = store;
  const plan: ShipItem[] = [];
  if (!acked.enrollment) plan.push({ kind: 'enrollment', key: enrollmentKey(prefix, host, storeId) });
  const checkpoints = [...store.checkpoints].sort((a, b) => a.id - b.id);
  const tokensOf = new Map<number, { id: number; checkpointId: number }[]>();
  for (const t of [...store.tsaTokens].sort((a, b) => a.id - b.id)) {
    if (t.id <= acked.tsaTokenId) continue;
    tokensOf.set(t.checkpointId, [...(tokensOf.get(t.checkpointId) ?? []), t]);
  }
  const sizeOf = new Map(checkpoints.map((c) => [c.id, c.treeSize]));
  for (const c of checkpoints) {
    if (c.id > acked.checkpointId) plan.push({ kind: 'checkpoint', key: checkpointKey(prefix, host, storeId, c.treeSize, c.id), checkpointId: c.id, treeSize: c.treeSize });
    // A token may arrive after its checkpoint was shipped: it goes with the next round.
    for (const t of tokensOf.get(c.id) ?? []) {
      plan.push({ kind: 'tsa-token', key: tsaTokenKey(prefix, host, storeId, sizeOf.get(c.id) as number, c.id, t.id), tokenId: t.id, checkpointId: c.id });
    }
  }
  for (const epoch of [...store.certificateEpochs].sort((a, b) => a - b)) {
    if (epoch > acked.certificateEpoch) plan.push({ kind: 'key-certificate', key: keyCertificateKey(prefix, host, storeId, epoch), epoch });
  }
  let start = acked.segmentEnd;
  for (const c of checkpoints) {
    if (c.treeSize <= start) continue;
    plan.push({ kind: 'segment', start, end: c.treeSize });
    start = c.treeSize;
  }
  for (const sha256 of [...store.blobs].sort()) {
    if (!acked.blobs.has(sha256)) plan.push({ kind: 'blob', key: blobKey(prefix, host, storeId, sha256), sha256 });
  }
  return plan;
}

/**
 * A segment's name and bytes from its records and the Merkle frontier of the records before it;
 * returns the frontier after it, for the next segment.
 */
export function segmentObject(
  prefix: string,
  host: string,
  storeId: string,
  before: FrontierState,
  records: readonly { bytes: Uint8Array; observedAt: string }[],
): { key: string; body: Uint8Array; after: FrontierState } {
  const frontier = MerkleFrontier.fromState(before);
  const start = frontier.size;
  for (const r of records) frontier.push(leafHash(r.bytes));
  let min: string | undefined;
  let max: string | undefined;
  let known = true;
  for (const r of records) {
    // The records' own form (UTC, exactly six fraction digits) compares correctly as text; any
    // other form makes the range unknown rather than wrong.
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(r.observedAt)) known = false;
    if (min === undefined || r.observedAt < min) min = r.observedAt;
    if (max === undefined || r.observedAt > max) max = r.observedAt;
  }
  const range = { start, end: start + records.length, minObserved: known ? min : undefined, maxObserved: known ? max : undefined };
  const body = encodeSegment({ storeId, start, end: range.end, frontier: frontierRoots(before), records: records.map((r) => r.bytes) });
  return { key: segmentKey(prefix, host, storeId, range), body, after: frontier.toState() };
}
