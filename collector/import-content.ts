/**
 * What an imported file holds, decided by its content and never its name, and the typed records
 * read from it: EVTX (`ElfFile\0`) → Windows event mapping; gzip → the decompressed content, read
 * the same way (the compressed bytes are what is preserved); setupapi.dev.log (`>>>  [Device
 * Install`) → USB first installs; utmp-format records (size and layout sanity) → logons; any other
 * text → the line parsers (syslog, kernel USB, auth, auditd, web and proxy access logs). Pure: bytes in, records out,
 * except readContent, the one function that reads a file (in pieces, for scanContent, the store's
 * streamed blob and deriveTextPieces, so that a plain text file of any size is imported in bounded
 * memory; the other formats are read whole).
 *
 * Deterministic for the same bytes, path, `log.file` seq and mtime: a resumed import (import.ts)
 * reads a file again to find where its earlier run stopped, and must get the same records.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { isAscii } from 'node:buffer';
import { basename } from 'node:path';
import { gunzipSync, constants as zc } from 'node:zlib';
import { createLineDeriver, deriveFromLines, decodeLineBytes, LATIN1_NOTE } from '../src/derive/lines.js';
import { CustodyError, ErrorCodes, messageOf } from '../src/errors.js';
import { readEvtx } from '../src/parsers/evtx/index.js';
import { parseSetupapiDevLog } from '../src/parsers/setupapi.js';
import type { DerivedRecord, ParseFailure, ParseOutput, SourceLine } from '../src/parsers/types.js';
import { createWindowsEventMapper } from '../src/parsers/windows-events.js';
import { parseUtmp, UT_TYPES } from '../src/parsers/wtmp.js';

/** Most bytes read from one gzip stream for parsing. */
const MAX_INFLATED_BYTES = 1 << 30;
/** Line numbers listed in a record's `extra.lines`. */
const MAX_LISTED_LINES = 64;

function hasPrefix(bytes: Uint8Array, prefix: readonly number[]): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

const EVTX_MAGIC = [0x45, 0x6c, 0x66, 0x46, 0x69, 0x6c, 0x65, 0x00];
const GZIP_MAGIC = [0x1f, 0x8b];
const OTHER_COMPRESSION: Array<[string, number[]]> = [
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/** utmp-format: binary, at least one record, mostly known record types, and a real login-accounting entry. */
function looksLikeUtmp(bytes: Uint8Array): boolean {
  if (bytes.length < 384) return false;
  if (!bytes.subarray(0, 384).includes(0)) return false;
  const o = parseUtmp(bytes, { source: 'wtmp', derivedFrom: [0] });
  if (o.entries.length === 0) return false;
  const known = o.entries.filter((e) => e.type >= 0 && e.type < UT_TYPES.length).length;
  const real = o.entries.some((e) => e.type >= 1 && e.type <= 8 && e.time !== undefined);
  return real && known * 2 >= o.entries.length;
}

function looksBinary(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 8192);
  return head.includes(0);
}

function utmpSource(path: string): 'wtmp' | 'btmp' | 'utmp' {
  const name = basename(path).toLowerCase();
  if (name.includes('btmp')) return 'btmp';
  if (name.startsWith('utmp')) return 'utmp';
  return 'wtmp';
}

/** Decompresses a gzip file as far as it goes; `truncated` when the stream ends early or is damaged. */
function inflate(bytes: Uint8Array): { data: Buffer; truncated?: string } {
  try {
    return { data: gunzipSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES }) };
  } catch (err) {
    // Read what is there: a sync flush returns the bytes before the damage.
    try {
      const data = gunzipSync(bytes, { finishFlush: zc.Z_SYNC_FLUSH, maxOutputLength: MAX_INFLATED_BYTES });
      return { data, truncated: messageOf(err) };
    } catch (err2) {
      return { data: Buffer.alloc(0), truncated: messageOf(err2) };
    }
  }
}

/** Text lines of a file's bytes (split at \n), each decoded on its own (UTF-8, else latin1). */
function* textLines(bytes: Uint8Array, seqBase: number, path: string, observedAt: string, latin1: Set<number>): Generator<SourceLine> {
  let start = 0;
  // A UTF-8 byte order mark is not part of the first line.
  if (hasPrefix(bytes, [0xef, 0xbb, 0xbf])) start = 3;
  let lineNo = 1;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const d = decodeLineBytes(bytes.subarray(start, end));
    if (d.latin1) latin1.add(lineNo);
    yield { seq: seqBase + lineNo, path, text: d.text, observedAt };
    start = end + 1;
    lineNo++;
  }
}

/** The last ascending list listLines joined (a copy, in a list reused), and its text: the records of one event list the same lines. */
const lastListed: number[] = [];
let lastListedText = '';

export function listLines(nums: readonly number[]): string {
  // Lines of one event are mostly in order already: then there is nothing to sort or deduplicate.
  let ascending = nums.length <= MAX_LISTED_LINES;
  for (let i = 1; ascending && i < nums.length; i++) ascending = (nums[i - 1] as number) < (nums[i] as number);
  if (ascending) {
    let same = nums.length === lastListed.length;
    for (let i = 0; same && i < nums.length; i++) same = nums[i] === lastListed[i];
    if (same) return lastListedText;
    lastListed.length = nums.length;
    for (let i = 0; i < nums.length; i++) lastListed[i] = nums[i] as number;
    lastListedText = nums.join(',');
    return lastListedText;
  }
  const sorted = [...new Set(nums)].sort((a, b) => a - b);
  const shown = sorted.slice(0, MAX_LISTED_LINES).join(',');
  return sorted.length > MAX_LISTED_LINES ? `${shown},… (${sorted.length} lines)` : shown;
}

/**
 * Text parsers name lines by seq; an import feeds line numbers instead (seq = line number) and
 * then points every record at the file's `log.file` seq, keeping the line numbers in `extra.lines`.
 */
function relocateTextRecord(r: DerivedRecord, fileSeq: number, latin1: Set<number>): DerivedRecord {
  // In place: the parsers hand over records of their own, made for this call. Keys keep the order
  // a copy would give them (an existing key keeps its place, a new one goes last).
  const p = r.payload as { derived_from: number[]; extra?: Record<string, string>; session?: string };
  const lines = p.derived_from;
  const extra: Record<string, string> = p.extra ?? {};
  extra['lines'] = listLines(lines);
  if (latin1.size > 0 && lines.some((l) => latin1.has(l))) extra['text_decoding'] = LATIN1_NOTE;
  if (extra['connect_seq'] !== undefined) {
    extra['connect_line'] = extra['connect_seq'];
    delete extra['connect_seq'];
  }
  if (typeof p.session === 'string' && p.session.includes('@')) p.session = p.session.replace(/@(\d+)$/, (_m, line: string) => `@${fileSeq}:L${line}`);
  p.derived_from = [fileSeq];
  p.extra = extra;
  return r;
}

function relocateFailure(f: ParseFailure, fileSeq: number): ParseFailure {
  const lines = f.derived_from;
  const out: ParseFailure = { ...f, derived_from: [fileSeq] };
  if (lines !== undefined && lines.length > 0) out.detail = `line ${listLines(lines)}: ${f.detail}`;
  return out;
}

export interface ParsedContent {
  format: string;
  out: ParseOutput;
  /** Truncated tails: evidence that could not be read. */
  gaps: Array<{ reason: string; detail: string; from_offset?: number; to_offset?: number; bytes?: number }>;
}

export function parseContent(bytes: Uint8Array, path: string, fileSeq: number, mtime: string, depth = 0): ParsedContent {
  if (bytes.length === 0) return { format: 'empty', out: { records: [], failures: [] }, gaps: [] };
  if (hasPrefix(bytes, EVTX_MAGIC)) {
    const r = readEvtx(bytes);
    const out: ParseOutput = { records: [], failures: r.failures.map((f) => ({ ...f, derived_from: [fileSeq] })) };
    const gaps: ParsedContent['gaps'] = r.failures
      .filter((f) => f.reason === 'evtx.truncated_chunk')
      .map((f) => ({ reason: 'truncated', detail: `EVTX: ${f.detail}`, ...(f.offset !== undefined ? { from_offset: f.offset, to_offset: bytes.length } : {}) }));
    const mapper = createWindowsEventMapper();
    for (const e of r.records) {
      const o = mapper.map(e, [fileSeq]);
      for (const rec of o.records) {
        const p = rec.payload as { extra?: Record<string, string> };
        p.extra = { ...(p.extra ?? {}), file_offset: String(e.offset), record_number: e.recordNumber };
        out.records.push(rec);
      }
      out.failures.push(...o.failures);
    }
    return { format: 'evtx', out, gaps };
  }
  if (hasPrefix(bytes, GZIP_MAGIC) && depth === 0) {
    const z = inflate(bytes);
    const inner = parseContent(z.data, path, fileSeq, mtime, depth + 1);
    const gaps = [...inner.gaps];
    if (z.truncated !== undefined) {
      gaps.push({
        reason: 'truncated',
        detail: `gzip stream damaged or cut short (${z.truncated}); ${z.data.length} bytes were decompressed and read, the rest could not be`,
      });
    }
    return { format: `gzip+${inner.format}`, out: inner.out, gaps };
  }
  for (const [name, magic] of OTHER_COMPRESSION) {
    if (hasPrefix(bytes, magic)) {
      return {
        format: name,
        out: { records: [], failures: [{ parser: 'import', reason: 'import.unsupported_compression', detail: `${name} content is preserved but not read (decompress it and import the result too)`, derived_from: [fileSeq] }] },
        gaps: [],
      };
    }
  }
  if (looksLikeUtmp(bytes)) {
    const o = parseUtmp(bytes, { source: utmpSource(path), derivedFrom: [fileSeq] });
    const gaps: ParsedContent['gaps'] = o.failures
      .filter((f) => f.reason === 'wtmp.truncated')
      .map((f) => ({ reason: 'truncated', detail: f.detail, ...(f.offset !== undefined ? { from_offset: f.offset, to_offset: bytes.length, bytes: bytes.length - f.offset } : {}) }));
    return { format: 'utmp', out: { records: o.records, failures: o.failures }, gaps };
  }
  if (hasPrefix(bytes, [0xff, 0xfe]) || hasPrefix(bytes, [0xfe, 0xff])) {
    // UTF-16 text (some Windows logs): read as text, the preserved bytes stay as they are.
    const le = bytes[0] === 0xff;
    const body = Buffer.from(bytes.subarray(2));
    if (!le) body.swap16();
    const text = body.toString('utf16le');
    return parseText(Buffer.from(text, 'utf8'), path, fileSeq, mtime, 'utf16-text');
  }
  if (looksBinary(bytes)) {
    return {
      format: 'binary',
      out: { records: [], failures: [{ parser: 'import', reason: 'import.unknown_binary', detail: 'binary content of no known format: preserved, not read', derived_from: [fileSeq] }] },
      gaps: [],
    };
  }
  return parseText(bytes, path, fileSeq, mtime, 'text');
}

function parseText(bytes: Uint8Array, path: string, fileSeq: number, mtime: string, format: string): ParsedContent {
  // setupapi.dev.log: sections, not lines.
  const probe = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (probe.includes('>>>  [Device Install')) {
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    return { format: format === 'text' ? 'setupapi' : `${format}+setupapi`, out: parseSetupapiDevLog(text, [fileSeq]), gaps: [] };
  }
  const latin1 = new Set<number>();
  // Line numbers as seqs (see relocateTextRecord); the file's mtime is the reference for year-less dates.
  const raw = deriveFromLines(textLines(bytes, 0, path, mtime, latin1), { referenceTime: () => mtime });
  return {
    format,
    out: { records: raw.records.map((r) => relocateTextRecord(r, fileSeq, latin1)), failures: raw.failures.map((f) => relocateFailure(f, fileSeq)) },
    gaps: [],
  };
}

/** Bytes a streamed read takes at a time (the store's blob chunk size, so a piece is one chunk). */
export const CONTENT_PIECE_BYTES = 1 << 20;
/** The head classify() looks at: binary detection reads the first 8 KiB, as parseContent does. */
const HEAD_BYTES = 8192;
const SETUPAPI_MARKER = Buffer.from('>>>  [Device Install');

/**
 * A file's content from its start, in pieces of `pieceBytes` (every piece full but the last), so
 * that memory stays at one piece whatever the file's size. A read error is an E_IO naming the file.
 */
export function* readContent(path: string, pieceBytes = CONTENT_PIECE_BYTES): Generator<Buffer> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new CustodyError(ErrorCodes.IO, `cannot read it: ${messageOf(err)}`, { where: path, cause: err });
  }
  try {
    for (;;) {
      const piece = Buffer.allocUnsafe(pieceBytes);
      let fill = 0;
      while (fill < pieceBytes) {
        let n: number;
        try {
          n = readSync(fd, piece, fill, pieceBytes - fill, null);
        } catch (err) {
          throw new CustodyError(ErrorCodes.IO, `cannot read it: ${messageOf(err)}`, { where: path, cause: err });
        }
        if (n === 0) break;
        fill += n;
      }
      if (fill > 0) yield fill === pieceBytes ? piece : piece.subarray(0, fill);
      if (fill < pieceBytes) return;
    }
  } finally {
    closeSync(fd);
  }
}

/** What one streamed pass over a file found: its hash and size, and what parseContent needs to pick a reader. */
export interface ContentScan {
  sha256: string;
  size: number;
  /** Plain text that the line parsers read: derivable line by line from pieces (deriveTextPieces). */
  streamable: boolean;
}

/**
 * Hashes a file in pieces and decides whether its content is plain text for the line parsers (no
 * magic of EVTX, gzip or another compression, no UTF-16 byte order mark, no NUL in the first 8 KiB,
 * no setupapi section marker anywhere): exactly the files parseContent reads with parseText as
 * 'text'. Everything else is read whole, as before.
 */
export function scanContent(pieces: Iterable<Uint8Array>): ContentScan {
  const hash = createHash('sha256');
  let size = 0;
  const head = Buffer.alloc(HEAD_BYTES);
  let headFill = 0;
  let setupapi = false;
  // The marker may straddle two pieces: keep the tail of the previous one.
  let tail = Buffer.alloc(0);
  for (const piece of pieces) {
    hash.update(piece);
    size += piece.length;
    if (headFill < HEAD_BYTES) {
      const n = Math.min(HEAD_BYTES - headFill, piece.length);
      head.set(piece.subarray(0, n), headFill);
      headFill += n;
    }
    if (!setupapi) {
      // In the piece itself, and across its start in the previous piece's tail joined to its
      // head (a few bytes, not a copy of the whole piece).
      const p = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      const keep = SETUPAPI_MARKER.length - 1;
      if (tail.length > 0) setupapi = Buffer.concat([tail, p.subarray(0, keep)]).includes(SETUPAPI_MARKER);
      setupapi ||= p.includes(SETUPAPI_MARKER);
      tail = p.length >= keep ? Buffer.from(p.subarray(p.length - keep)) : Buffer.concat([tail, p]).subarray(-keep);
    }
  }
  const h = head.subarray(0, headFill);
  const special =
    hasPrefix(h, EVTX_MAGIC) ||
    hasPrefix(h, GZIP_MAGIC) ||
    OTHER_COMPRESSION.some(([, magic]) => hasPrefix(h, magic)) ||
    hasPrefix(h, [0xff, 0xfe]) ||
    hasPrefix(h, [0xfe, 0xff]) ||
    // A NUL in the first 384 bytes may be utmp, in the first 8 KiB is binary: both read whole.
    looksBinary(h) ||
    setupapi;
  return { sha256: hash.digest('hex'), size, streamable: size > 0 && !special };
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of valid UTF-8 bytes, or undefined. */
function strictUtf8(bytes: Uint8Array): string | undefined {
  try {
    return fatalUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Lines of text split from pieces as textLines splits whole bytes (a UTF-8 BOM dropped, no line after a final newline). */
function* pieceLines(pieces: Iterable<Uint8Array>, path: string, observedAt: string, latin1: Set<number>): Generator<SourceLine> {
  let carry: Buffer | undefined;
  let lineNo = 1;
  let first = true;
  for (const p of pieces) {
    let piece = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    if (carry !== undefined) {
      piece = Buffer.concat([carry, piece]);
      carry = undefined;
    }
    let start = 0;
    if (first) {
      // The BOM is looked for in the file's first bytes (a first piece shorter than 3 bytes carries on).
      if (piece.length < 3) {
        carry = piece;
        continue;
      }
      first = false;
      if (hasPrefix(piece, [0xef, 0xbb, 0xbf])) start = 3;
    }
    // The piece's whole lines decoded at once when they are valid UTF-8 (then every line is: a
    // newline byte is never inside a multibyte character) and hold no byte order mark (which the
    // per-line decoder would drop at the start of each line); otherwise line by line, as textLines.
    const last = piece.lastIndexOf(0x0a);
    if (last >= start && isAscii(piece.subarray(start, last))) {
      // All ASCII (an audit.log, most logs): each line is its own string, read from the bytes
      // (ASCII reads the same as UTF-8), not a slice of one string of the whole piece: the parsers
      // read a flat string faster, and lines kept a while (events being grouped) hold only themselves.
      for (let nl = piece.indexOf(0x0a, start); nl >= 0 && nl <= last; nl = piece.indexOf(0x0a, start)) {
        yield { seq: lineNo++, path, text: piece.toString('latin1', start, nl), observedAt };
        start = nl + 1;
      }
    } else if (last >= start) {
      const region = piece.subarray(start, last);
      const text = region.indexOf(UTF8_BOM) < 0 ? strictUtf8(region) : undefined;
      if (text !== undefined) {
        // Line by line, not split() at once: a piece's thousands of lines would all stay alive
        // (and be copied by the young generation's collections, then promoted) until the last was read.
        let from = 0;
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
          yield { seq: lineNo++, path, text: text.slice(from, nl), observedAt };
          from = nl + 1;
        }
        yield { seq: lineNo++, path, text: text.slice(from), observedAt };
        start = last + 1;
      }
    }
    for (;;) {
      const end = piece.indexOf(0x0a, start);
      if (end < 0) break;
      const d = decodeLineBytes(piece.subarray(start, end));
      if (d.latin1) latin1.add(lineNo);
      yield { seq: lineNo, path, text: d.text, observedAt };
      start = end + 1;
      lineNo++;
    }
    // Copied: the piece's buffer may be reused by its reader.
    if (start < piece.length) carry = Buffer.from(piece.subarray(start));
  }
  if (carry !== undefined && carry.length > 0) {
    let start = 0;
    if (first && hasPrefix(carry, [0xef, 0xbb, 0xbf])) start = 3;
    if (start < carry.length) {
      const d = decodeLineBytes(carry.subarray(start));
      if (d.latin1) latin1.add(lineNo);
      yield { seq: lineNo, path, text: d.text, observedAt };
    }
  }
}

/** Where deriveTextPieces sends what it reads, as it reads it. */
export interface ContentSink {
  record(rec: DerivedRecord): void;
  failure(f: ParseFailure): void;
}

/**
 * Plain text content (scanContent said `streamable`) read line by line from pieces: the same
 * records and failures, in the same order, as parseContent over the whole bytes, handed to `sink`
 * as they are derived, so memory holds the events still open and not the file's records.
 */
export function deriveTextPieces(pieces: Iterable<Uint8Array>, path: string, fileSeq: number, mtime: string, sink: ContentSink): void {
  const latin1 = new Set<number>();
  const d = createLineDeriver({ referenceTime: () => mtime });
  const hand = (o: ParseOutput): void => {
    for (const r of o.records) sink.record(relocateTextRecord(r, fileSeq, latin1));
    for (const f of o.failures) sink.failure(relocateFailure(f, fileSeq));
  };
  for (const line of pieceLines(pieces, path, mtime, latin1)) hand(d.push(line));
  hand(d.finish());
}
