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
import { CustodyError, ErrorCodes } from '../../src/errors.js';
import { RECORD_TIME_FORM } from '../../src/records/schema.js';
import { encodeFramedSegment, frameRecords, frontierRoots, unframeRecords } from '../../src/vault/segment.js';

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

/** Records [start, start + count) framed as a segment's body, with their observed_at range (StoreReader.framedRecords). */
export interface FramedRecords {
  framed: Uint8Array;
  count: number;
  minObservedAt: string | undefined;
  maxObservedAt: string | undefined;
  /** Every observed_at in the records' own form (UTC, exactly six fraction digits): then min and max are the range. */
  observedWellFormed: boolean;
}

/** FramedRecords of records given one by one (tests, and anything not reading a store). */
export function framedFrom(records: readonly { bytes: Uint8Array; observedAt: string }[]): FramedRecords {
  let min: string | undefined;
  let max: string | undefined;
  let wellFormed = records.length > 0;
  for (const r of records) {
    // The records' own form compares correctly as text; any other form makes the range unknown rather than wrong.
    if (!RECORD_TIME_FORM.test(r.observedAt)) wellFormed = false;
    if (min === undefined || r.observedAt < min) min = r.observedAt;
    if (max === undefined || r.observedAt > max) max = r.observedAt;
  }
  return { framed: frameRecords(records.map((r) => r.bytes)), count: records.length, minObservedAt: min, maxObservedAt: max, observedWellFormed: wellFormed };
}

/**
 * A segment's name and bytes from its framed records and the Merkle frontier of the records before
 * it; returns the frontier after it, for the next segment. The leaves are hashed from the framed
 * bytes themselves, so what is checked against the signed root is exactly what is shipped.
 */
export function segmentObject(
  prefix: string,
  host: string,
  storeId: string,
  before: FrontierState,
  records: FramedRecords,
): { key: string; body: Uint8Array; after: FrontierState } {
  const frontier = MerkleFrontier.fromState(before);
  const start = frontier.size;
  const leaves = unframeRecords(records.framed);
  if (leaves.length !== records.count) {
    throw new CustodyError(ErrorCodes.STORE_CORRUPT, `records [${start}, ${start + records.count}): ${records.count - leaves.length} of them have no bytes to ship`);
  }
  for (const bytes of leaves) frontier.push(leafHash(bytes));
  const known = records.observedWellFormed && records.minObservedAt !== undefined && records.maxObservedAt !== undefined && RECORD_TIME_FORM.test(records.minObservedAt) && RECORD_TIME_FORM.test(records.maxObservedAt);
  const range = { start, end: start + records.count, minObserved: known ? records.minObservedAt : undefined, maxObserved: known ? records.maxObservedAt : undefined };
  const body = encodeFramedSegment({ storeId, start, end: range.end, frontier: frontierRoots(before) }, records.framed, records.count);
  return { key: segmentKey(prefix, host, storeId, range), body, after: frontier.toState() };
}
