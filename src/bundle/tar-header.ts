/**
 * The pure half of custody's tar support: encoding and decoding 512-byte POSIX ustar headers and
 * pax extended headers. No I/O; src/bundle/tar.ts streams the data around these.
 *
 * What we write is the intersection every tar reads: ustar headers, regular files and directories
 * only, and a pax extended header only where ustar cannot say it (a path that does not fit the
 * 100+155 byte name/prefix split, or a size of 8 GiB or more).
 *
 * What we read is hostile input. Every refusal is a TarRefusal: code E_TAR_REFUSED, a stable
 * `reason`, the byte offset of the header, and the entry name when it is known.
 */
import { CustodyError, ErrorCodes } from '../errors.js';
import type { PathProblem } from './paths.js';

export const BLOCK = 512;
/** The largest size an 11-digit octal field holds (8 GiB - 1); larger files need a pax `size`. */
export const USTAR_MAX_SIZE = 0o77777777777;
const NAME_MAX = 100;
const PREFIX_MAX = 155;

/** Why a tar was refused. Stable: scripts and tests match on these. */
export type TarRefusalReason =
  | PathProblem
  | 'truncated_archive' // the file ends before the end-of-archive marker
  | 'truncated_header' // the file ends inside a header block
  | 'truncated_data' // the file ends inside an entry's data
  | 'bad_checksum'
  | 'unsupported_format' // not POSIX ustar (old GNU or v7 headers)
  | 'bad_number' // a numeric field is not plain octal (garbage, overflow, base-256)
  | 'bad_header' // a header that contradicts itself (e.g. a directory with data)
  | 'bad_pax' // a malformed pax extended header
  | 'unsupported_pax_key' // a pax keyword whose meaning we do not apply (sparse files, link paths, ...)
  | 'pax_too_large'
  | 'unsupported_type' // an entry type other than file, directory or pax header
  | 'symlink'
  | 'hard_link'
  | 'char_device'
  | 'block_device'
  | 'fifo'
  | 'duplicate' // the same path twice
  | 'case_collision' // two paths that are the same on a case-insensitive or normalising file system
  | 'path_conflict' // a path below something that is a file
  | 'too_large' // an entry larger than the limit
  | 'total_too_large' // all entries together larger than the limit
  | 'too_many_entries'
  | 'too_deep' // a path with more components than the limit
  | 'bad_end_marker' // one zero block followed by something else
  | 'trailing_data'; // non-zero bytes after the end-of-archive marker

export class TarRefusal extends CustodyError {
  readonly reason: TarRefusalReason;
  /** Byte offset of the header the refusal is about. */
  readonly offset: number;
  /** The entry's name as the archive gives it, when known (already made printable). */
  readonly entry: string | undefined;
  /** The message without the reason, offset and entry prefix. */
  readonly detail: string;

  constructor(reason: TarRefusalReason, detail: string, offset: number, entry?: string, source?: string) {
    const name = entry === undefined ? '' : `, entry ${JSON.stringify(entry)}`;
    super(ErrorCodes.TAR_REFUSED, `tar refused (${reason}) at offset ${offset}${name}: ${detail}`, {
      where: source === undefined ? `offset ${offset}` : `${source}@${offset}`,
    });
    this.name = 'TarRefusal';
    this.reason = reason;
    this.offset = offset;
    this.entry = entry;
    this.detail = detail;
  }

  /** The same refusal, naming the archive it is in. */
  inArchive(source: string): TarRefusal {
    return new TarRefusal(this.reason, this.detail, this.offset, this.entry, source);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

function writeString(block: Uint8Array, at: number, width: number, bytes: Uint8Array): void {
  if (bytes.length > width) throw new Error(`internal: field of ${width} bytes given ${bytes.length}`);
  block.set(bytes, at);
}

/** An octal field: zero-padded digits and a NUL, as GNU tar writes them. */
function writeOctal(block: Uint8Array, at: number, width: number, value: number): void {
  const digits = value.toString(8).padStart(width - 1, '0');
  if (digits.length > width - 1) throw new Error(`internal: ${value} does not fit a ${width}-byte octal field`);
  block.set(Buffer.from(`${digits}\0`, 'ascii'), at);
}

function checksumOf(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  return sum;
}

export type WriteTypeflag = '0' | '5' | 'x';

export interface UstarFields {
  /** The name field's bytes (at most 100). */
  readonly name: Uint8Array;
  /** The prefix field's bytes (at most 155). */
  readonly prefix: Uint8Array;
  readonly mode: number;
  readonly size: number;
  readonly mtime: number;
  readonly typeflag: WriteTypeflag;
}

/** One ustar header block: uid/gid 0, empty uname/gname, no device numbers. */
export function encodeUstarHeader(f: UstarFields): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, NAME_MAX, f.name);
  writeOctal(block, 100, 8, f.mode);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, f.size);
  writeOctal(block, 136, 12, f.mtime);
  block[156] = f.typeflag.charCodeAt(0);
  block.set(Buffer.from('ustar\u000000', 'ascii'), 257);
  writeOctal(block, 329, 8, 0);
  writeOctal(block, 337, 8, 0);
  writeString(block, 345, PREFIX_MAX, f.prefix);
  // Checksum: six octal digits, NUL, space (what GNU tar and POSIX readers expect).
  const sum = checksumOf(block);
  block.set(Buffer.from(`${sum.toString(8).padStart(6, '0')}\0 `, 'ascii'), 148);
  return block;
}

/**
 * Splits a path's bytes into ustar name and prefix, or returns undefined when it does not fit
 * (then a pax `path` record carries it). Deterministic: the split at the first '/' that works.
 */
export function splitUstarName(path: Uint8Array): { name: Uint8Array; prefix: Uint8Array } | undefined {
  if (path.length <= NAME_MAX) return { name: path, prefix: new Uint8Array(0) };
  for (let i = 0; i < path.length; i++) {
    if (path[i] !== 0x2f) continue;
    if (i > PREFIX_MAX) break;
    const name = path.subarray(i + 1);
    if (name.length > 0 && name.length <= NAME_MAX) return { name, prefix: path.subarray(0, i) };
  }
  return undefined;
}

/** One pax record, `"<len> <key>=<value>\n"`, where len counts the whole record including itself. */
export function paxRecord(key: string, value: string): Uint8Array {
  const body = Buffer.from(` ${key}=${value}\n`, 'utf8');
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'ascii'), body]);
}

/** The first `max` bytes of a UTF-8 string, cut at a character boundary. */
export function truncateUtf8(s: string, max: number): Uint8Array {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

// ---------------------------------------------------------------------------------------------
// Reading

export type ReadTypeflag = 'file' | 'dir' | 'pax';

export interface ParsedHeader {
  /** prefix + '/' + name, decoded as strict UTF-8 (still to be checked as a path). */
  readonly name: string;
  readonly size: number;
  readonly type: ReadTypeflag;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function isZeroBlock(block: Uint8Array): boolean {
  for (const b of block) if (b !== 0) return false;
  return true;
}

/** A printable form of raw name bytes for error messages (before we know they are a valid path). */
function printableName(bytes: Uint8Array): string {
  return Buffer.from(bytes)
    .toString('latin1')
    .replace(/[^\u0020-\u007e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Bytes of a NUL-terminated string field; anything but NULs after the first NUL is refused. */
function stringField(block: Uint8Array, at: number, width: number, what: string, offset: number): Uint8Array {
  const field = block.subarray(at, at + width);
  const nul = field.indexOf(0);
  if (nul === -1) return field;
  for (let i = nul + 1; i < width; i++) {
    if (field[i] !== 0) {
      throw new TarRefusal('nul_in_name', `the ${what} field has bytes after a NUL (a name with an embedded NUL)`, offset, printableName(field.subarray(0, nul)));
    }
  }
  return field.subarray(0, nul);
}

/**
 * A numeric field: optional leading spaces, octal digits, then NULs or spaces to the end. An empty
 * field is 0 (some writers leave device numbers empty). Base-256 (high bit set) is refused.
 */
function octalField(block: Uint8Array, at: number, width: number, what: string, offset: number, entry: string | undefined): number {
  const field = block.subarray(at, at + width);
  if (((field[0] as number) & 0x80) !== 0) {
    throw new TarRefusal('bad_number', `the ${what} field uses base-256 encoding, which custody does not accept`, offset, entry);
  }
  let i = 0;
  while (i < width && field[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  while (i < width && (field[i] as number) >= 0x30 && (field[i] as number) <= 0x37) {
    value = value * 8 + ((field[i] as number) - 0x30);
    digits++;
    i++;
  }
  for (; i < width; i++) {
    if (field[i] !== 0 && field[i] !== 0x20) {
      throw new TarRefusal('bad_number', `the ${what} field is not an octal number (${JSON.stringify(printableName(field))})`, offset, entry);
    }
  }
  if (digits > 0 && !Number.isSafeInteger(value)) {
    throw new TarRefusal('bad_number', `the ${what} field overflows`, offset, entry);
  }
  return value;
}

/**
 * Parses one non-zero header block. Refuses bad checksums, headers that are not POSIX ustar,
 * malformed numbers, names with embedded NULs or invalid UTF-8, and every entry type other than
 * a regular file, a directory or a pax extended header (with the type named in the reason).
 */
export function parseHeader(block: Uint8Array, offset: number): ParsedHeader {
  if (block.length !== BLOCK) throw new Error('internal: a header is one 512-byte block');
  // The checksum first: until it matches, nothing else in the block means anything.
  const stored = octalField(block, 148, 8, 'checksum', offset, undefined);
  const computed = checksumOf(block);
  if (stored !== computed) {
    throw new TarRefusal('bad_checksum', `header checksum is ${stored.toString(8)} (octal), the block sums to ${computed.toString(8)}`, offset);
  }
  const magic = Buffer.from(block.subarray(257, 265)).toString('latin1');
  if (magic === 'ustar  \u0000') {
    throw new TarRefusal('unsupported_format', 'an old GNU-format header (use --format=ustar or --format=pax)', offset);
  }
  if (magic !== 'ustar\u000000') {
    throw new TarRefusal('unsupported_format', 'not a POSIX ustar header (no "ustar\\0" "00" magic)', offset);
  }
  const nameBytes = stringField(block, 0, NAME_MAX, 'name', offset);
  const prefixBytes = stringField(block, 345, PREFIX_MAX, 'prefix', offset);
  const rawName = prefixBytes.length > 0 ? Buffer.concat([prefixBytes, Buffer.from('/'), nameBytes]) : nameBytes;
  const shown = printableName(rawName);
  let name: string;
  try {
    name = strictUtf8.decode(rawName);
  } catch {
    throw new TarRefusal('bad_name_encoding', 'the name is not valid UTF-8', offset, shown);
  }

  const flag = String.fromCharCode(block[156] as number);
  switch (flag) {
    case '0':
    case '\u0000':
    case '5':
    case 'x':
      break;
    case '1':
      throw new TarRefusal('hard_link', 'hard links are not accepted', offset, shown);
    case '2':
      throw new TarRefusal('symlink', 'symbolic links are not accepted', offset, shown);
    case '3':
      throw new TarRefusal('char_device', 'character devices are not accepted', offset, shown);
    case '4':
      throw new TarRefusal('block_device', 'block devices are not accepted', offset, shown);
    case '6':
      throw new TarRefusal('fifo', 'FIFOs are not accepted', offset, shown);
    case 'g':
      throw new TarRefusal('unsupported_type', 'pax global headers are not accepted', offset, shown);
    case 'L':
    case 'K':
      throw new TarRefusal('unsupported_type', 'GNU long-name/long-link entries are not accepted (use --format=pax)', offset, shown);
    default:
      throw new TarRefusal('unsupported_type', `entry type ${JSON.stringify(flag)} is not accepted (only regular files and directories)`, offset, shown);
  }
  const size = octalField(block, 124, 12, 'size', offset, shown);
  // The other numbers are not used, but garbage in them is a sign of a crafted or damaged header.
  octalField(block, 100, 8, 'mode', offset, shown);
  octalField(block, 108, 8, 'uid', offset, shown);
  octalField(block, 116, 8, 'gid', offset, shown);
  octalField(block, 136, 12, 'mtime', offset, shown);
  octalField(block, 329, 8, 'devmajor', offset, shown);
  octalField(block, 337, 8, 'devminor', offset, shown);
  const type: ReadTypeflag = flag === '5' ? 'dir' : flag === 'x' ? 'pax' : 'file';
  if (type === 'dir' && size !== 0) throw new TarRefusal('bad_header', `a directory entry declares ${size} bytes of data`, offset, shown);
  return { name, size, type };
}

/** pax keywords we apply (path, size) or may safely ignore (times, ownership, comments). */
const PAX_APPLIED = new Set(['path', 'size']);
const PAX_IGNORED = new Set(['mtime', 'atime', 'ctime', 'uid', 'gid', 'uname', 'gname', 'comment']);

export interface PaxOverrides {
  readonly path?: string;
  readonly size?: number;
}

/**
 * Parses a pax extended header's data strictly: each record `"<len> <key>=<value>\n"` with the
 * length exact, UTF-8 throughout, no keyword twice, and only keywords we understand. Sparse
 * files, link paths, character-set switches and vendor extensions change what the data means, so
 * they are refused rather than silently ignored.
 */
export function parsePax(data: Uint8Array, offset: number): PaxOverrides {
  const out: { path?: string; size?: number } = {};
  const seen = new Set<string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1 || space - pos > 20) throw new TarRefusal('bad_pax', `malformed record at byte ${pos} of the pax header`, offset);
    const lenText = Buffer.from(data.subarray(pos, space)).toString('latin1');
    if (!/^[1-9][0-9]*$/.test(lenText)) throw new TarRefusal('bad_pax', `record length ${JSON.stringify(lenText)} is not a decimal number`, offset);
    const len = Number(lenText);
    const end = pos + len;
    if (end > data.length || data[end - 1] !== 0x0a || end <= space + 1) {
      throw new TarRefusal('bad_pax', `record at byte ${pos} of the pax header has a wrong length`, offset);
    }
    let record: string;
    try {
      record = strictUtf8.decode(data.subarray(space + 1, end - 1));
    } catch {
      throw new TarRefusal('bad_pax', `record at byte ${pos} of the pax header is not UTF-8`, offset);
    }
    const eq = record.indexOf('=');
    if (eq <= 0) throw new TarRefusal('bad_pax', `record at byte ${pos} of the pax header has no keyword`, offset);
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (seen.has(key)) throw new TarRefusal('bad_pax', `pax keyword ${JSON.stringify(key)} appears twice`, offset);
    seen.add(key);
    if (key === 'path') {
      if (value.includes('\u0000')) throw new TarRefusal('nul_in_name', 'the pax path contains a NUL byte', offset, value.replaceAll('\u0000', '\\x00'));
      out.path = value;
    } else if (key === 'size') {
      if (!/^(0|[1-9][0-9]{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) {
        throw new TarRefusal('bad_number', `pax size ${JSON.stringify(value)} is not a decimal number`, offset);
      }
      out.size = Number(value);
    } else if (!PAX_APPLIED.has(key) && !PAX_IGNORED.has(key)) {
      throw new TarRefusal('unsupported_pax_key', `pax keyword ${JSON.stringify(key)} is not accepted`, offset);
    }
    pos = end;
  }
  return out;
}
