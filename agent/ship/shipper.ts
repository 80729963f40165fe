/**
 * One round of shipping a store to the vault: read a consistent snapshot of the store, plan what
 * the vault has not acknowledged (plan.ts), put each item once, and record the acknowledgements in
 * the state database, in plan order. A crash anywhere resumes at the first unacknowledged item.
 *
 * Which names get a HEAD before their PUT (Ceph RGW ignores If-None-Match, so a blind PUT of a name
 * the vault holds stores a second version): only those the state database cannot vouch for. Before
 * a window of names is sent, they are recorded as in flight (one write, with the acknowledgements
 * since the last one); a name acknowledged leaves that list; a failed request leaves its name (and
 * every later one) on it. So after a crash, a kill -9 or a failure exactly the names that may have
 * reached the vault unacknowledged are asked about (put-once: HEAD, and a GET to compare when found,
 * answered "existed"), and every other name past the watermarks was never sent and is put at once.
 * Without a position for this vault the store's names in the vault are listed once and treated the
 * same way, unless the state has known the store since its creation and never shipped to this vault
 * (origin.ts). Up to `window` PUTs travel at once; an answer that comes before an earlier one's waits
 * for it, so watermarks never pass an object the vault has not acknowledged.
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
import { storePrefix } from '../../src/vault/layout.js';
import { formatVaultUrl } from '../../src/vault/url.js';
import { ORIGIN_KEY, type ShippingOrigin } from './origin.js';
import { NOTHING_ACKNOWLEDGED, planShipping, segmentObject, type Acknowledged, type ShipItem } from './plan.js';

const STATE_KEY = 'ship.acknowledged';
/** One entry per acknowledged blob (`ship.blob.<sha256>` = the vault), so a new one is one row, not a rewritten list. */
const BLOB_KEY_PREFIX = 'ship.blob.';

interface StoredAcknowledged extends Omit<Acknowledged, 'blobs'> {
  vault: string;
  /** The store this position is of (older versions did not say: taken as this store). */
  storeId?: string;
  /** Acknowledged blobs as one list, as older versions kept them; now in BLOB_KEY_PREFIX entries. */
  blobs?: string[];
  /** The Merkle frontier of records [0, segmentEnd), hex levels ('' for an empty level). */
  frontier?: { size: number; levels: string[] };
  /**
   * Names that were sent (or about to be) and whose acknowledgement is not recorded here: a PUT of
   * one may have reached the vault, so each is asked about (HEAD) before it is put again. Every
   * other name past the watermarks was never sent, and is put without asking.
   */
  inFlight?: string[];
  /** The boot this position was saved in (see ShippingOrigin.boot_id). */
  bootId?: string;
}

/**
 * The saved shipping position for this vault (shipping to another vault starts from nothing), and
 * with `storeId` only if it is that store's: a store made anew beside an old state database has
 * shipped nothing (a position from an older version, which did not name its store, is taken as this
 * store's).
 */
function positionFor(state: StateStore, vault: string, storeId: string | undefined): StoredAcknowledged | undefined {
  const stored = state.get<StoredAcknowledged>(STATE_KEY);
  if (stored === undefined || stored.vault !== vault) return undefined;
  if (storeId !== undefined && stored.storeId !== undefined && stored.storeId !== storeId) return undefined;
  return stored;
}

/** A position's watermarks and the blobs acknowledged to its vault. */
function watermarksOf(state: StateStore, position: StoredAcknowledged | undefined): Acknowledged {
  if (position === undefined) return NOTHING_ACKNOWLEDGED;
  const { frontier: _frontier, vault, storeId: _storeId, inFlight: _inFlight, bootId: _bootId, blobs: oldList, ...watermarks } = position;
  const blobs = new Set(oldList ?? []);
  for (const [name, v] of state.entries<string>(BLOB_KEY_PREFIX)) if (v === vault) blobs.add(name.slice(BLOB_KEY_PREFIX.length));
  return { ...watermarks, blobs };
}

/** The acknowledged watermarks for this vault, of `storeId`'s position only when given (positionFor). */
export function loadAcknowledged(state: StateStore, vault: string, storeId?: string): Acknowledged {
  return watermarksOf(state, positionFor(state, vault, storeId));
}

/** The saved frontier when it is the one of the acknowledged segments, else undefined (rebuild it). */
function loadFrontier(position: StoredAcknowledged | undefined, segmentEnd: number): FrontierState | undefined {
  const f = position?.frontier;
  if (f === undefined || f.size !== segmentEnd || !Array.isArray(f.levels)) return undefined;
  try {
    // fromState checks the shape: a damaged state is rebuilt from the store, never trusted.
    return MerkleFrontier.fromState({ size: f.size, levels: f.levels.map((h) => new Uint8Array(Buffer.from(h, 'hex'))) }).toState();
  } catch {
    return undefined;
  }
}

/** Watermarks, frontier, names in flight and the blobs acknowledged since the last save: one transaction. */
function saveAcknowledged(
  state: StateStore,
  vault: string,
  storeId: string,
  acked: Acknowledged,
  frontier: FrontierState,
  inFlight: readonly string[],
  newBlobs: readonly string[],
  origin: ShippingOrigin | undefined,
  bootId: string | undefined,
): void {
  const { blobs: _blobs, ...watermarks } = acked;
  const stored: StoredAcknowledged = {
    ...watermarks,
    vault,
    storeId,
    frontier: { size: frontier.size, levels: frontier.levels.map((l) => (l === undefined ? '' : Buffer.from(l).toString('hex'))) },
    inFlight: [...inFlight],
    ...(bootId !== undefined ? { bootId } : {}),
  };
  const entries: [string, unknown][] = [[STATE_KEY, stored]];
  if (origin !== undefined) entries.push([ORIGIN_KEY, origin]);
  for (const sha of newBlobs) entries.push([`${BLOB_KEY_PREFIX}${sha}`, vault]);
  state.setMany(entries);
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
 * PUTs of one store in flight at once. Acknowledgements are still recorded in plan order (a
 * watermark never passes an object the vault has not acknowledged); the window only lets the next
 * requests travel while one is answered.
 */
export const DEFAULT_SHIP_WINDOW = 4;

/**
 * The page cache of a round's store reader, in KiB. A round reads each record it ships once, in
 * seq order; the operating system's file cache holds the file. With SQLite's default here (16 MB
 * in better-sqlite3's build) a first round of 5,000 records cached 1.9 MB of pages that the idle
 * agent kept as free malloc memory after the reader closed (heaptrack, scripts/bench/agent-idle.mjs
 * --vault); a round of 20,000 records could fill 10 MB.
 */
export const SHIP_READ_CACHE_KIB = 256;

/**
 * How long a check that the vault locks what it stores holds for one client (one agent run against
 * one bucket). Object Lock cannot be turned off on a bucket, but its default retention rule can be
 * removed by whoever administers the bucket; checked again this often, and at every start.
 */
export const LOCK_RECHECK_MS = 10 * 60_000;
const lockCheckedAt = new WeakMap<VaultClient, number>();

/**
 * The object just put (or found) must carry an Object Lock retention; else E_VAULT_NOT_LOCKABLE.
 * A HEAD of the name, not of a version id: that would need s3:GetObjectVersion, which the agent's
 * policy does not grant. (Explicit lock headers on each PUT would make a lockless bucket refuse the
 * PUT itself, but they need s3:PutObjectRetention, which the agent's policy denies.)
 */
async function requireLocked(client: VaultClient, key: string): Promise<void> {
  const h = await client.head(key);
  if (h.lockMode !== undefined && h.retainUntil !== undefined) {
    lockCheckedAt.set(client, Date.now());
    return;
  }
  throw new CustodyError(
    ErrorCodes.VAULT_NOT_LOCKABLE,
    'the vault stored an object without an Object Lock retention (the bucket has no Object Lock or no default retention rule), so what is shipped there could be deleted; shipping stops here. Check the bucket with `custody vault init`',
    { where: `s3://${client.bucket}/${key}` },
  );
}

/** Every name under the store's prefix in the vault (one LIST request per thousand names). */
async function listedNames(client: VaultClient, prefix: string): Promise<Set<string>> {
  const names = new Set<string>();
  for await (const page of client.list(prefix)) for (const o of page.objects) names.add(o.key);
  return names;
}

function lockCheckDue(client: VaultClient): boolean {
  const at = lockCheckedAt.get(client);
  return at === undefined || Date.now() - at >= LOCK_RECHECK_MS;
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
  /** Stop after the objects in flight (the agent is stopping); what was acknowledged stays acknowledged. */
  signal?: AbortSignal;
  /** PUTs in flight at once (DEFAULT_SHIP_WINDOW). */
  window?: number;
  /**
   * This boot's id (/proc/sys/kernel/random/boot_id). The state database's commits are not synced
   * one by one, so a power loss can undo its newest: names saved as in flight (sent, maybe stored)
   * then look never sent, and putting them again without asking would store second versions. A
   * position (or origin) saved in another boot is therefore checked against one LIST of the store's
   * names, once per boot. Without it that check is never made.
   */
  bootId?: string;
}

export async function shipStore(storeDir: string, client: VaultClient, state: StateStore, options: ShipOptions = {}): Promise<ShipRound> {
  const limits = { ...DEFAULT_SHIP_LIMITS, ...options.limits };
  const vaultName = formatVaultUrl(client.vault);
  const prefix = client.vault.prefix;
  const reader = SqliteStoreReader.withCache(storeDir, SHIP_READ_CACHE_KIB);
  try {
    const meta = reader.meta();
    const storeId = meta.get('store_id');
    const host = meta.get('host');
    if (storeId === undefined || host === undefined) throw new CustodyError(ErrorCodes.STORE_CORRUPT, 'the store has no store_id or host', { where: storeDir });
    const position = positionFor(state, vaultName, storeId);
    let acked = watermarksOf(state, position);
    const savedOrigin = state.get<ShippingOrigin>(ORIGIN_KEY);
    const origin = savedOrigin?.store_id === storeId && Array.isArray(savedOrigin.vaults) ? savedOrigin : undefined;
    // Names that may already be in the vault without an acknowledgement here: each is asked about
    // before it is put; every other name is put at once. With a shipping position for this vault,
    // those recorded in flight. Without one: nothing, when this state database has recorded all
    // shipping of this store since its creation and never to this vault; else (a lost state
    // database, an older version, a vault shipped to before) the store's names in the vault, listed
    // once. They stay in the state until acknowledged.
    // A state saved in another boot may have lost its newest writes (ShipOptions.bootId): list then too.
    const savedInBoot = position !== undefined ? position.bootId : origin?.boot_id;
    const mayHaveLostWrites = options.bootId !== undefined && savedInBoot !== options.bootId;
    const vouched = !mayHaveLostWrites && (position !== undefined || (origin !== undefined && !origin.vaults.includes(vaultName)));
    const inFlightBefore = position?.inFlight ?? [];
    const uncertain = new Set(vouched ? inFlightBefore : [...inFlightBefore, ...(await listedNames(client, storePrefix(prefix, host, storeId)))]);
    // The first save for a vault adds it to the origin's list, in the same transaction.
    let originUpdate = origin !== undefined && !origin.vaults.includes(vaultName) ? { ...origin, vaults: [...origin.vaults, vaultName] } : undefined;
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

    // The frontier before the first unshipped record. Each segment's records are read when it is
    // prepared (one snapshot: the reader's transaction), not the round's all at once: a first round
    // of a large backlog held every record's bytes until the round ended, and what a long-lived
    // process once held it keeps as free malloc memory.
    const rebuildAt = (size: number): FrontierState => {
      const frontier = new MerkleFrontier();
      for (const r of reader.leafHashesBefore(size)) frontier.push(r.leaf_hash);
      return frontier.toState();
    };
    let frontierState: FrontierState = loadFrontier(position, acked.segmentEnd) ?? rebuildAt(acked.segmentEnd);
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
    const round: ShipRound = { written: 0, existed: 0, bytes: 0, acknowledged: acked, more };
    // Blob acknowledgements go into this round's own set (no copy per blob), saved as new rows.
    const ackedBlobs = new Set(acked.blobs);
    acked = { ...acked, blobs: ackedBlobs };
    // Blobs acknowledged in an older version's single list move to their own rows at the first save.
    let newBlobs: string[] = [...(position?.blobs ?? [])];
    // The frontier after the acknowledged segments (what is saved); frontierState runs ahead of it
    // while segments are prepared for the window.
    let ackedFrontier = frontierState;
    const window = Math.max(1, options.window ?? DEFAULT_SHIP_WINDOW);
    interface Prepared {
      key: string;
      body: Uint8Array;
      next: (a: Acknowledged) => Acknowledged;
      /** For a segment: the frontier after it, saved once it is acknowledged. */
      frontier: FrontierState | undefined;
    }
    interface Sent extends Omit<Prepared, 'body'> {
      bytes: number;
      answer: Promise<void>;
      /** Set when the vault answered (or the request failed). */
      result?: { outcome: 'written' | 'existed' } | { error: unknown };
    }
    const prepared: Prepared[] = [];
    /** Sent and not yet acknowledged, in plan order (some may be answered, behind one that is not). */
    const sending: Sent[] = [];
    let unanswered = 0;
    let planned = 0;
    let failure: unknown;
    const save = (): void => {
      const inFlight = new Set([...uncertain, ...sending.map((x) => x.key), ...prepared.map((x) => x.key)]);
      saveAcknowledged(state, vaultName, storeId, acked, ackedFrontier, [...inFlight], newBlobs, originUpdate, options.bootId);
      newBlobs = [];
      originUpdate = undefined;
    };
    // `window` requests travel at once; answers that come before an earlier one's wait for it
    // (acknowledgements in plan order), at most a few windows' worth.
    const canSend = (): boolean =>
      failure === undefined && unanswered < window && sending.length < 4 * window && (prepared.length > 0 || planned < plan.length);
    for (;;) {
      while (canSend()) {
        if (options.signal?.aborted) {
          more = true;
          break;
        }
        if (prepared.length === 0) {
          // The next names to send are recorded as in flight before any of them is sent, a window's
          // worth in one write (with the acknowledgements since the last one).
          while (prepared.length < window && planned < plan.length) {
            const item = plan[planned++] as ShipItem;
            const o = objectFor(item);
            prepared.push({ ...o, frontier: item.kind === 'segment' ? frontierState : undefined });
          }
          save();
        }
        const { body, ...p } = prepared.shift() as Prepared;
        const sent: Sent = { ...p, bytes: body.length, answer: Promise.resolve() };
        unanswered++;
        sent.answer = client.putOnce(p.key, body, { unsent: !uncertain.has(p.key) }).then(
          (r) => {
            sent.result = { outcome: r.outcome };
          },
          (error: unknown) => {
            sent.result = { error };
          },
        ).finally(() => {
          unanswered--;
        });
        sending.push(sent);
      }
      const first = sending[0];
      if (first === undefined) break;
      if (first.result === undefined) {
        // Wait for the next answer, whichever it is; the window refills with it.
        await Promise.race(sending.filter((x) => x.result === undefined).map((x) => x.answer));
        continue;
      }
      const r = first.result;
      if ('error' in r) {
        // Not acknowledged, nor anything after it: all stay in flight for the next round's check.
        failure ??= r.error;
        await Promise.all(sending.map((x) => x.answer));
        break;
      }
      if (lockCheckDue(client)) {
        // Before anything is acknowledged: a bucket without Object Lock or without a default
        // retention accepts every PUT and locks nothing, and put-once cannot tell. The HEAD needs
        // only the agent's s3:GetObject (docs/vault/agent-policy.json).
        try {
          await requireLocked(client, first.key);
        } catch (err) {
          failure = err;
          await Promise.all(sending.map((x) => x.answer));
          break;
        }
      }
      sending.shift();
      round[r.outcome === 'written' ? 'written' : 'existed']++;
      if (r.outcome === 'written') round.bytes += first.bytes;
      acked = first.next(acked);
      uncertain.delete(first.key);
      if (first.frontier !== undefined) ackedFrontier = first.frontier;
    }
    // What was sent and not acknowledged (a failure, and the answers after it) stays in flight.
    prepared.length = 0;
    // A listed name the whole plan did not reach is not one this store will ship next (names are
    // functions of the store's data): once everything is acknowledged, forget them.
    if (failure === undefined && !more) uncertain.clear();
    save();
    if (failure !== undefined) throw failure;
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
          // Only sealed records are shipped: a segment ends at a checkpoint's size.
          const records = reader.framedRecords(item.start, Math.min(item.end, sealedSize));
          if (records.count !== item.end - item.start) throw new CustodyError(ErrorCodes.STORE_CORRUPT, `records [${item.start}, ${item.end}) are not all in the store`, { where: storeDir });
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
          return {
            key: item.key,
            body: reader.blob(item.sha256),
            next: (a) => {
              ackedBlobs.add(item.sha256);
              newBlobs.push(item.sha256);
              return a;
            },
          };
      }
    }
  } finally {
    reader.close();
  }
}
