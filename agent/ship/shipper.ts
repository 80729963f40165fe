/**
 * One round of shipping a store to the vault: read a consistent snapshot of the store, plan what
 * the vault has not acknowledged (plan.ts), put each item once, and record each acknowledgement in
 * the state database as soon as the vault gives it. A crash anywhere resumes at the first
 * unacknowledged item: an item the vault stored but we did not record is put again under the same
 * name with the same bytes, which put-once answers with "existed" and writes nothing.
 *
 * A first version, deliberately simple (what the agent's loop will need on top is in the report):
 * it reads records in one pass from seq 0 (to rebuild the Merkle frontier before the first
 * unshipped segment; a range read and a stored frontier will make this proportional to what is
 * new), holds one blob in memory at a time, and ships one object at a time. Key certificate objects
 * are the `key.rotate` records' own canonical bytes, so a verifier checks them as records too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustodyError, ErrorCodes } from '../../src/errors.js';
import { MerkleFrontier } from '../../src/integrity/merkle.js';
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
}

/** The acknowledged watermarks for this vault (shipping to another vault starts from nothing). */
export function loadAcknowledged(state: StateStore, vault: string): Acknowledged {
  const stored = state.get<StoredAcknowledged>(STATE_KEY);
  if (stored === undefined || stored.vault !== vault) return NOTHING_ACKNOWLEDGED;
  return { ...stored, blobs: new Set(stored.blobs) };
}

function saveAcknowledged(state: StateStore, vault: string, acked: Acknowledged): void {
  const stored: StoredAcknowledged = { ...acked, vault, blobs: [...acked.blobs].sort() };
  state.set(STATE_KEY, stored);
}

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
}

export async function shipStore(storeDir: string, client: VaultClient, state: StateStore): Promise<ShipRound> {
  const vaultName = formatVaultUrl(client.vault);
  const prefix = client.vault.prefix;
  const reader = new SqliteStoreReader(storeDir);
  try {
    const meta = reader.meta();
    const storeId = meta.get('store_id');
    const host = meta.get('host');
    if (storeId === undefined || host === undefined) throw new CustodyError(ErrorCodes.STORE_CORRUPT, 'the store has no store_id or host', { where: storeDir });
    const checkpoints = reader.checkpoints();
    const tokens = reader.tsaTokens();
    let acked = loadAcknowledged(state, vaultName);

    // One pass over the records: the frontier before the first unshipped record, the records the
    // plan's segments need, and the key certificates.
    const sealedSize = checkpoints.reduce((m, c) => Math.max(m, c.tree_size), 0);
    const frontier = new MerkleFrontier();
    const pending: { bytes: Uint8Array; observedAt: string }[] = [];
    const certificates = new Map<number, Uint8Array>();
    for (const r of reader.records()) {
      if (r.seq >= sealedSize) break;
      if (r.seq < acked.segmentEnd) frontier.push(r.leaf_hash);
      else pending.push({ bytes: r.bytes, observedAt: r.observed_at });
      if (r.kind === 'key.rotate') {
        const epoch = (JSON.parse(Buffer.from(r.bytes).toString('utf8')) as { payload?: { epoch?: unknown } }).payload?.epoch;
        if (typeof epoch === 'number' && Number.isSafeInteger(epoch) && epoch >= 1) certificates.set(epoch, r.bytes);
      }
    }
    const blobs = new Set<string>();
    for (const c of reader.blobChunks()) blobs.add(c.sha256);

    const plan = planShipping(prefix, {
      host,
      storeId,
      checkpoints: checkpoints.map((c) => ({ id: c.id, treeSize: c.tree_size })),
      tsaTokens: tokens.map((t) => ({ id: t.id, checkpointId: t.checkpoint_id })),
      certificateEpochs: [...certificates.keys()],
      blobs: [...blobs],
    }, acked);

    let frontierState = frontier.toState();
    const round: ShipRound = { written: 0, existed: 0, bytes: 0, acknowledged: acked };
    let lockChecked = false;
    for (const item of plan) {
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
      saveAcknowledged(state, vaultName, acked);
    }
    round.acknowledged = acked;
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
          const seg = segmentObject(prefix, host as string, storeId as string, frontierState, records);
          frontierState = seg.after;
          return { key: seg.key, body: seg.body, next: (a) => ({ ...a, segmentEnd: item.end }) };
        }
        case 'blob': {
          const parts: Uint8Array[] = [];
          for (const c of reader.blobChunks()) if (c.sha256 === item.sha256) parts.push(c.data);
          return { key: item.key, body: new Uint8Array(Buffer.concat(parts)), next: (a) => ({ ...a, blobs: new Set([...a.blobs, item.sha256]) }) };
        }
      }
    }
  } finally {
    reader.close();
  }
}
