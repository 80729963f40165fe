/**
 * Bounds-checked little-endian reads over the EVTX bytes, CRC32, and the value renderings the
 * BinXML reader needs. Pure. Every read past the end throws EvtxFormatError, which the reader
 * catches per record or chunk and turns into a named ParseFailure: nothing escapes readEvtx.
 */

/**
 * Internal: a structure we could not read. Never leaves readEvtx (it becomes a ParseFailure).
 * Deliberately not an Error: damaged files throw thousands of these, and capturing a stack trace
 * for each one dominated the time spent on them.
 */
export class EvtxFormatError {
  readonly reason: string;
  readonly message: string;
  constructor(reason: string, message: string) {
    this.reason = reason;
    this.message = message;
  }
}

/** The message of anything caught while reading. */
export function errorText(err: unknown): string {
  if (err instanceof EvtxFormatError || err instanceof Error) return err.message;
  return String(err);
}

export class ByteView {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  readonly length: number;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.length = bytes.byteLength;
  }

  check(off: number, n: number): void {
    if (!(off >= 0 && n >= 0 && off + n <= this.length)) {
      throw new EvtxFormatError('evtx.truncated', `read of ${n} bytes at ${off} is past the end (${this.length})`);
    }
  }
  u8(off: number): number {
    this.check(off, 1);
    return this.dv.getUint8(off);
  }
  u16(off: number): number {
    this.check(off, 2);
    return this.dv.getUint16(off, true);
  }
  u32(off: number): number {
    this.check(off, 4);
    return this.dv.getUint32(off, true);
  }
  u64(off: number): bigint {
    this.check(off, 8);
    return this.dv.getBigUint64(off, true);
  }
  /** ASCII magic comparison without allocating. */
  hasMagic(off: number, magic: readonly number[]): boolean {
    if (off < 0 || off + magic.length > this.length) return false;
    for (let i = 0; i < magic.length; i++) if (this.bytes[off + i] !== magic[i]) return false;
    return true;
  }
}

// --- CRC32 (IEEE 802.3, as EVTX uses for its file header, chunk header and record data) --------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32 over one or more byte ranges, as if concatenated. */
export function crc32(bytes: Uint8Array, ranges: ReadonlyArray<readonly [number, number]>): number {
  let c = 0xffffffff;
  for (const [start, end] of ranges) {
    const e = Math.min(end, bytes.length);
    for (let i = Math.max(0, start); i < e; i++) c = (CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)) >>> 0;
  }
  return (c ^ 0xffffffff) >>> 0;
}

// --- text ----------------------------------------------------------------------------------------

const utf16 = new TextDecoder('utf-16le');
const cp1252 = new TextDecoder('windows-1252');

/** UTF-16LE text (unpaired surrogates become U+FFFD, as a UTF-8 export would have to). */
export function utf16le(v: ByteView, off: number, byteLen: number): string {
  v.check(off, byteLen);
  const n = byteLen >> 1;
  if (n <= 64) {
    // Short strings (names, most values): decode by hand unless a surrogate needs TextDecoder's care.
    const b = v.bytes;
    let s = '';
    for (let i = 0; i < n; i++) {
      const c = b[off + 2 * i]! | (b[off + 2 * i + 1]! << 8);
      if (c >= 0xd800 && c <= 0xdfff) return utf16.decode(b.subarray(off, off + n * 2));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf16.decode(v.bytes.subarray(off, off + n * 2));
}

export function ansi(v: ByteView, off: number, byteLen: number): string {
  v.check(off, byteLen);
  return cp1252.decode(v.bytes.subarray(off, off + byteLen));
}

export function stripNuls(s: string): string {
  let e = s.length;
  while (e > 0 && s.charCodeAt(e - 1) === 0) e--;
  return e === s.length ? s : s.slice(0, e);
}

export function hexUpper(v: ByteView, off: number, n: number): string {
  v.check(off, n);
  let s = '';
  for (let i = 0; i < n; i++) s += HEX2[v.bytes[off + i]!]!;
  return s;
}
const HEX2: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));

export function hexFixed(value: bigint | number, digits: number): string {
  return `0x${value.toString(16).padStart(digits, '0')}`;
}

// --- times ---------------------------------------------------------------------------------------

const FILETIME_UNIX_EPOCH_SECONDS = 11644473600n;

/**
 * FILETIME (100 ns ticks since 1601) as ISO 8601 UTC with nine fraction digits, the way evtxexport
 * prints it (…T15:24:34.346000000Z): lossless, the last two digits are always 0.
 */
export function filetimeIso(ft: bigint): string {
  const seconds = ft / 10_000_000n;
  const ticks = ft % 10_000_000n;
  const unixSeconds = Number(seconds - FILETIME_UNIX_EPOCH_SECONDS);
  const iso = new Date(unixSeconds * 1000).toISOString(); // …:SS.000Z (or ±YYYYYY-… past 9999)
  return `${iso.slice(0, iso.length - 5)}.${ticks.toString().padStart(7, '0')}00Z`;
}

/**
 * Any of the time texts EVTX may carry (a rendered FILETIME, python-evtx style "YYYY-MM-DD HH:MM:SS.ffffff",
 * or literal text in flat records) as RFC 3339 UTC with exactly six fraction digits; undefined when it is not one.
 */
export function toRfc3339Micros(text: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z?$/.exec(text.trim());
  if (!m) return undefined;
  const frac = (m[3] ?? '').padEnd(6, '0').slice(0, 6);
  return `${m[1]}T${m[2]}.${frac}Z`;
}
