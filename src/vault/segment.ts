/**
 * A record segment: the canonical bytes of records [start, end) as one vault object, framed so that
 * the segment and the checkpoint at tree size `end` verify together without any other object. Pure.
 *
 *   custody-segment v1\n
 *   {"end":END,"frontier":["<base64>",…],"start":START,"store_id":"<32 hex>"}\n   (canonical JSON)
 *   <decimal byte length>:<record bytes>\n                                         (end - start times)
 *
 * Why a frontier: a checkpoint signs the Merkle root of records 0..end-1. The frontier is the list
 * of RFC 6962 subtree roots that cover records 0..start-1 (one per set bit of `start`, level 0
 * first, exactly MerkleFrontier's state). From it and the segment's records the root at `end`
 * recomputes; if it equals the signed root, these are the records at those positions of the signed
 * tree (a forged frontier or record would need a SHA-256 collision). The frontier itself is not
 * trusted: only the comparison with the signed root is.
 *
 * Why length-prefixed: record bytes are canonical JSON and never hold a raw newline, but the shipper
 * ships what the store holds, and a tampered store may hold anything; a length frames any bytes
 * exactly. The decimal form keeps a segment readable with `less`.
 */
import { CustodyError, ErrorCodes } from '../errors.js';
import { HASH_SIZE, leafHash, MerkleFrontier, type FrontierState } from '../integrity/merkle.js';

const MAGIC = 'custody-segment v1\n';
const STORE_ID = /^[0-9a-f]{32}$/;

export interface Segment {
  storeId: string;
  start: number;
  /** Exclusive: the tree size of the checkpoint this segment ends at. */
  end: number;
  /** Subtree roots covering records [0, start): one per set bit of start, lowest level first. */
  frontier: Uint8Array[];
  records: Uint8Array[];
}

function invalid(message: string): CustodyError {
  return new CustodyError(ErrorCodes.VAULT_SEGMENT_INVALID, message);
}

/** The subtree roots of a frontier of `size` leaves, lowest level first (the segment header's form). */
export function frontierRoots(state: FrontierState): Uint8Array[] {
  const roots: Uint8Array[] = [];
  let s = state.size;
  for (let level = 0; s > 0; level++, s = Math.floor(s / 2)) {
    if (s % 2 === 1) roots.push(new Uint8Array(state.levels[level] as Uint8Array));
  }
  return roots;
}

/** The Merkle frontier of `size` leaves from its subtree roots (lowest level first); throws when the count of roots is wrong. */
export function frontierFromRoots(size: number, roots: readonly Uint8Array[]): MerkleFrontier {
  const levels: Uint8Array[] = [];
  let next = 0;
  let s = size;
  for (let level = 0; s > 0; level++, s = Math.floor(s / 2)) {
    if (s % 2 === 1) {
      const root = roots[next++];
      if (root === undefined) throw invalid(`the frontier of ${size} records needs more subtree roots than the segment carries`);
      levels[level] = root;
    } else levels[level] = new Uint8Array(HASH_SIZE);
  }
  if (next !== roots.length) throw invalid(`the frontier of ${size} records has ${next} subtree roots, the segment carries ${roots.length}`);
  return MerkleFrontier.fromState({ size, levels });
}

/** A segment's header fields: what encodeSegment writes before the records. */
export type SegmentHeader = Omit<Segment, 'records'>;

/**
 * Records framed as a segment's body: `<decimal byte length>:<record bytes>\n` for each, in order.
 * The shipper gets this straight from SQLite (StoreReader.framedRecords), so a segment is one copy
 * of its records, not one buffer per record and another for the segment.
 */
export function frameRecords(records: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const r of records) size += String(r.length).length + 1 + r.length + 1;
  const out = Buffer.allocUnsafeSlow(size); // every byte is written below
  let at = 0;
  for (const r of records) {
    at += out.write(`${r.length}:`, at, 'latin1');
    out.set(r, at);
    at += r.length;
    out[at++] = 0x0a;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Where a framed body stops being one: the record's index, its byte offset, and what is wrong there. */
export interface FramingBreak {
  index: number;
  at: number;
  problem: 'prefix' | 'cut';
}

/**
 * The records of a framed body (views into it, not copies), parsed strictly, or where it breaks.
 * Also how the store reader reads its chunks back (src/store/chunks.ts): one grammar, one parser.
 */
export function splitFramed(body: Uint8Array): Uint8Array[] | FramingBreak {
  const records: Uint8Array[] = [];
  let at = 0;
  while (at < body.length) {
    // The length prefix read digit by digit (it runs once per shipped, collected and verified
    // record): decimal, no leading zero, at most ten digits, then a colon; anything else is refused.
    let length = 0;
    let i = at;
    for (let c = body[i]; c !== undefined && c >= 0x30 && c <= 0x39 && i - at < 11; c = body[++i]) length = length * 10 + (c - 0x30);
    const digits = i - at;
    if (digits === 0 || digits > 10 || (digits > 1 && body[at] === 0x30) || body[i] !== 0x3a) return { index: records.length, at, problem: 'prefix' };
    const stop = i + 1 + length;
    if (stop >= body.length || body[stop] !== 0x0a) return { index: records.length, at, problem: 'cut' };
    records.push(body.subarray(i + 1, stop));
    at = stop + 1;
  }
  return records;
}

/**
 * The records of a framed body (views into it, not copies), parsed strictly: any byte out of place
 * is an error naming the record and the byte offset (`base`: where the body starts in its object).
 */
export function unframeRecords(body: Uint8Array, base = 0): Uint8Array[] {
  const split = splitFramed(body);
  if (Array.isArray(split)) return split;
  const { index, at, problem } = split;
  throw invalid(
    problem === 'prefix'
      ? `record ${index} of the segment has no valid length prefix (at byte ${base + at})`
      : `record ${index} of the segment is cut short or not followed by a newline (at byte ${base + at})`,
  );
}

/** A segment from its header and its records already framed (frameRecords); `count`: how many records the body frames. */
export function encodeFramedSegment(header: SegmentHeader, framed: Uint8Array, count: number): Uint8Array {
  if (!STORE_ID.test(header.storeId)) throw invalid('a segment needs the 32-hex-digit store id');
  if (!Number.isSafeInteger(header.start) || header.start < 0) throw invalid(`segment start ${header.start} is not a seq`);
  if (header.end !== header.start + count || count === 0) {
    throw invalid(`segment [${header.start}, ${header.end}) must hold ${header.end - header.start} records (at least one), got ${count}`);
  }
  frontierFromRoots(header.start, header.frontier); // checks the count of roots
  // Keys in code-point order: this is the canonical (RFC 8785) form of the header.
  const head = `${MAGIC}${JSON.stringify({
    end: header.end,
    frontier: header.frontier.map((h) => Buffer.from(h).toString('base64')),
    start: header.start,
    store_id: header.storeId,
  })}\n`;
  const headLength = Buffer.byteLength(head);
  const out = Buffer.allocUnsafeSlow(headLength + framed.length); // both parts are written below
  out.write(head, 0, 'utf8');
  out.set(framed, headLength);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function encodeSegment(segment: Segment): Uint8Array {
  const { records, ...header } = segment;
  return encodeFramedSegment(header, frameRecords(records), records.length);
}

/** Parses a segment strictly (any byte out of place is an error, never skipped). */
export function decodeSegment(bytes: Uint8Array): Segment {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!buf.subarray(0, MAGIC.length).equals(Buffer.from(MAGIC))) throw invalid('not a custody segment (first line is not "custody-segment v1")');
  const headerEnd = buf.indexOf(0x0a, MAGIC.length);
  if (headerEnd === -1) throw invalid('segment header line has no end');
  const headerText = buf.subarray(MAGIC.length, headerEnd).toString('utf8');
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch {
    throw invalid('segment header is not JSON');
  }
  const h = header as { end?: unknown; frontier?: unknown; start?: unknown; store_id?: unknown };
  if (
    typeof h !== 'object' || h === null || typeof h.start !== 'number' || typeof h.end !== 'number' || typeof h.store_id !== 'string' ||
    !Array.isArray(h.frontier) || !h.frontier.every((x) => typeof x === 'string') || Object.keys(h).length !== 4
  ) {
    throw invalid('segment header must hold exactly end, frontier, start and store_id');
  }
  const frontier = (h.frontier as string[]).map((b64) => {
    const d = Buffer.from(b64, 'base64');
    if (d.length !== HASH_SIZE || d.toString('base64') !== b64) throw invalid('a frontier entry is not a base64 SHA-256 hash');
    return new Uint8Array(d);
  });
  // Views into the segment's own bytes, not copies: a store read back from the vault is held once.
  const records = unframeRecords(bytes.subarray(headerEnd + 1), headerEnd + 1);
  const segment: Segment = { storeId: h.store_id, start: h.start, end: h.end, frontier, records };
  // Re-encoding must give the same bytes: one segment has one spelling.
  if (!Buffer.from(encodeSegment(segment)).equals(buf)) throw invalid('segment is not in its canonical form');
  return segment;
}

/** The Merkle root at tree size `end` implied by the segment: compare it with the checkpoint's signed root. */
export function segmentRoot(segment: Segment): Uint8Array {
  const frontier = frontierFromRoots(segment.start, segment.frontier);
  for (const r of segment.records) frontier.push(leafHash(r));
  return frontier.root();
}
