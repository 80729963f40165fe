/**
 * Reading a store's copy back out of the vault: which stores a host has, every object of one store
 * with the version id that was read, and every name that holds more than one version. Used by
 * `verify --vault` and `collect --vault`; the checks themselves are pure (src/verify/vault-copy.ts).
 *
 * Decisions worth questioning:
 * - The listing is ListObjectVersions of the store's prefix, not ListObjectsV2: a write-once name
 *   with a second version or a delete marker is itself evidence (someone rewrote or tried to delete
 *   what was shipped), and a LIST of current objects would hide a delete marker's target.
 * - Of a name with several versions the *oldest* is read, by version id: the first write is what the
 *   agent shipped when it sealed it; anything later came after (a race of two shippers writes the
 *   same bytes twice, which the checks name too, and the bytes then agree).
 * - Objects are fetched with bounded concurrency (8 by default): a collector reading fifty hosts
 *   must neither open hundreds of sockets nor wait on one GET at a time (RGW: ~175 small objects/s
 *   one at a time, ~410/s sixteen at a time, in /work/shared/ceph-rgw/README.md's measurements).
 */
import { CustodyError, ErrorCodes } from '../errors.js';
import { decodeHost, hostPrefix, hostsPrefix, parseObjectKey, storePrefix, type VaultObject } from './layout.js';
import type { ListedVersion, VaultClient } from './s3.js';
import { decodeSegment } from './segment.js';
import { maxOf, minOf } from '../extremes.js';

/** One object as read: its name, the version read, its bytes. */
export interface VaultCopyObject {
  key: string;
  versionId: string | undefined;
  bytes: Uint8Array;
}

export interface VaultVersionInfo {
  versionId: string;
  deleteMarker: boolean;
  lastModified: string | undefined;
  size: number;
  /** The vault's ETag: for a single PUT (all custody writes), the MD5 of the bytes. */
  etag: string | undefined;
}

/** Everything the vault holds of one store, read at one moment. Pure data: vault-copy.ts checks it. */
export interface VaultStoreCopy {
  host: string;
  storeId: string;
  enrollment: VaultCopyObject | undefined;
  certificates: (VaultCopyObject & { epoch: number })[];
  checkpoints: (VaultCopyObject & { treeSize: number; checkpointId: number; receivedAt: string | undefined })[];
  tsaTokens: (VaultCopyObject & { treeSize: number; checkpointId: number; tokenId: number })[];
  segments: (VaultCopyObject & { start: number; end: number; minObserved: string | undefined; maxObserved: string | undefined })[];
  blobs: (VaultCopyObject & { sha256: string })[];
  /** Names with more than one version, or with a delete marker: every version, oldest first. */
  multipleVersions: { key: string; versions: VaultVersionInfo[] }[];
  /** Names under the store's prefix that the layout never writes. */
  unrecognised: string[];
  /** Segments left out by the caller's time window (collect --since/--until): [start, end) each. */
  skippedSegments: { start: number; end: number }[];
  /** Read for a time window (collect --since/--until): the segments are one contiguous run that need not start at seq 0. */
  window?: { since: string | undefined; until: string | undefined };
}

export interface ReadStoreOptions {
  /** Parallel GETs (default 8). */
  concurrency?: number;
  /** Read blobs (default true). */
  blobs?: boolean;
  /**
   * A time window (collect --since/--until; instants Date.parse reads): only the run of segments
   * windowSegments selects is read, the checkpoints and time stamps of its sizes and the newest
   * checkpoint, every key certificate, and of the blobs only those its records preserved.
   */
  since?: string;
  until?: string;
  /** Told after each object is read (progress lines). */
  onObject?: (done: number, total: number, bytes: number) => void;
}

/** The stores the vault holds, for every host or for the named ones: one LIST per host. */
export async function listVaultStores(client: VaultClient, hosts?: readonly string[]): Promise<{ host: string; storeId: string }[]> {
  const prefix = client.vault.prefix;
  const names: string[] = [];
  if (hosts === undefined) {
    for await (const page of client.list(hostsPrefix(prefix), { delimiter: '/' })) {
      for (const p of page.prefixes) {
        const host = decodeHost(p.slice(hostsPrefix(prefix).length, -1));
        if (host !== undefined) names.push(host);
      }
    }
  } else names.push(...hosts);
  const out: { host: string; storeId: string }[] = [];
  for (const host of names) {
    for await (const page of client.list(hostPrefix(prefix, host), { delimiter: '/' })) {
      for (const p of page.prefixes) {
        const storeId = p.slice(hostPrefix(prefix, host).length, -1);
        if (/^[0-9a-f]{32}$/.test(storeId)) out.push({ host, storeId });
      }
    }
  }
  return out;
}

function mayHold(obj: { minObserved: string | undefined; maxObserved: string | undefined }, sinceMs: number, untilMs: number): boolean {
  if (obj.minObserved === undefined || obj.maxObserved === undefined) return true;
  // Compared as instants: the names carry up to nine fraction digits (a fraction beyond
  // milliseconds is cut by Date.parse, which only widens the range: never a record left out).
  const lo = Date.parse(obj.minObserved);
  const hi = Date.parse(obj.maxObserved);
  if (Number.isNaN(lo) || Number.isNaN(hi)) return true;
  return hi >= Math.floor(sinceMs) && lo <= untilMs;
}

/**
 * Which segments a time window reads: indexes into `segments` (sorted by start), one contiguous run.
 *
 * The rule, and why it leaves out no record observed in [since, until]:
 * - a segment's name carries the smallest and largest observed_at of its records (layout.ts), so a
 *   record observed in the window lies in a segment whose [min, max] meets the window; every such
 *   segment is read, and one whose range is unknown (a record whose time is not well formed) too;
 * - the run is filled from the first such segment to the last, whole segments only, so the
 *   snapshot has no hole inside it (a hole would read as records removed) even when the host's
 *   clock went backwards between segments;
 * - when no segment meets the window, the nearest one before it (else the first after it) is read,
 *   so the bundle still proves, with verified records on both sides of the gap, where the window
 *   falls in the host's log.
 * The names are the host's own clock and the agent's own naming, a selection aid: once read, the
 * records' observed_at are what the timeline uses. A name that lied about its records' times could
 * hide a segment from a window; the segment's own bytes are checked (vault-copy.ts), its name's
 * range is not evidence.
 */
export function windowSegments(segments: readonly { minObserved: string | undefined; maxObserved: string | undefined }[], since: string | undefined, until: string | undefined): number[] {
  const sinceMs = since === undefined ? -Infinity : Date.parse(since);
  const untilMs = until === undefined ? Infinity : Date.parse(until);
  const hits = segments.flatMap((seg, i) => (mayHold(seg, sinceMs, untilMs) ? [i] : []));
  if (segments.length === 0) return [];
  if (hits.length === 0) {
    const before = segments.map((seg, i) => ({ i, max: seg.maxObserved === undefined ? NaN : Date.parse(seg.maxObserved) })).filter((x) => x.max < sinceMs);
    return [before.length > 0 ? (before[before.length - 1] as { i: number }).i : 0];
  }
  const first = hits[0] as number;
  const last = hits[hits.length - 1] as number;
  return Array.from({ length: last - first + 1 }, (_, k) => first + k);
}

/** SHA-256s of the files the records preserved (log.file records with content "stored"). */
function preservedBlobs(records: readonly Uint8Array[]): Set<string> {
  const out = new Set<string>();
  for (const bytes of records) {
    try {
      const r = JSON.parse(Buffer.from(bytes).toString('utf8')) as { kind?: unknown; payload?: { content?: unknown; sha256?: unknown } };
      if (r.kind === 'log.file' && r.payload?.content === 'stored' && typeof r.payload.sha256 === 'string') out.add(r.payload.sha256);
    } catch {
      // Not JSON: the verifier names it; it preserved nothing this reader can fetch.
    }
  }
  return out;
}

/** Runs `work` over `items` with at most `limit` at a time; results in input order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      results[i] = await work(items[i] as T, i);
    }
  });
  await Promise.all(runners);
  return results;
}

/** Reads every object of one store from the vault (see the file comment for which version). */
export async function readVaultStore(client: VaultClient, host: string, storeId: string, options: ReadStoreOptions = {}): Promise<VaultStoreCopy> {
  const prefix = client.vault.prefix;
  const versions = await client.listVersions(storePrefix(prefix, host, storeId));
  const byKey = new Map<string, ListedVersion[]>();
  for (const v of versions) byKey.set(v.key, [...(byKey.get(v.key) ?? []), v]);
  const copy: VaultStoreCopy = {
    host,
    storeId,
    enrollment: undefined,
    certificates: [],
    checkpoints: [],
    tsaTokens: [],
    segments: [],
    blobs: [],
    multipleVersions: [],
    unrecognised: [],
    skippedSegments: [],
    ...(options.since !== undefined || options.until !== undefined ? { window: { since: options.since, until: options.until } } : {}),
  };
  const wanted: { key: string; versionId: string; parsed: VaultObject; receivedAt: string | undefined }[] = [];
  for (const [key, list] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    // listVersions sorts a name's versions oldest first.
    if (list.length > 1 || list.some((v) => v.deleteMarker)) {
      copy.multipleVersions.push({
        key,
        versions: list.map((v) => ({ versionId: v.versionId, deleteMarker: v.deleteMarker, lastModified: v.lastModified?.toISOString(), size: v.size, etag: v.etag })),
      });
    }
    const parsed = parseObjectKey(prefix, key);
    if (parsed === undefined || parsed.host !== host || parsed.storeId !== storeId) {
      copy.unrecognised.push(key);
      continue;
    }
    const first = list.find((v) => !v.deleteMarker);
    if (first === undefined) continue; // only delete markers: nothing to read (named as multiple versions)
    if (parsed.type === 'blob' && options.blobs === false) continue;
    wanted.push({ key, versionId: first.versionId, parsed, receivedAt: first.lastModified?.toISOString() });
  }
  // Blobs of a window wait for its segments: only those its records preserved are read.
  let laterBlobs: typeof wanted = [];
  if (copy.window !== undefined) {
    const segments = wanted.filter((w) => w.parsed.type === 'segment').sort((a, b) => segmentOrder(a.parsed, b.parsed));
    const chosen = new Set(windowSegments(segments.map((w) => w.parsed as Extract<VaultObject, { type: 'segment' }>), options.since, options.until).map((i) => segments[i] as (typeof wanted)[number]));
    for (const w of segments) if (!chosen.has(w) && w.parsed.type === 'segment') copy.skippedSegments.push({ start: w.parsed.start, end: w.parsed.end });
    laterBlobs = wanted.filter((w) => w.parsed.type === 'blob');
    // Of the checkpoints (and their time stamps), those the run's records can check (sizes S..E: the
    // one at S proves the frontier, the others the records) and the newest (what the vault holds
    // beyond the window): a store sealed every few seconds for a year has millions of the others.
    const run = [...chosen].map((w) => w.parsed as Extract<VaultObject, { type: 'segment' }>);
    const from = minOf(run.map((p) => p.start));
    const to = maxOf(run.map((p) => p.end));
    const newest = maxOf(wanted.map((w) => (w.parsed.type === 'checkpoint' ? w.parsed.treeSize : -1)), -1);
    const sealing = (size: number): boolean => size === newest || (size >= from && size <= to);
    const kept = wanted.filter((w) => {
      const p = w.parsed;
      if (p.type === 'segment') return chosen.has(w);
      if (p.type === 'checkpoint' || p.type === 'tsa-token') return sealing(p.treeSize);
      return p.type !== 'blob';
    });
    wanted.length = 0;
    // A loop, not push(...kept): a store sealed every few seconds has more checkpoints than a spread call takes.
    for (const w of kept) wanted.push(w);
  }
  let done = 0;
  let bytes = 0;
  const fetchInto = async (list: typeof wanted, total: number): Promise<void> => {
    const bodies = await mapBounded(list, options.concurrency ?? 8, async (w) => {
      // A version id of "null" is what S3 reports for an object written while versioning was off.
      const got = await client.get(w.key, w.versionId === 'null' ? undefined : w.versionId);
      done++;
      bytes += got.body.length;
      options.onObject?.(done, total, bytes);
      return got;
    });
    placeObjects(copy, list, bodies);
  };
  await fetchInto(wanted, wanted.length);
  if (laterBlobs.length > 0) {
    const records = copy.segments.flatMap((seg) => {
      try {
        return decodeSegment(seg.bytes).records;
      } catch {
        return []; // a segment that does not decode is vault-copy.ts's finding
      }
    });
    const preserved = preservedBlobs(records);
    const blobs = laterBlobs.filter((w) => w.parsed.type === 'blob' && preserved.has(w.parsed.sha256));
    await fetchInto(blobs, wanted.length + blobs.length);
  }
  copy.checkpoints.sort((a, b) => a.checkpointId - b.checkpointId);
  copy.tsaTokens.sort((a, b) => a.tokenId - b.tokenId);
  copy.certificates.sort((a, b) => a.epoch - b.epoch);
  copy.segments.sort((a, b) => a.start - b.start || a.end - b.end);
  copy.blobs.sort((a, b) => (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0));
  return copy;
}

function segmentOrder(a: VaultObject, b: VaultObject): number {
  return a.type === 'segment' && b.type === 'segment' ? a.start - b.start || a.end - b.end : 0;
}

function placeObjects(copy: VaultStoreCopy, list: readonly { key: string; versionId: string; parsed: VaultObject; receivedAt: string | undefined }[], bodies: readonly { body: Uint8Array; versionId?: string | undefined }[]): void {
  list.forEach((w, i) => {
    const got = bodies[i]!;
    const obj: VaultCopyObject = { key: w.key, versionId: got.versionId ?? w.versionId, bytes: got.body };
    const p = w.parsed;
    switch (p.type) {
      case 'enrollment':
        copy.enrollment = obj;
        break;
      case 'key-certificate':
        copy.certificates.push({ ...obj, epoch: p.epoch });
        break;
      case 'checkpoint':
        copy.checkpoints.push({ ...obj, treeSize: p.treeSize, checkpointId: p.checkpointId, receivedAt: w.receivedAt });
        break;
      case 'tsa-token':
        copy.tsaTokens.push({ ...obj, treeSize: p.treeSize, checkpointId: p.checkpointId, tokenId: p.tokenId });
        break;
      case 'segment':
        copy.segments.push({ ...obj, start: p.start, end: p.end, minObserved: p.minObserved, maxObserved: p.maxObserved });
        break;
      case 'blob':
        copy.blobs.push({ ...obj, sha256: p.sha256 });
        break;
    }
  });
}

/** The one store of `host` (or the one named); a clear error when there is none or more than one. */
export async function resolveVaultStore(client: VaultClient, host: string, storeId?: string): Promise<{ host: string; storeId: string }[]> {
  const stores = await listVaultStores(client, [host]);
  if (storeId !== undefined) {
    const found = stores.filter((s) => s.storeId === storeId);
    if (found.length === 0) {
      throw new CustodyError(ErrorCodes.VAULT_NOT_FOUND, `the vault holds no store ${storeId} of host ${JSON.stringify(host)}${stores.length > 0 ? ` (it holds ${stores.map((s) => s.storeId).join(', ')})` : ''}`, {
        where: `s3://${client.bucket}/${hostPrefix(client.vault.prefix, host)}`,
      });
    }
    return found;
  }
  if (stores.length === 0) {
    throw new CustodyError(ErrorCodes.VAULT_NOT_FOUND, `the vault holds nothing of host ${JSON.stringify(host)} (\`custody vault hosts\` lists the hosts it holds)`, {
      where: `s3://${client.bucket}/${hostPrefix(client.vault.prefix, host)}`,
    });
  }
  return stores;
}
