/**
 * Our own EVTX reader: Windows event log files read on any OS, from bytes, with nothing but code.
 *
 * Why our own and not `@ts-evtx/core` (1.1.1, the only TypeScript EVTX parser on npm): we tried it
 * against every .evtx in the shared samples (16 files, 4,934 records) and compared it with
 * evtxexport (libevtx-utils 20181227) and python-evtx 0.6.1, whose record counts agree with each
 * other on all 16 files (0 on the RDP sample, which neither can read). It lost records
 * silently on two real logs (system.evtx: 326 of 1881; Server2022 Security.evtx: 432 of 583),
 * threw on Application_no_crc32.evtx ("header verification failed", 0 of 17), rendered binary
 * values wrongly (Partition/Diagnostic StorageId carried a length prefix and was cut short),
 * injected indentation into string values ('%%4484\r\n    \t\t\t\t' where the log holds
 * '%%4484\r\n\t\t\t\t'), printed hex values as decimal and cut FILETIME values to milliseconds.
 * Its one advantage: it read the 11 records of the RDP sample that libevtx and python-evtx cannot.
 * Evidence that silently loses a record or changes a value is worse than none, so: this file.
 *
 * What a forensic reader must do beyond a viewer, and this one does:
 * - never throw: every problem is a named ParseFailure, and the records around it are still read;
 * - a bad CRC32 (file header, chunk header, record data) is a failure, but the records are still
 *   read when they parse, as libevtx and python-evtx do;
 * - the header's chunk count is not trusted: chunks are found by their `ElfChnk\0` signature, and
 *   chunks past the header's count are read and reported as recovered (`evtx.recovered_chunks`):
 *   system.evtx's dirty header accounts for 3 of its 15 chunks, Server2022 Security.evtx's for 5 of 7;
 * - elements written without the dependency id (the RDP 1149 sample, where libevtx stops with
 *   "unsupported type 0x05" and python-evtx with an AttributeError, both at 0 records) are read by
 *   checking which layout names a real string: we read its 11 records.
 * Not done yet: carving deleted records from chunk slack (evtxexport -m recovered finds 34 in the
 * Task Manager LSASS sample); Kernel-PnP / DriverFrameworks mapping has no real sample to test on.
 *
 * Layout reference: libevtx's "Windows XML Event Log (EVTX) format" documentation. Pure.
 */
import type { ParseFailure } from '../types.js';
import { ByteView, EvtxFormatError, crc32, errorText, toRfc3339Micros } from './bytes.js';
import { ChunkContext, isElement, parseStream, type XElement, type XNode } from './binxml.js';

export const EVTX_PARSER = 'evtx';

export interface EvtxEvent {
  /**
   * System/EventRecordID (u64, decimal): the number Windows gave the event. Usually equal to
   * `recordNumber`; in a filtered export ("Save selected events") it keeps the original number.
   */
  recordId: string;
  /** The record number in this file's record header. */
  recordNumber: string;
  /** System/TimeCreated/@SystemTime, RFC 3339 UTC with microseconds (falls back to the record header's written time). */
  timeCreated: string;
  eventId: number;
  provider: string;
  channel: string;
  computer: string;
  level?: number;
  /** System/Keywords as written, e.g. 0x8020000000000000. */
  keywords?: string;
  version?: number;
  /** System/EventID/@Qualifiers, for classic (event log API) events. */
  qualifiers?: number;
  /** System/Security/@UserID. */
  userSid?: string;
  processId?: number;
  threadId?: number;
  /**
   * EventData `<Data Name="X">` values by name; unnamed `<Data>` as `Data[1]`, `Data[2]`, … in
   * document order; `<Binary>` as `Binary`. UserData: the leaf elements under its first element by
   * name (nested ones as `Parent.Child`; repeats as `Name[2]`, …), attributes as `Name@attr`
   * (those of the first element itself as `@attr`), namespace declarations left out.
   */
  data: Record<string, string>;
  /** Byte offset of the record in the file. */
  offset: number;
}

export interface EvtxInfo {
  /** The file header was present and had the right signature. */
  headerValid: boolean;
  headerCrcOk: boolean;
  /** Chunk count, next record id, version and flags as the header states them. */
  headerChunkCount: number;
  nextRecordId: string;
  version: string;
  dirty: boolean;
  full: boolean;
  /** Chunks found by signature and read. */
  chunks: number;
  /** Of those, how many the header did not account for (past its chunk count, or not on the 64 KiB grid). */
  recoveredChunks: number;
  /** Chunks whose header or record-data CRC32 did not match. */
  badCrcChunks: number;
  /** Records whose BinXML could not be read (each has a failure). */
  unreadableRecords: number;
}

export interface EvtxReadResult {
  records: EvtxEvent[];
  failures: ParseFailure[];
  info: EvtxInfo;
}

const FILE_MAGIC = [0x45, 0x6c, 0x66, 0x46, 0x69, 0x6c, 0x65, 0x00]; // ElfFile\0
const CHUNK_MAGIC = [0x45, 0x6c, 0x66, 0x43, 0x68, 0x6e, 0x6b, 0x00]; // ElfChnk\0
const CHUNK_MAGIC_BYTES = Uint8Array.from(CHUNK_MAGIC);
const FILE_HEADER_BLOCK = 4096;
const CHUNK_SIZE = 65536;
const CHUNK_HEADER = 512;
const MAX_FAILURES = 1000;

/** Reads every record of an EVTX file. Never throws. */
export function readEvtx(bytes: Uint8Array): EvtxReadResult {
  const failures: ParseFailure[] = [];
  const records: EvtxEvent[] = [];
  const info: EvtxInfo = {
    headerValid: false,
    headerCrcOk: false,
    headerChunkCount: 0,
    nextRecordId: '0',
    version: '',
    dirty: false,
    full: false,
    chunks: 0,
    recoveredChunks: 0,
    badCrcChunks: 0,
    unreadableRecords: 0,
  };
  const fail = (reason: string, detail: string, offset?: number): void => {
    if (failures.length < MAX_FAILURES) failures.push({ parser: EVTX_PARSER, reason, detail, ...(offset === undefined ? {} : { offset }) });
    else if (failures.length === MAX_FAILURES) failures.push({ parser: EVTX_PARSER, reason: 'evtx.too_many_failures', detail: `more than ${MAX_FAILURES} failures; the rest are not listed` });
  };
  try {
    const v = new ByteView(bytes);
    let scanFrom = 0;
    if (v.hasMagic(0, FILE_MAGIC) && v.length >= 128) {
      info.headerValid = true;
      info.nextRecordId = v.u64(24).toString();
      info.version = `${v.u16(38)}.${v.u16(36)}`;
      info.headerChunkCount = v.u16(42);
      const flags = v.u32(120);
      info.dirty = (flags & 1) !== 0;
      info.full = (flags & 2) !== 0;
      info.headerCrcOk = crc32(bytes, [[0, 120]]) === v.u32(124);
      if (!info.headerCrcOk) fail('evtx.header_crc', 'the file header CRC32 does not match its first 120 bytes', 0);
      scanFrom = FILE_HEADER_BLOCK;
    } else {
      fail('evtx.bad_file_header', 'no ElfFile signature at offset 0; looking for chunks anywhere in the bytes', 0);
    }

    let pos = scanFrom;
    while (pos + CHUNK_HEADER <= v.length) {
      const at = indexOf(bytes, CHUNK_MAGIC_BYTES, pos);
      if (at < 0) break;
      const onGrid = at >= FILE_HEADER_BLOCK && (at - FILE_HEADER_BLOCK) % CHUNK_SIZE === 0;
      const index = onGrid ? (at - FILE_HEADER_BLOCK) / CHUNK_SIZE : -1;
      const accounted = info.headerValid && onGrid && index < info.headerChunkCount;
      const ok = readChunk(v, at, records, fail, info);
      if (ok) {
        info.chunks++;
        if (!accounted) info.recoveredChunks++;
        pos = at + CHUNK_SIZE;
      } else {
        pos = at + 8;
      }
    }
    if (info.recoveredChunks > 0) {
      fail(
        'evtx.recovered_chunks',
        info.headerValid
          ? `the file header accounts for ${info.headerChunkCount} chunk(s); ${info.recoveredChunks} more were found by signature and read`
          : `${info.recoveredChunks} chunk(s) were found by signature without a file header and read`,
      );
    }
    if (info.chunks === 0 && v.length > 0) fail('evtx.no_chunks', 'no readable chunk (ElfChnk) was found');
  } catch (err) {
    // Only a bug can get here (every structure read is guarded); keep the promise not to throw.
    fail('evtx.internal', `unexpected error: ${errorText(err)}`);
  }
  return { records, failures, info };
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  for (let i = hay.indexOf(first, from); i >= 0 && i + needle.length <= hay.length; i = hay.indexOf(first, i + 1)) {
    let k = 1;
    while (k < needle.length && hay[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}

/** Reads one chunk's records. Returns false when the chunk header itself is unusable. */
function readChunk(
  v: ByteView,
  base: number,
  records: EvtxEvent[],
  fail: (reason: string, detail: string, offset?: number) => void,
  info: EvtxInfo,
): boolean {
  const end = Math.min(base + CHUNK_SIZE, v.length);
  if (end - base < CHUNK_HEADER) return false;
  const headerSize = v.u32(base + 40);
  const freeSpace = v.u32(base + 48);
  if (headerSize !== 128) {
    fail('evtx.bad_chunk_header', `chunk at ${base}: header size ${headerSize}, expected 128; skipped`, base);
    return false;
  }
  if (end - base < CHUNK_SIZE) fail('evtx.truncated_chunk', `chunk at ${base} has ${end - base} of ${CHUNK_SIZE} bytes; reading what is there`, base);
  const bytes = v.bytes;
  const headerCrc = crc32(bytes, [
    [base, base + 120],
    [base + 128, base + CHUNK_HEADER],
  ]);
  let badCrc = false;
  if (headerCrc !== v.u32(base + 124)) {
    badCrc = true;
    fail('evtx.chunk_crc', `chunk at ${base}: header CRC32 mismatch (stored 0x${v.u32(base + 124).toString(16)}, computed 0x${headerCrc.toString(16)}); records read anyway`, base);
  }
  const dataEnd = freeSpace >= CHUNK_HEADER && base + freeSpace <= end ? base + freeSpace : end;
  if (dataEnd !== base + freeSpace) fail('evtx.bad_free_space', `chunk at ${base}: free-space offset ${freeSpace} is outside the chunk; reading to its end`, base);
  else {
    const dataCrc = crc32(bytes, [[base + CHUNK_HEADER, dataEnd]]);
    if (dataCrc !== v.u32(base + 52)) {
      badCrc = true;
      fail('evtx.records_crc', `chunk at ${base}: record data CRC32 mismatch (stored 0x${v.u32(base + 52).toString(16)}, computed 0x${dataCrc.toString(16)}); records read anyway`, base);
    }
  }
  if (badCrc) info.badCrcChunks++;

  const ctx = new ChunkContext(v, base, end);
  let pos = base + CHUNK_HEADER;
  while (pos + 28 <= dataEnd) {
    if (!(bytes[pos] === 0x2a && bytes[pos + 1] === 0x2a && bytes[pos + 2] === 0 && bytes[pos + 3] === 0)) {
      if (isZero(bytes, pos, dataEnd)) break;
      const next = nextRecordSignature(bytes, pos + 1, dataEnd);
      fail('evtx.bad_record', `no record signature at ${pos}; ${next < 0 ? 'nothing more in this chunk' : `resuming at ${next}`}`, pos);
      if (next < 0) break;
      pos = next;
      continue;
    }
    const size = v.u32(pos + 4);
    if (size < 28 || pos + size > end) {
      fail('evtx.bad_record', `record at ${pos}: size ${size} does not fit the chunk`, pos);
      const next = nextRecordSignature(bytes, pos + 4, dataEnd);
      if (next < 0) break;
      pos = next;
      continue;
    }
    if (v.u32(pos + size - 4) !== size) fail('evtx.bad_record', `record at ${pos}: trailing size copy differs from ${size}; read anyway`, pos);
    const recordId = v.u64(pos + 8);
    const written = v.u64(pos + 16);
    ctx.budget = 0;
    ctx.depth = 0;
    try {
      const { nodes } = parseStream(ctx, pos + 24, pos + size - 4, null);
      records.push(toEvent(nodes, recordId, written, pos));
    } catch (err) {
      info.unreadableRecords++;
      const reason = err instanceof EvtxFormatError ? err.reason : 'evtx.bad_binxml';
      fail(reason, `record ${recordId} at ${pos}: ${errorText(err)}`, pos);
    }
    pos += size;
  }
  return true;
}

function isZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

function nextRecordSignature(bytes: Uint8Array, from: number, to: number): number {
  for (let i = bytes.indexOf(0x2a, from); i >= 0 && i + 4 <= to; i = bytes.indexOf(0x2a, i + 1)) {
    if (bytes[i + 1] === 0x2a && bytes[i + 2] === 0 && bytes[i + 3] === 0) return i;
  }
  return -1;
}

// --- from the element tree to an EvtxEvent ---------------------------------------------------------

function textOf(el: XElement): string {
  let s = '';
  for (const c of el.children) if (typeof c === 'string') s += c;
  return s;
}

function attr(el: XElement | undefined, name: string): string | undefined {
  if (!el) return undefined;
  for (const a of el.attrs) {
    if (a.name === name) return a.value.map((p) => (typeof p === 'string' ? p : '')).join('');
  }
  return undefined;
}

function child(el: XElement | undefined, name: string): XElement | undefined {
  if (!el) return undefined;
  for (const c of el.children) if (isElement(c) && c.name === name) return c;
  return undefined;
}

function intOf(s: string | undefined): number | undefined {
  if (s === undefined || !/^-?\d+$/.test(s.trim())) return undefined;
  const n = Number(s.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

function filetimeMicros(ft: bigint): string {
  const unixMicros = ft / 10n - 11_644_473_600_000_000n;
  const ms = unixMicros / 1000n;
  const micro = Number(unixMicros - ms * 1000n);
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return '';
  const iso = d.toISOString();
  return `${iso.slice(0, iso.length - 1)}${String(micro < 0 ? micro + 1000 : micro).padStart(3, '0')}Z`;
}

function toEvent(nodes: XNode[], recordId: bigint, written: bigint, offset: number): EvtxEvent {
  const event = nodes.find(isElement);
  if (!event) throw new EvtxFormatError('evtx.no_event', 'record holds no element');
  const system = child(event, 'System');
  const provider = child(system, 'Provider');
  const eventIdEl = child(system, 'EventID');
  const timeText = attr(child(system, 'TimeCreated'), 'SystemTime');
  const timeCreated = (timeText !== undefined ? toRfc3339Micros(timeText) : undefined) ?? filetimeMicros(written);
  const xmlRecordId = textOrUndef(child(system, 'EventRecordID'))?.trim();
  const ev: EvtxEvent = {
    recordId: xmlRecordId !== undefined && /^\d{1,20}$/.test(xmlRecordId) ? xmlRecordId : recordId.toString(),
    recordNumber: recordId.toString(),
    timeCreated,
    eventId: intOf(eventIdEl ? textOf(eventIdEl) : undefined) ?? -1,
    provider: attr(provider, 'Name') ?? attr(provider, 'EventSourceName') ?? '',
    channel: textOrEmpty(child(system, 'Channel')),
    computer: textOrEmpty(child(system, 'Computer')),
    data: {},
    offset,
  };
  const level = intOf(textOrUndef(child(system, 'Level')));
  if (level !== undefined) ev.level = level;
  const keywords = textOrUndef(child(system, 'Keywords'));
  if (keywords !== undefined && keywords !== '') ev.keywords = keywords;
  const version = intOf(textOrUndef(child(system, 'Version')));
  if (version !== undefined) ev.version = version;
  const qualifiers = intOf(attr(eventIdEl, 'Qualifiers'));
  if (qualifiers !== undefined) ev.qualifiers = qualifiers;
  const sid = attr(child(system, 'Security'), 'UserID');
  if (sid !== undefined && sid !== '') ev.userSid = sid;
  const execution = child(system, 'Execution');
  const pid = intOf(attr(execution, 'ProcessID'));
  if (pid !== undefined) ev.processId = pid;
  const tid = intOf(attr(execution, 'ThreadID'));
  if (tid !== undefined) ev.threadId = tid;

  const data = ev.data;
  const eventData = child(event, 'EventData');
  if (eventData) {
    let unnamed = 0;
    for (const c of eventData.children) {
      if (!isElement(c)) continue;
      if (c.name === 'Data') {
        const name = attr(c, 'Name');
        if (name !== undefined && name !== '') put(data, name, textOf(c));
        else put(data, `Data[${++unnamed}]`, textOf(c));
      } else {
        flatten(c, c.name, data);
      }
    }
  }
  const userData = child(event, 'UserData');
  if (userData) {
    for (const top of userData.children) {
      if (!isElement(top)) continue;
      putAttrs(top, '', data);
      for (const c of top.children) if (isElement(c)) flatten(c, c.name, data);
      break;
    }
  }
  return ev;
}

function flatten(el: XElement, key: string, out: Record<string, string>): void {
  putAttrs(el, key, out);
  const kids = el.children.filter(isElement);
  if (kids.length === 0) {
    put(out, key, textOf(el));
    return;
  }
  for (const k of kids) flatten(k, `${key}.${k.name}`, out);
}

/** An element's attributes as `key@name` (namespace declarations left out). */
function putAttrs(el: XElement, key: string, out: Record<string, string>): void {
  for (const a of el.attrs) {
    if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) continue;
    put(out, `${key}@${a.name}`, a.value.map((p) => (typeof p === 'string' ? p : '')).join(''));
  }
}

/** Adds a value under a name taken from the file (defineProperty: a name like `__proto__` stays a plain key). */
function put(out: Record<string, string>, key: string, value: string): void {
  let k = key;
  for (let i = 2; Object.hasOwn(out, k); i++) k = `${key}[${i}]`;
  if (k === '__proto__') Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  else out[k] = value;
}

function textOrEmpty(el: XElement | undefined): string {
  return el ? textOf(el) : '';
}
function textOrUndef(el: XElement | undefined): string | undefined {
  return el ? textOf(el) : undefined;
}
