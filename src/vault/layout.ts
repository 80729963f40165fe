/**
 * The vault's object layout: which name each piece of evidence has in the bucket. Pure (names in,
 * names out). These names are a format other tools and older custody versions read: they never
 * change; a new layout gets a new `v<N>/` root beside this one.
 *
 *   [PREFIX/]custody/v1/hosts/<host>/<store-id>/
 *     enrollment.pub                                   the store's enrollment public key file
 *     keys/<epoch>.cert                                the certificate of epoch <epoch>'s key (signed by epoch-1)
 *     checkpoints/<newest-first size>-<newest-first id>.note          one signed checkpoint note
 *     checkpoints/<newest-first size>-<newest-first id>.tsa-<token id>.tsr  an RFC 3161 token over it
 *     segments/<start>-<end>_<min observed>_<max observed>.seg        records [start, end), see segment.ts
 *     blobs/<sha256>                                   a preserved file's content
 *
 * Why this shape:
 * - **`vault hosts` is cheap.** Hosts are the common prefixes under `hosts/` (one LIST with a
 *   delimiter, no object read), stores the common prefixes under a host. S3 lists names in ascending
 *   byte order only, so a checkpoint's name counts *down* (`2^53-1 - tree size`): the first
 *   name a LIST returns is the newest checkpoint, one request per store however long its history.
 * - **Resuming after a crash ships nothing twice under a new name.** Every name is a function of the
 *   store's own data (tree size, checkpoint id and TSA token id from the store's AUTOINCREMENT
 *   columns, seq ranges, epochs, content hashes), never of the time of shipping or a counter kept
 *   by the shipper. A shipper that crashed after the vault acknowledged an object but before it
 *   recorded so puts the same bytes under the same name again; put-once (s3.ts) recognises that as
 *   already done. Different bytes under an existing name are refused, and a second version of a
 *   write-once name is itself evidence that someone rewrote the store.
 * - **Segments end at checkpoints.** Segment boundaries are exactly the store's checkpoint sizes
 *   (one segment per checkpoint that grew the tree), so a segment and the checkpoint at its `end`
 *   verify on their own (segment.ts carries the Merkle frontier of the records before `start`), and
 *   the boundaries do not depend on how far behind the shipper was.
 * - **Collect by host and time range** lists one store's segments and reads only those whose
 *   observed-at range (in the name: the smallest and largest `observed_at` of the segment's records,
 *   compact UTC, or `unknown` when a record's time is not well formed) overlaps the case's window.
 *   The range is the host's own clock, as in the records: a selection aid, never evidence.
 * - Host names are percent-encoded (bytes outside `A-Z a-z 0-9 . _ -`, and the names `.` and `..`)
 *   so any host name is one path segment and decodes back exactly; store ids are the store's
 *   32-hex-digit id, so two stores of one host (a re-enrolled machine) never mix.
 * - Fixed-width decimal numbers (16 digits: every seq and id is below 2^53) sort numerically.
 */
import { CustodyError, ErrorCodes } from '../errors.js';

export const LAYOUT_ROOT = 'custody/v1/';
const DIGITS = 16;
// Counting down from 2^53-1 (16 digits) keeps every name's number, up or down, a safe integer.
const MAX_NUMBER = Number.MAX_SAFE_INTEGER;
const STORE_ID = /^[0-9a-f]{32}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const COMPACT_TIME = /^\d{8}T\d{6}(\.\d{1,9})?Z$/;
const RFC3339_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/;
const MAX_HOST_SEGMENT = 255;

export type VaultObject =
  | { type: 'enrollment'; host: string; storeId: string }
  | { type: 'key-certificate'; host: string; storeId: string; epoch: number }
  | { type: 'checkpoint'; host: string; storeId: string; treeSize: number; checkpointId: number }
  | { type: 'tsa-token'; host: string; storeId: string; treeSize: number; checkpointId: number; tokenId: number }
  | { type: 'segment'; host: string; storeId: string; start: number; end: number; minObserved: string | undefined; maxObserved: string | undefined }
  | { type: 'blob'; host: string; storeId: string; sha256: string };

function invalid(message: string, where?: string): CustodyError {
  return new CustodyError(ErrorCodes.USAGE, message, where === undefined ? undefined : { where });
}

function number(n: number, what: string): string {
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${what} must be a whole number from 0 to 2^53-1, got ${n}`);
  return String(n).padStart(DIGITS, '0');
}

function countDown(n: number, what: string): string {
  number(n, what);
  return String(MAX_NUMBER - n).padStart(DIGITS, '0');
}

/** The vault prefix as object names start: '' or 'a/b/'. */
export function rootOf(prefix: string): string {
  return `${prefix === '' ? '' : `${prefix}/`}${LAYOUT_ROOT}`;
}

export function encodeHost(host: string): string {
  if (host === '') throw invalid('a host name may not be empty');
  let out = '';
  for (const byte of Buffer.from(host, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9._-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out === '.' || out === '..') out = out.replace(/\./g, '%2E');
  if (out.length > MAX_HOST_SEGMENT) throw invalid(`host name ${JSON.stringify(host.slice(0, 40))}… is too long for a vault object name`);
  return out;
}

/** The inverse of encodeHost; undefined for a segment encodeHost would never produce. */
export function decodeHost(segment: string): string | undefined {
  if (!/^([A-Za-z0-9._-]|%[0-9A-F]{2})+$/.test(segment)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    if (segment[i] === '%') {
      bytes.push(parseInt(segment.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(segment.charCodeAt(i));
  }
  const buf = Buffer.from(bytes);
  const host = buf.toString('utf8');
  // Only the one canonical spelling decodes: no over-encoding, no invalid UTF-8.
  if (!Buffer.from(host, 'utf8').equals(buf)) return undefined;
  return encodeHost(host) === segment ? host : undefined;
}

function checkStoreId(storeId: string): void {
  if (!STORE_ID.test(storeId)) throw invalid(`a store id is 32 lowercase hex digits, got ${JSON.stringify(storeId)}`);
}

/** Everything a vault holds for one host: the LIST prefix of `vault hosts`. */
export function hostsPrefix(prefix: string): string {
  return `${rootOf(prefix)}hosts/`;
}

export function hostPrefix(prefix: string, host: string): string {
  return `${hostsPrefix(prefix)}${encodeHost(host)}/`;
}

export function storePrefix(prefix: string, host: string, storeId: string): string {
  checkStoreId(storeId);
  return `${hostPrefix(prefix, host)}${storeId}/`;
}

export function checkpointsPrefix(prefix: string, host: string, storeId: string): string {
  return `${storePrefix(prefix, host, storeId)}checkpoints/`;
}

export function segmentsPrefix(prefix: string, host: string, storeId: string): string {
  return `${storePrefix(prefix, host, storeId)}segments/`;
}

export function enrollmentKey(prefix: string, host: string, storeId: string): string {
  return `${storePrefix(prefix, host, storeId)}enrollment.pub`;
}

export function keyCertificateKey(prefix: string, host: string, storeId: string, epoch: number): string {
  if (epoch < 1) throw invalid(`epoch 0 is the enrollment key; certificates start at epoch 1, got ${epoch}`);
  return `${storePrefix(prefix, host, storeId)}keys/${number(epoch, 'epoch')}.cert`;
}

function checkpointStem(treeSize: number, checkpointId: number): string {
  return `${countDown(treeSize, 'tree size')}-${countDown(checkpointId, 'checkpoint id')}`;
}

export function checkpointKey(prefix: string, host: string, storeId: string, treeSize: number, checkpointId: number): string {
  return `${checkpointsPrefix(prefix, host, storeId)}${checkpointStem(treeSize, checkpointId)}.note`;
}

export function tsaTokenKey(prefix: string, host: string, storeId: string, treeSize: number, checkpointId: number, tokenId: number): string {
  return `${checkpointsPrefix(prefix, host, storeId)}${checkpointStem(treeSize, checkpointId)}.tsa-${number(tokenId, 'token id')}.tsr`;
}

/** `2026-12-04T16:55:15.123456Z` → `20261204T165515.123456Z`; undefined when not RFC 3339 UTC. */
export function compactTime(observedAt: string): string | undefined {
  const m = RFC3339_UTC.exec(observedAt);
  if (m === null) return undefined;
  return `${m[1]}${m[2]}${m[3]}T${m[4]}${m[5]}${m[6]}${m[7] ?? ''}Z`;
}

/** The inverse of compactTime. */
export function expandTime(compact: string): string {
  return `${compact.slice(0, 4)}-${compact.slice(4, 6)}-${compact.slice(6, 8)}T${compact.slice(9, 11)}:${compact.slice(11, 13)}:${compact.slice(13)}`;
}

export function segmentKey(
  prefix: string,
  host: string,
  storeId: string,
  range: { start: number; end: number; minObserved: string | undefined; maxObserved: string | undefined },
): string {
  if (!(range.end > range.start)) throw invalid(`a segment holds at least one record: [${range.start}, ${range.end}) is empty`);
  const t = (s: string | undefined): string => (s === undefined ? 'unknown' : (compactTime(s) ?? 'unknown'));
  return `${segmentsPrefix(prefix, host, storeId)}${number(range.start, 'segment start')}-${number(range.end, 'segment end')}_${t(range.minObserved)}_${t(range.maxObserved)}.seg`;
}

export function blobKey(prefix: string, host: string, storeId: string, sha256: string): string {
  if (!SHA256.test(sha256)) throw invalid(`a blob is named by its SHA-256 in 64 lowercase hex digits, got ${JSON.stringify(sha256)}`);
  return `${storePrefix(prefix, host, storeId)}blobs/${sha256}`;
}

const NUM = `(\\d{${DIGITS}})`;
const CHECKPOINT_NAME = new RegExp(`^checkpoints/${NUM}-${NUM}\\.note$`);
const TSA_NAME = new RegExp(`^checkpoints/${NUM}-${NUM}\\.tsa-${NUM}\\.tsr$`);
const CERT_NAME = new RegExp(`^keys/${NUM}\\.cert$`);
const SEGMENT_NAME = new RegExp(`^segments/${NUM}-${NUM}_([0-9TZ.]+|unknown)_([0-9TZ.]+|unknown)\\.seg$`);
const BLOB_NAME = /^blobs\/([0-9a-f]{64})$/;

function safe(digits: string): number | undefined {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : undefined;
}

function time(part: string): string | undefined | null {
  if (part === 'unknown') return undefined;
  return COMPACT_TIME.test(part) ? expandTime(part) : null; // null: not a name we write
}

/**
 * What an object name in the vault stands for, or undefined for a name this layout never writes
 * (a foreign object, or one an attacker placed: the caller decides whether that is a finding).
 * Exactly the inverse of the functions above: parse(name(x)) = x, and only canonical names parse.
 */
export function parseObjectKey(prefix: string, key: string): VaultObject | undefined {
  const base = hostsPrefix(prefix);
  if (!key.startsWith(base)) return undefined;
  const parts = key.slice(base.length).split('/');
  if (parts.length < 3) return undefined;
  const host = decodeHost(parts[0] as string);
  const storeId = parts[1] as string;
  if (host === undefined || !STORE_ID.test(storeId)) return undefined;
  const rest = parts.slice(2).join('/');
  const where = { host, storeId };
  if (rest === 'enrollment.pub') return { type: 'enrollment', ...where };
  let m = CERT_NAME.exec(rest);
  if (m) {
    const epoch = safe(m[1] as string);
    return epoch !== undefined && epoch >= 1 ? { type: 'key-certificate', ...where, epoch } : undefined;
  }
  m = CHECKPOINT_NAME.exec(rest) ?? TSA_NAME.exec(rest);
  if (m) {
    const down = [safe(m[1] as string), safe(m[2] as string)];
    if (down[0] === undefined || down[1] === undefined) return undefined;
    const treeSize = MAX_NUMBER - down[0];
    const checkpointId = MAX_NUMBER - down[1];
    if (m[3] === undefined) return { type: 'checkpoint', ...where, treeSize, checkpointId };
    const tokenId = safe(m[3]);
    return tokenId === undefined ? undefined : { type: 'tsa-token', ...where, treeSize, checkpointId, tokenId };
  }
  m = SEGMENT_NAME.exec(rest);
  if (m) {
    const start = safe(m[1] as string);
    const end = safe(m[2] as string);
    const minObserved = time(m[3] as string);
    const maxObserved = time(m[4] as string);
    if (start === undefined || end === undefined || !(end > start) || minObserved === null || maxObserved === null) return undefined;
    const parsed: VaultObject = { type: 'segment', ...where, start, end, minObserved, maxObserved };
    // Only the canonical spelling (what segmentKey writes) counts.
    return segmentKey(prefix, host, storeId, parsed) === key ? parsed : undefined;
  }
  m = BLOB_NAME.exec(rest);
  if (m) return { type: 'blob', ...where, sha256: m[1] as string };
  return undefined;
}

/**
 * Case records, written by the collector (never by an agent): which object versions a case put a
 * legal hold on, and when it released them.
 *
 *   [PREFIX/]custody/v1/cases/<case>/holds-<compact time>.json
 *   [PREFIX/]custody/v1/cases/<case>/release-<compact time>.json
 *
 * The case id is encoded as a host name is (any printable id is one path segment). The collector's
 * policy may write under cases/ and nowhere else (docs/vault/collector-policy.json).
 */
export type CaseRecordKind = 'holds' | 'release';

export function casesPrefix(prefix: string): string {
  return `${rootOf(prefix)}cases/`;
}

export function casePrefix(prefix: string, caseId: string): string {
  return `${casesPrefix(prefix)}${encodeHost(caseId)}/`;
}

export function caseRecordKey(prefix: string, caseId: string, kind: CaseRecordKind, at: string): string {
  const t = compactTime(at);
  if (t === undefined) throw invalid(`a case record's time must be RFC 3339 UTC, got ${JSON.stringify(at)}`);
  return `${casePrefix(prefix, caseId)}${kind}-${t}.json`;
}

const CASE_RECORD_NAME = /^(holds|release)-(\d{8}T\d{6}(?:\.\d{1,9})?Z)\.json$/;

/** A case record's case, kind and time from its name; undefined for any other name. */
export function parseCaseRecordKey(prefix: string, key: string): { caseId: string; kind: CaseRecordKind; at: string } | undefined {
  const base = casesPrefix(prefix);
  if (!key.startsWith(base)) return undefined;
  const parts = key.slice(base.length).split('/');
  if (parts.length !== 2) return undefined;
  const caseId = decodeHost(parts[0] as string);
  const m = CASE_RECORD_NAME.exec(parts[1] as string);
  if (caseId === undefined || m === null) return undefined;
  return { caseId, kind: m[1] as CaseRecordKind, at: expandTime(m[2] as string) };
}
