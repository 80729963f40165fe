/**
 * One round of shipping a store to the vault: read a consistent snapshot of the store, plan what
 * the vault has not acknowledged (plan.ts), put each item once, and record each acknowledgement in
 * the state database as soon as the vault gives it. A crash anywhere resumes at the first
 * unacknowledged item: an item the vault stored but we did not record is put again under the same
 * name with the same bytes, which put-once answers with "existed" and writes nothing.
 *
 * A round is bounded (ShipLimits: records and objects), so a large backlog is shipped in steps and
 * the agent's loop (loop.ts) stays responsive; `more` says the round stopped at its bound. The
 * Merkle frontier after the acknowledged segments is saved with the watermarks, so a round reads
 * only the records it ships, never the store from seq 0 (a state without a frontier, as an older
 * version or a lost state database leaves it, rebuilds it once from the leaf hashes). Blobs are
 * listed by hash and read one at a time. Key certificate objects are the `key.rotate` records' own
 * canonical bytes, so a verifier checks them as records too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustodyError, ErrorCodes } from '../../src/errors.js';
import { parseCheckpointBody, parseNote } from '../../src/integrity/checkpoint.js';
import { MerkleFrontier, type FrontierState } from '../../src/integrity/merkle.js';
import { ENROLLMENT_FILE } from '../../src/store/keyfiles.js';
import type { StateStore } from '../../src/store/state-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import type { VaultClient } from '../../src/vault/s3.js';
import { formatVaultUrl } from '../../src/vault/url.js';
import { NOTHING_ACKNOWLEDGED, planShipping, segmentObject, type Acknowledged, type ShipItem } from './plan.js';

const STATE_KEY = 'ship.acknowledged';

interface StoredAcknowledged extends Omit<Acknowledged, 'blobs'> {
  vault: string;
  blobs: string[];
  /** The Merkle frontier of records [0, segmentEnd), hex levels ('' for an empty level). */
  frontier?: { size: number; levels: string[] };
}

/** The acknowledged watermarks for this vault (shipping to another vault starts from nothing). */
export function loadAcknowledged(state: StateStore, vault: string): Acknowledged {
  const stored = state.get<StoredAcknowledged>(STATE_KEY);
  if (stored === undefined || stored.vault !== vault) return NOTHING_ACKNOWLEDGED;
  const { frontier: _frontier, vault: _vault, ...watermarks } = stored;
  return { ...watermarks, blobs: new Set(stored.blobs) };
}

/** The saved frontier when it is the one of the acknowledged segments, else undefined (rebuild it). */
function loadFrontier(state: StateStore, vault: string, segmentEnd: number): FrontierState | undefined {
  const stored = state.get<StoredAcknowledged>(STATE_KEY);
  const f = stored?.vault === vault ? stored.frontier : undefined;
  if (f === undefined || f.size !== segmentEnd || !Array.isArray(f.levels)) return undefined;
  try {
    // fromState checks the shape: a damaged state is rebuilt from the store, never trusted.
    return MerkleFrontier.fromState({ size: f.size, levels: f.levels.map((h) => new Uint8Array(Buffer.from(h, 'hex'))) }).toState();
  } catch {
    return undefined;
  }
}

function saveAcknowledged(state: StateStore, vault: string, acked: Acknowledged, frontier: FrontierState): void {
  const stored: StoredAcknowledged = {
    ...acked,
    vault,
    blobs: [...acked.blobs].sort(),
    frontier: { size: frontier.size, levels: frontier.levels.map((l) => (l === undefined ? '' : Buffer.from(l).toString('hex'))) },
  };
  state.set(STATE_KEY, stored);
}

/** How much one round may do; the rest waits for the next round (`more`). */
export interface ShipLimits {
  /** Records in the round's segments (a segment is never split: a round ships at least one whole). */
  records: number;
  /** Objects put (or found) in one round. */
  objects: number;
}

export const DEFAULT_SHIP_LIMITS: ShipLimits = { records: 20_000, objects: 2_000 };

/**
 * The object just put (or found) must carry an Object Lock retention; else E_VAULT_NOT_LOCKABLE.
 * A HEAD of the name, not of a version id: that would need s3:GetObjectVersion, which the agent's
 * policy does not grant.
 */
async function requireLocked(client: VaultClient, key: string): Promise<void> {
  const h = await client.head(key);
  if (h.lockMode !== undefined && h.retainUntil !== undefined) return;
  throw new CustodyError(
    ErrorCodes.VAULT_NOT_LOCKABLE,
    'the vault stored an object without an Object Lock retention (the bucket has no Object Lock or no default retention rule), so what is shipped there could be deleted; shipping stops here. Check the bucket with `custody vault init`',
    { where: `s3://${client.bucket}/${key}` },
  );
}

export interface ShipRound {
  written: number;
  existed: number;
  bytes: number;
  acknowledged: Acknowledged;
  /** The round stopped at its limits (or was asked to stop): there is more to ship now. */
  more: boolean;
}

export interface ShipOptions {
  limits?: Partial<ShipLimits>;
  /** Stop after the object in flight (the agent is stopping); what was acknowledged stays acknowledged. */
  signal?: AbortSignal;
}

export async function shipStore(storeDir: string, client: VaultClient, state: StateStore, options: ShipOptions = {}): Promise<ShipRound> {
  const limits = { ...DEFAULT_SHIP_LIMITS, ...options.limits };
  const vaultName = formatVaultUrl(client.vault);
  const prefix = client.vault.prefix;
  const reader = new SqliteStoreReader(storeDir);
  try {
    const meta = reader.meta();
    const storeId = meta.get('store_id');
    const host = meta.get('host');
    if (storeId === undefined || host === undefined) throw new CustodyError(ErrorCodes.STORE_CORRUPT, 'the store has no store_id or host', { where: storeDir });
    let acked = loadAcknowledged(state, vaultName);
    // Only what is not shipped yet, or is needed for it: checkpoints after the acknowledged one or
    // beyond the acknowledged records (segments end at them), and those new time stamps belong to.
    const tokens = reader.tsaTokensAfter(acked.tsaTokenId);
    const checkpoints = reader.checkpointsForShipping(acked.checkpointId, acked.segmentEnd, [...new Set(tokens.map((t) => t.checkpoint_id))]);

    // Only sealed records are shipped (a segment ends at a checkpoint), and key certificates only
    // from sealed key.rotate records.
    const sealedSize = reader.sealedSize();
    const certificates = new Map<number, Uint8Array>();
    for (const r of reader.latestOfKind('key.rotate', Number.MAX_SAFE_INTEGER)) {
      if (r.seq >= sealedSize) continue;
      const epoch = (JSON.parse(Buffer.from(r.bytes).toString('utf8')) as { payload?: { epoch?: unknown } }).payload?.epoch;
      if (typeof epoch === 'number' && Number.isSafeInteger(epoch) && epoch >= 1 && epoch > acked.certificateEpoch) certificates.set(epoch, r.bytes);
    }

    const fullPlan = planShipping(prefix, {
      host,
      storeId,
      checkpoints: checkpoints.map((c) => ({ id: c.id, treeSize: c.tree_size })),
      tsaTokens: tokens.map((t) => ({ id: t.id, checkpointId: t.checkpoint_id })),
      certificateEpochs: [...certificates.keys()],
      blobs: reader.blobHashes(),
    }, acked);

    // This round's share of the plan: whole items, in plan order, within the limits.
    const plan: ShipItem[] = [];
    let segmentRecords = 0;
    for (const item of fullPlan) {
      if (plan.length >= limits.objects) break;
      if (item.kind === 'segment') {
        const n = item.end - item.start;
        if (segmentRecords > 0 && segmentRecords + n > limits.records) break;
        segmentRecords += n;
      }
      plan.push(item);
    }
    let more = plan.length < fullPlan.length;

    // The frontier before the first unshipped record, and the records this round's segments need.
    const segments = plan.filter((i): i is Extract<ShipItem, { kind: 'segment' }> => i.kind === 'segment');
    const rebuildAt = (size: number): FrontierState => {
      const frontier = new MerkleFrontier();
      for (const r of reader.leafHashesBefore(size)) frontier.push(r.leaf_hash);
      return frontier.toState();
    };
    let frontierState: FrontierState = loadFrontier(state, vaultName, acked.segmentEnd) ?? rebuildAt(acked.segmentEnd);
    const signedRoots = new Map<number, Uint8Array>();
    const matchesCheckpoint = (after: FrontierState, treeSize: number): boolean => {
      let root = signedRoots.get(treeSize);
      if (root === undefined) {
        const c = checkpoints.find((x) => x.tree_size === treeSize);
        if (c === undefined) return false;
        root = parseCheckpointBody(parseNote(c.note).text).rootHash;
        signedRoots.set(treeSize, root);
      }
      return Buffer.from(MerkleFrontier.fromState(after).root()).equals(Buffer.from(root));
    };
    const pending: { bytes: Uint8Array; observedAt: string }[] = [];
    if (segments.length > 0) {
      const to = Math.min(sealedSize, (segments.at(-1) as { end: number }).end);
      for (const r of reader.recordRange(acked.segmentEnd, to)) pending.push({ bytes: r.bytes, observedAt: r.observed_at });
    }

    const round: ShipRound = { written: 0, existed: 0, bytes: 0, acknowledged: acked, more };
    let lockChecked = false;
    for (const item of plan) {
      if (options.signal?.aborted) {
        more = true;
        break;
      }
      const { key, body, next } = objectFor(item);
      const r = await client.putOnce(key, body);
      if (!lockChecked) {
        // Once per round, before anything is acknowledged: a bucket without Object Lock or without a
        // default retention accepts every PUT and locks nothing, and put-once cannot tell. The HEAD
        // needs only the agent's s3:GetObject (docs/vault/agent-policy.json), not the bucket's
        // configuration.
        await requireLocked(client, key);
        lockChecked = true;
      }
      round[r.outcome === 'written' ? 'written' : 'existed']++;
      if (r.outcome === 'written') round.bytes += body.length;
      acked = next(acked);
      saveAcknowledged(state, vaultName, acked, frontierState);
    }
    round.acknowledged = acked;
    round.more = more;
    return round;

    function objectFor(item: ShipItem): { key: string; body: Uint8Array; next: (a: Acknowledged) => Acknowledged } {
      switch (item.kind) {
        case 'enrollment':
          return { key: item.key, body: readFileSync(join(storeDir, ENROLLMENT_FILE)), next: (a) => ({ ...a, enrollment: true }) };
        case 'checkpoint': {
          const c = checkpoints.find((x) => x.id === item.checkpointId) as { note: string };
          return { key: item.key, body: new TextEncoder().encode(c.note), next: (a) => ({ ...a, checkpointId: item.checkpointId }) };
        }
        case 'tsa-token': {
          const t = tokens.find((x) => x.id === item.tokenId) as { token: Uint8Array };
          return { key: item.key, body: t.token, next: (a) => ({ ...a, tsaTokenId: item.tokenId }) };
        }
        case 'key-certificate':
          return { key: item.key, body: certificates.get(item.epoch) as Uint8Array, next: (a) => ({ ...a, certificateEpoch: item.epoch }) };
        case 'segment': {
          if (frontierState.size !== item.start) throw new CustodyError(ErrorCodes.STORE_CORRUPT, `records before seq ${item.start} are missing from the store`, { where: storeDir });
          const records = pending.splice(0, item.end - item.start);
          if (records.length !== item.end - item.start) throw new CustodyError(ErrorCodes.STORE_CORRUPT, `records [${item.start}, ${item.end}) are not all in the store`, { where: storeDir });
          let seg = segmentObject(prefix, host as string, storeId as string, frontierState, records);
          if (!matchesCheckpoint(seg.after, item.end)) {
            // The saved frontier is a cache and may be damaged: never put a segment that does not
            // verify against its own checkpoint under a write-once name. Rebuild it from the store once.
            seg = segmentObject(prefix, host as string, storeId as string, rebuildAt(item.start), records);
            if (!matchesCheckpoint(seg.after, item.end)) {
              throw new CustodyError(ErrorCodes.STORE_CORRUPT, `records [${item.start}, ${item.end}) do not hash to the root their checkpoint signed; nothing of them was shipped`, { where: storeDir });
            }
          }
          frontierState = seg.after;
          return { key: seg.key, body: seg.body, next: (a) => ({ ...a, segmentEnd: item.end }) };
        }
        case 'blob':
          return { key: item.key, body: reader.blob(item.sha256), next: (a) => ({ ...a, blobs: new Set([...a.blobs, item.sha256]) }) };
      }
    }
  } finally {
    reader.close();
  }
}
