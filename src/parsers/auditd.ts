/**
 * Linux audit log (`/var/log/audit/audit.log`, RAW or ENRICHED format) → `file.access` records.
 *
 * The kernel writes one event as several records (SYSCALL, CWD, PATH…, PROCTITLE, sometimes EOE)
 * that share `msg=audit(SECONDS.MILLIS:SERIAL)`, and records of different events interleave. This
 * module groups them the way `ausearch` does (src/ausearch-lol.c in audit-userspace):
 *
 * - records with the same (seconds, millis, serial, node) join the event that is still building;
 * - whenever a record starts a new event, every building event is complete if the new record is
 *   2 or more seconds (of audit time) younger than it, or if the event's first record is of a
 *   type that is always a one-record event (user-space and daemon messages < 1300, PROCTITLE,
 *   KERNEL, user-space anomalies ≥ 2100, the MAC_UNLBL_ALLOW…MAC_CALIPSO_DEL range);
 * - the end of input completes everything.
 *
 * Deliberate differences from ausearch 3.0.9, both only for input the kernel does not write:
 * an EOE record completes its event at once (ausearch would still append records with the same
 * id that come after it), and at most {@link MAX_PENDING_EVENTS} events are kept building (the
 * oldest is completed first) and at most {@link MAX_EVENT_RECORDS} records are kept in one event,
 * so that memory stays bounded on arbitrary input.
 *
 * A completed event with a SYSCALL record and PATH records becomes one `file.access` per object
 * (see {@link eventToFileAccess}); an execve/execveat event also becomes one `process.exec` (see
 * audit-exec.ts). Pure: no I/O, no clock; never throws.
 */
import { formatTimestamp, type PayloadOf } from '../records/schema.js';
import { AUDITD_EXEC_PARSER, eventToProcessExec } from './audit-exec.js';
import { archName, syscallName } from './syscalls.js';
import type { DerivedRecord, ParseFailure, ParseOutput, SourceLine } from './types.js';

export const AUDITD_PARSER = 'auditd.file-access@1';

/** Events still building at once; beyond this the oldest is completed (never happens with real kernel output). */
export const MAX_PENDING_EVENTS = 1024;
/** Records in one event; beyond this the event is completed and a failure names it. */
export const MAX_EVENT_RECORDS = 4096;
/** Longest line looked at, in UTF-16 units (the kernel caps a record at 8970 bytes; ENRICHED adds a little). */
export const MAX_LINE_LENGTH = 65536;

/** One audit record (one line), split into its parts. */
export interface AuditRecord {
  seq: number;
  type: string;
  sec: number;
  milli: number;
  serial: number;
  node?: string;
  /** Fields of the record as written (quotes removed), the first of each name; use {@link decodedField} for hex-encoded ones. */
  fields: AuditFields;
  /** The ENRICHED part after the 0x1D separator (`UID="root"` → UID → root), when present. */
  enriched?: Map<string, string>;
}

export interface AuditValue {
  value: string;
  quoted: boolean;
}

/** One audit event: the records that share an id, in the order they were read. */
export interface AuditEvent {
  /** `SECONDS.MILLIS:SERIAL`, with `node@` in front when the records name a node. */
  id: string;
  sec: number;
  milli: number;
  serial: number;
  node?: string;
  records: AuditRecord[];
}

/**
 * The `key=value` fields of one record, read from its line where they are: offsets, not a Map of
 * strings and value objects per field (which were most of the garbage an audit.log import made).
 * The offsets live in a shared Int32Array arena, three numbers a field, not in an array of their
 * own: an event is kept until it is known to be complete (up to MAX_PENDING_EVENTS of them, the
 * usual case for an audit.log without EOE records), and a thousand events' offset arrays were
 * most of what every young-generation collection had to copy and then promote. A name given twice
 * counts once, with its first value, as in a Map filled first-wins; iteration is in the order of
 * first appearance.
 */
export class AuditFields implements ReadonlyMap<string, AuditValue> {
  /** Per field, from `base`: key start, key end × 2 (+ 1 when the value is quoted), value end; in line order. */
  private readonly at: Int32Array;
  private readonly base: number;
  private readonly count: number;
  private made: Array<AuditValue | undefined> | undefined;
  /**
   * Values and decoded values already read, by field (slot 2f the value, 2f + 1 the decoded text,
   * null when it has none): both parsers of an event read the same fields, and get the same strings.
   */
  private texts: Array<string | null | undefined> | undefined;
  private unique: number[] | undefined;
  /** The keys of a line of the same type with the same keys in the same order, and where each is first: lookups without a walk. */
  private layout: Layout | undefined;

  /** `at`: three numbers per field from `base`, as above (readFields). */
  constructor(
    private readonly text: string,
    at: Int32Array,
    base: number,
    count: number,
  ) {
    this.at = at;
    this.base = base;
    this.count = count;
  }

  /** Index of the first field named `name`, or -1. */
  private find(name: string): number {
    const layout = this.layout;
    if (layout !== undefined) return layout.first.get(name) ?? -1;
    const at = this.at;
    const text = this.text;
    const n = name.length;
    // The length and the first character first (inline compares); startsWith only for a likely match.
    const c0 = name.charCodeAt(0);
    for (let f = 0, p = this.base; f < this.count; f++, p += 3) {
      const ks = at[p] as number;
      if (((at[p + 1] as number) >> 1) - ks === n && text.charCodeAt(ks) === c0 && text.startsWith(name, ks)) return f;
    }
    return -1;
  }

  /** The value of the first field named `name` as written (quotes removed), without making a value object. */
  value(name: string): string | undefined {
    const f = this.find(name);
    return f < 0 ? undefined : this.textAt(f);
  }

  /** decodedField's text of the first field named `name`, worked out once per field. */
  decoded(name: string): string | undefined {
    const f = this.find(name);
    if (f < 0) return undefined;
    const texts = (this.texts ??= new Array<string | null | undefined>(2 * this.count));
    let d = texts[2 * f + 1];
    if (d === undefined) {
      d = decodeValue(name, this.textAt(f), this.quotedAt(f)) ?? null;
      texts[2 * f + 1] = d;
    }
    return d ?? undefined;
  }

  private quotedAt(f: number): boolean {
    return ((this.at[this.base + 3 * f + 1] as number) & 1) === 1;
  }

  private textAt(f: number): string {
    const texts = (this.texts ??= new Array<string | null | undefined>(2 * this.count));
    let t = texts[2 * f];
    if (t === undefined || t === null) {
      const p = this.base + 3 * f;
      const keyEnd = this.at[p + 1] as number;
      // The value starts after the '=' (and after its opening quote when quoted).
      t = this.text.slice((keyEnd >> 1) + 1 + (keyEnd & 1), this.at[p + 2]);
      texts[2 * f] = t;
    }
    return t;
  }

  get(name: string): AuditValue | undefined {
    const f = this.find(name);
    return f < 0 ? undefined : this.entryAt(f);
  }

  has(name: string): boolean {
    return this.find(name) >= 0;
  }

  private entryAt(f: number): AuditValue {
    const made = (this.made ??= new Array<AuditValue | undefined>(this.count));
    let v = made[f];
    if (v === undefined) {
      v = { value: this.textAt(f), quoted: this.quotedAt(f) };
      made[f] = v;
    }
    return v;
  }

  /**
   * Shares the layout of the last record of `type` when this record's keys are the same, in the same
   * order (lines of one type mostly are: the kernel writes their fields in a fixed order), else makes
   * this record's the type's layout. Only for records with many fields, which are looked up most.
   */
  useLayout(type: string): void {
    // EXECVE's keys change with every argv (and its fields are read in one walk, not looked up by name).
    if (this.count < LAYOUT_MIN_FIELDS || type === 'EXECVE') return;
    const known = layouts.get(type);
    if (known !== undefined && this.hasKeys(known.keys)) {
      this.layout = known;
      return;
    }
    const keys: string[] = [];
    const first = new Map<string, number>();
    for (let f = 0; f < this.count; f++) {
      const key = this.keyAt(f);
      keys.push(key);
      if (!first.has(key)) first.set(key, f);
    }
    if (layouts.size >= 64) layouts.clear(); // bounded: types are few, but any string may be one
    const layout: Layout = { keys, first };
    layouts.set(type, layout);
    this.layout = layout;
  }

  private hasKeys(keys: readonly string[]): boolean {
    if (keys.length !== this.count) return false;
    const at = this.at;
    const text = this.text;
    for (let f = 0, p = this.base; f < this.count; f++, p += 3) {
      const key = keys[f] as string;
      const ks = at[p] as number;
      if (((at[p + 1] as number) >> 1) - ks !== key.length || !text.startsWith(key, ks)) return false;
    }
    return true;
  }

  private keyAt(f: number): string {
    const p = this.base + 3 * f;
    return this.text.slice(this.at[p], (this.at[p + 1] as number) >> 1);
  }

  /** Indexes of the first field of each name, in line order. */
  private firsts(): number[] {
    if (this.unique === undefined) {
      this.unique = [];
      if (this.count <= 64) {
        // A field is a first when looking its name up finds it (no set for the usual few fields).
        for (let f = 0; f < this.count; f++) if (this.find(this.keyAt(f)) === f) this.unique.push(f);
      } else {
        const seen = new Set<string>();
        for (let f = 0; f < this.count; f++) {
          const key = this.keyAt(f);
          if (seen.has(key)) continue;
          seen.add(key);
          this.unique.push(f);
        }
      }
    }
    return this.unique;
  }

  get size(): number {
    return this.firsts().length;
  }

  *entries(): MapIterator<[string, AuditValue]> {
    for (const f of this.firsts()) yield [this.keyAt(f), this.entryAt(f)];
  }

  *keys(): MapIterator<string> {
    for (const f of this.firsts()) yield this.keyAt(f);
  }

  *values(): MapIterator<AuditValue> {
    for (const f of this.firsts()) yield this.entryAt(f);
  }

  [Symbol.iterator](): MapIterator<[string, AuditValue]> {
    return this.entries();
  }

  forEach(callback: (value: AuditValue, key: string, map: ReadonlyMap<string, AuditValue>) => void, thisArg?: unknown): void {
    for (const f of this.firsts()) callback.call(thisArg, this.entryAt(f), this.keyAt(f), this);
  }

  /** forEach without a value object per field: the first field of each name, in line order. */
  eachField(callback: (key: string, value: string, quoted: boolean) => void): void {
    for (const f of this.firsts()) callback(this.keyAt(f), this.textAt(f), this.quotedAt(f));
  }
}

/** The keys of a record in line order, and the index of the first field of each name. */
interface Layout {
  keys: string[];
  first: Map<string, number>;
}

/** The last layout seen per record type (AuditFields.useLayout). */
const layouts = new Map<string, Layout>();
/** Records with fewer fields are looked up by a walk (it is short). */
const LAYOUT_MIN_FIELDS = 8;

// --- one line ----------------------------------------------------------------------------------

const HEADER =
  /^(?:node=(\S+) +)?type=([A-Za-z0-9_]+(?:\[\d{1,10}\])?) +msg=audit\((\d{1,12})\.(\d{1,3}):(\d{1,12})\):?/;

/** What the header of a record gives: where its body starts, and the parts of its id. */
interface Header {
  end: number;
  node: string | undefined;
  type: string;
  sec: number;
  milli: number;
  serial: number;
}

const C_SPACE = 0x20;
const C_0 = 0x30;
const C_9 = 0x39;

function isDigit(c: number): boolean {
  return c >= C_0 && c <= C_9;
}

/** [A-Za-z0-9_] */
function isTypeChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || isDigit(c) || c === 0x5f;
}

/**
 * HEADER by hand, for the lines the kernel writes (no regex match, no capture strings on the hot
 * path): undefined for anything it is not sure of (a node name with other than printable ASCII,
 * any deviation), which then goes to HEADER itself, so what is accepted and how is HEADER's.
 */
function scanHeader(text: string): Header | undefined {
  const n = text.length;
  let i = 0;
  let node: string | undefined;
  if (text.startsWith('node=')) {
    i = 5;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c <= C_SPACE || c >= 0x7f) break;
      i++;
    }
    if (i === 5 || i >= n || text.charCodeAt(i) !== C_SPACE) return undefined;
    node = text.slice(5, i);
    while (i < n && text.charCodeAt(i) === C_SPACE) i++;
  }
  if (!text.startsWith('type=', i)) return undefined;
  i += 5;
  const typeStart = i;
  while (i < n && isTypeChar(text.charCodeAt(i))) i++;
  if (i === typeStart) return undefined;
  if (i < n && text.charCodeAt(i) === 0x5b /* [ */) {
    const digits = ++i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i === digits || i - digits > 10 || i >= n || text.charCodeAt(i) !== 0x5d /* ] */) return undefined;
    i++;
  }
  const type = commonType(text, typeStart, i) ?? text.slice(typeStart, i);
  if (i >= n || text.charCodeAt(i) !== C_SPACE) return undefined;
  while (i < n && text.charCodeAt(i) === C_SPACE) i++;
  if (!text.startsWith('msg=audit(', i)) return undefined;
  i += 10;
  // SECONDS.MILLIS:SERIAL, digits counted as HEADER counts them
  let sec = 0;
  const secStart = i;
  for (let c = text.charCodeAt(i); isDigit(c); c = text.charCodeAt(++i)) sec = sec * 10 + (c - C_0);
  if (i === secStart || i - secStart > 12 || text.charCodeAt(i) !== 0x2e /* . */) return undefined;
  const milliStart = ++i;
  let milli = 0;
  for (let c = text.charCodeAt(i); isDigit(c); c = text.charCodeAt(++i)) milli = milli * 10 + (c - C_0);
  if (i === milliStart || i - milliStart > 3 || text.charCodeAt(i) !== 0x3a /* : */) return undefined;
  const serialStart = ++i;
  let serial = 0;
  for (let c = text.charCodeAt(i); isDigit(c); c = text.charCodeAt(++i)) serial = serial * 10 + (c - C_0);
  if (i === serialStart || i - serialStart > 12 || text.charCodeAt(i) !== 0x29 /* ) */) return undefined;
  i++;
  if (text.charCodeAt(i) === 0x3a /* : */) i++;
  return { end: i, node, type, sec, milli, serial };
}

/** The record types of most lines, as constants: a new string per line would stay alive with its pending event. */
const COMMON_TYPES = ['SYSCALL', 'PATH', 'CWD', 'PROCTITLE', 'EXECVE', 'EOE', 'SOCKADDR', 'AVC'];

function commonType(text: string, start: number, end: number): string | undefined {
  const n = end - start;
  for (const t of COMMON_TYPES) if (t.length === n && text.startsWith(t, start)) return t;
  return undefined;
}

function regexHeader(text: string): Header | undefined {
  const m = HEADER.exec(text);
  if (m === null) return undefined;
  const [, node, type, secText, milliText, serialText] = m;
  return { end: m[0].length, node, type: type ?? '', sec: Number(secText), milli: Number(milliText), serial: Number(serialText) };
}

/** Splits one line into an {@link AuditRecord}; undefined for a blank line, a failure for anything else it cannot read. */
export function parseAuditLine(line: SourceLine): AuditRecord | ParseFailure | undefined {
  let text = line.text;
  if (text.endsWith('\n')) text = text.slice(0, -1);
  if (text.endsWith('\r')) text = text.slice(0, -1);
  // Blank: nothing but whitespace (looked at only when the line starts with some).
  if (text.length === 0 || (isSpaceCode(text.charCodeAt(0)) && text.trim() === '')) return undefined;
  if (text.length > MAX_LINE_LENGTH) {
    return failure('auditd.line_too_long', `line of ${text.length} characters (limit ${MAX_LINE_LENGTH})`, [line.seq]);
  }
  const h = scanHeader(text) ?? regexHeader(text);
  if (h === undefined) {
    return failure(
      'auditd.bad_header',
      `not an audit record header (expected "type=NAME msg=audit(SECONDS.MILLIS:SERIAL):"): ${clip(text)}`,
      [line.seq],
    );
  }
  let bodyEnd = text.length;
  let enriched: Map<string, string> | undefined;
  const gs = text.indexOf('\x1d', h.end);
  if (gs >= 0) {
    const enrichedValues = readFields(text, gs + 1, text.length);
    enriched = new Map();
    for (const [k, v] of enrichedValues) enriched.set(k, v.value);
    bodyEnd = gs;
  }
  const fields = readFields(text, h.end, bodyEnd);
  fields.useLayout(h.type);
  const record: AuditRecord = { seq: line.seq, type: h.type, sec: h.sec, milli: h.milli, serial: h.serial, fields };
  if (h.node !== undefined) record.node = h.node;
  if (enriched !== undefined) record.enriched = enriched;
  return record;
}

/** Whether a UTF-16 unit may start a line that trim() empties (every other line starts otherwise). */
function isSpaceCode(c: number): boolean {
  return c <= 0x20 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/**
 * The `key=value` fields of `text` from `from` to `to` (AuditFields keeps the first of each key); values
 * may be "double" or 'single' quoted; words without `=` are skipped. Scans the line in place: no
 * body string, no list of pairs.
 */
function readFields(text: string, from: number, to: number): AuditFields {
  // Written straight into the arena: a field takes at least two characters (`k=`), so a line
  // cannot need more room than this; a new arena is started when the current one has less.
  const room = 3 * Math.ceil((to - from) / 2);
  if (arenaUsed + room > arena.length) {
    arena = new Int32Array(Math.max(ARENA_ENTRIES, room));
    arenaUsed = 0;
  }
  const at = arena;
  const base = arenaUsed;
  let k = base;
  const n = to;
  let i = from;
  while (i < n) {
    while (i < n && text.charCodeAt(i) === C_SPACE) i++;
    if (i >= n) break;
    const start = i;
    let c = text.charCodeAt(i);
    while (i < n && c !== 0x3d /* = */ && c !== C_SPACE) c = text.charCodeAt(++i);
    if (i >= n || c !== 0x3d) continue; // a bare word such as "old" in "old auid=…"
    const keyEnd = i;
    i++; // '='
    const q = i < n ? text.charCodeAt(i) : -1;
    let ve: number;
    let quoted: boolean;
    if (q === 0x22 /* " */ || q === 0x27 /* ' */) {
      const end = text.indexOf(q === 0x22 ? '"' : "'", i + 1);
      ve = end < 0 || end >= n ? n : end;
      quoted = true;
      i = ve + 1;
    } else {
      // the value runs to the next space (indexOf, not a loop of charCodeAt: values are the long part of a line)
      const space = text.indexOf(' ', i);
      ve = space < 0 || space >= n ? n : space;
      quoted = false;
      i = ve;
    }
    if (keyEnd !== start) {
      // the value starts at keyEnd + 1, or keyEnd + 2 after an opening quote (AuditFields.textAt)
      at[k++] = start;
      at[k++] = keyEnd * 2 + (quoted ? 1 : 0);
      at[k++] = ve;
    }
  }
  arenaUsed = k;
  return new AuditFields(text, at, base, (k - base) / 3);
}

/**
 * Where the fields' offsets are kept (AuditFields): 64 Ki numbers, about 300 events of a few
 * records; a full arena is left to the records that use it (and to the collector once they are
 * gone) and a new one is started.
 */
const ARENA_ENTRIES = 1 << 16;
let arena = new Int32Array(0);
let arenaUsed = 0;

/** Fields the kernel hex-encodes when they hold a space, a quote or a control character. */
const ENCODED_FIELDS = new Set(['name', 'cwd', 'comm', 'exe', 'proctitle', 'key', 'path', 'acct', 'cmd', 'data', 'old', 'new']);

/**
 * A field's text: quoted values as written, unquoted hex of the encoded fields decoded (NULs in
 * proctitle become spaces), `(null)` → undefined.
 */
export function decodedField(record: AuditRecord, name: string): string | undefined {
  return record.fields.decoded(name);
}

function decodeValue(name: string, value: string, quoted: boolean): string | undefined {
  if (quoted) return value;
  if (value === '(null)' || value === '') return undefined;
  // a stray closing quote after the hex has been seen in real logs (go-libaudit's audit-ubuntu17.log)
  const hex = value.endsWith('"') ? value.slice(0, -1) : value;
  if (ENCODED_FIELDS.has(name) && isHex(hex)) {
    const text = hexToText(hex);
    return name === 'proctitle' ? text.replace(/\0+$/, '').replaceAll('\0', ' ') : text;
  }
  return value;
}

function isHex(s: string): boolean {
  return s.length % 2 === 0 && /^[0-9A-Fa-f]+$/.test(s);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
/** Text of hex that isHex() accepted (even length, hex digits only: Buffer's decoding reads all of it). */
function hexToText(hex: string): string {
  return utf8.decode(Buffer.from(hex, 'hex'));
}

// --- grouping -----------------------------------------------------------------------------------

/** Record types that never share an event with others (ausearch's check_events): by name for the names that matter. */
const MULTI_RECORD_TYPES = new Set([
  // 1300–1339, kernel syscall-event records (PROCTITLE 1327 excluded on purpose)
  'SYSCALL', 'FS_WATCH', 'PATH', 'IPC', 'SOCKETCALL', 'CONFIG_CHANGE', 'SOCKADDR', 'CWD', 'FS_INODE', 'EXECVE',
  'EXE', 'IPC_SET_PERM', 'MQ_OPEN', 'MQ_SENDRECV', 'MQ_NOTIFY', 'MQ_GETSETATTR', 'KERNEL_OTHER', 'FD_PAIR',
  'OBJ_PID', 'TTY', 'EOE', 'BPRM_FCAPS', 'CAPSET', 'MMAP', 'NETFILTER_PKT', 'NETFILTER_CFG', 'SECCOMP',
  'FEATURE_CHANGE', 'REPLACE', 'KERN_MODULE', 'FANOTIFY', 'TIME_INJOFFSET', 'TIME_ADJNTPVAL', 'BPF',
  'EVENT_LISTENER', 'URINGOP', 'OPENAT2', 'DM_CTRL', 'DM_EVENT',
  // 1400–1405 SELinux (MAC_UNLBL_ALLOW 1406 … MAC_CALIPSO_DEL 1419 are one-record events)
  'AVC', 'SELINUX_ERR', 'AVC_PATH', 'MAC_POLICY_LOAD', 'MAC_STATUS', 'MAC_CONFIG_CHANGE',
  'MAC_TASK_CONTEXTS', 'MAC_OBJ_CONTEXTS',
  // 1500–1599 AppArmor
  'APPARMOR_AUDIT', 'APPARMOR_ALLOWED', 'APPARMOR_DENIED', 'APPARMOR_HINT', 'APPARMOR_STATUS', 'APPARMOR_ERROR',
  'APPARMOR_KILL',
  // 1700–1999 kernel anomalies and integrity (AUDIT_FIRST_ANOM_MSG is the user-space 2100)
  'ANOM_PROMISCUOUS', 'ANOM_ABEND', 'ANOM_LINK', 'ANOM_CREAT',
  'INTEGRITY_DATA', 'INTEGRITY_METADATA', 'INTEGRITY_STATUS', 'INTEGRITY_HASH', 'INTEGRITY_PCR', 'INTEGRITY_RULE',
  'INTEGRITY_EVM_XATTR', 'INTEGRITY_POLICY_RULE',
]);

/** Whether an event that starts with this record type may get more records (ausearch's rule). */
export function startsMultiRecordEvent(type: string): boolean {
  const unknown = /^UNKNOWN\[(\d+)\]$/.exec(type);
  if (unknown !== null) {
    const n = Number(unknown[1]);
    return n >= 1300 && n < 2100 && n !== 1327 && n !== 2000 && !(n >= 1406 && n <= 1419);
  }
  return MULTI_RECORD_TYPES.has(type);
}

interface Building {
  event: AuditEvent;
  order: number;
  multi: boolean;
  /** Completed by the next check_events whatever its time: a one-record type, or an event that starts with EOE. */
  special: boolean;
}

/** What add() returns when it completed nothing (most records): read only. */
const NO_EVENTS: readonly AuditEvent[] = Object.freeze([]);

/**
 * The grouping engine: feed records in file order, collect completed events. Shared by the
 * streaming parser and {@link groupAuditEvents}.
 */
class EventGrouper {
  private readonly building = new Map<string, Building>();
  private order = 0;
  /** The last record's id parts and id: the records of one event mostly follow one another. */
  private lastRecord: AuditRecord | undefined;
  private lastId = '';
  /**
   * No building event is older than this (a lower bound: exact after a check_events walk, stale
   * but still below every event after other removals), and how many building events are special:
   * while neither can complete anything, check_events has nothing to do and is not walked. It
   * walked every building event for every new one: an audit.log without EOE keeps about a thousand.
   */
  private minSec = Number.POSITIVE_INFINITY;
  private specials = 0;

  private idOf(record: AuditRecord): string {
    const last = this.lastRecord;
    if (last === undefined || last.serial !== record.serial || last.sec !== record.sec || last.milli !== record.milli || last.node !== record.node) {
      this.lastId = eventId(record);
    }
    this.lastRecord = record;
    return this.lastId;
  }

  /** Adds a record; returns the events this completed (possibly including a new one-record event). */
  add(record: AuditRecord, failures: ParseFailure[]): readonly AuditEvent[] {
    const id = this.idOf(record);
    const existing = this.building.get(id);
    if (existing !== undefined) {
      existing.event.records.push(record);
      if (record.type === 'EOE') {
        this.remove(id, existing);
        return [existing.event];
      } else if (existing.event.records.length >= MAX_EVENT_RECORDS) {
        this.remove(id, existing);
        failures.push(
          failure('auditd.event_too_large', `event ${id} reached ${MAX_EVENT_RECORDS} records; later ones start a new event`, [
            record.seq,
          ]),
        );
        return [existing.event];
      }
      return NO_EVENTS;
    }
    const event: AuditEvent = { id, sec: record.sec, milli: record.milli, serial: record.serial, records: [record] };
    if (record.node !== undefined) event.node = record.node;
    const multi = startsMultiRecordEvent(record.type);
    const entry: Building = { event, order: this.order++, multi, special: !multi || record.type === 'EOE' };
    this.building.set(id, entry);
    if (entry.special) this.specials++;
    if (record.sec < this.minSec) this.minSec = record.sec;
    let done: AuditEvent[] | undefined;
    // ausearch's check_events, run when a record starts a new event: it completes the events 2 or
    // more seconds older than this record and the special ones, so there is nothing to walk for
    // while there are no special events and none is that old.
    if (this.specials > 0 || this.minSec + 2 <= record.sec) {
      let min = Number.POSITIVE_INFINITY;
      // forEach, not for…of: no entry array per event building (deleting while iterating is the same for both).
      this.building.forEach((b, key) => {
        if (b.event.sec + 2 <= record.sec || b.special) {
          this.remove(key, b);
          (done ??= []).push(b.event);
        } else if (b.event.sec < min) min = b.event.sec;
      });
      this.minSec = min;
    }
    if (this.building.size > MAX_PENDING_EVENTS) {
      const oldest = this.building.keys().next();
      if (oldest.done !== true) {
        const b = this.building.get(oldest.value);
        if (b !== undefined) {
          this.remove(oldest.value, b);
          (done ??= []).push(b.event);
        }
      }
    }
    return done ?? NO_EVENTS;
  }

  private remove(id: string, b: Building): void {
    this.building.delete(id);
    if (b.special) this.specials--;
  }

  /** Completes every event still building (end of input). */
  drain(): AuditEvent[] {
    const out = [...this.building.values()].sort((a, b) => a.order - b.order).map((b) => b.event);
    this.building.clear();
    this.specials = 0;
    this.minSec = Number.POSITIVE_INFINITY;
    return out;
  }

  get pending(): number {
    return this.building.size;
  }
}

/** The records of an event that the parsers look for: the first of each kind, and every PATH and EXECVE in order. */
export interface EventParts {
  syscall: AuditRecord | undefined;
  cwd: AuditRecord | undefined;
  proctitle: AuditRecord | undefined;
  paths: AuditRecord[];
  execves: AuditRecord[];
}

/** The last event eventParts looked at (both parsers of an event ask in turn), its records list and length, and its parts. */
let partsOf: { event: AuditEvent; records: AuditRecord[]; length: number; parts: EventParts } | undefined;

/**
 * An event's records by type, found in one pass (instead of a find or a filter with a closure per
 * type and parser). Remembered for the last event only, and only while its records stay the same.
 */
export function eventParts(event: AuditEvent): EventParts {
  const known = partsOf;
  if (known !== undefined && known.event === event && known.records === event.records && known.length === event.records.length) return known.parts;
  const parts: EventParts = { syscall: undefined, cwd: undefined, proctitle: undefined, paths: [], execves: [] };
  for (const r of event.records) {
    const type = r.type;
    if (type === 'SYSCALL') parts.syscall ??= r;
    else if (type === 'PATH') parts.paths.push(r);
    else if (type === 'EXECVE') parts.execves.push(r);
    else if (type === 'CWD') parts.cwd ??= r;
    else if (type === 'PROCTITLE') parts.proctitle ??= r;
  }
  partsOf = { event, records: event.records, length: event.records.length, parts };
  return parts;
}

function eventId(r: { sec: number; milli: number; serial: number; node?: string }): string {
  const ms = String(r.milli).padStart(3, '0');
  return `${r.node === undefined ? '' : `${r.node}@`}${r.sec}.${ms}:${r.serial}`;
}

/**
 * Groups lines into audit events as ausearch does (see the module comment). Lines that are not
 * audit records are left out and named in `failures`. Pure.
 */
export function groupAuditEvents(lines: Iterable<SourceLine>): { events: AuditEvent[]; failures: ParseFailure[] } {
  const grouper = new EventGrouper();
  const events: AuditEvent[] = [];
  const failures: ParseFailure[] = [];
  for (const line of lines) {
    const r = safeParseLine(line);
    if (r === undefined) continue;
    if ('reason' in r) failures.push(r);
    else events.push(...grouper.add(r, failures));
  }
  events.push(...grouper.drain());
  return { events, failures };
}

function safeParseLine(line: SourceLine): AuditRecord | ParseFailure | undefined {
  try {
    return parseAuditLine(line);
  } catch (err) {
    return failure('auditd.internal', `parser error: ${err instanceof Error ? err.message : String(err)}`, [line.seq]);
  }
}

// --- the streaming parser -----------------------------------------------------------------------

export interface AuditdParser {
  /** One line of audit.log; returns the records of the events this line completed. */
  push(line: SourceLine): ParseOutput;
  /** End of input (or a pause the caller treats as one): completes every event still building. */
  finish(): ParseOutput;
  /** Events still building, for status output. */
  readonly pending: number;
}

/** What push() returns for a line that completed nothing and failed nothing: shared, read only. */
const NOTHING: ParseOutput = Object.freeze({ records: Object.freeze([]) as unknown as DerivedRecord[], failures: Object.freeze([]) as unknown as ParseFailure[] });

/**
 * A stateful but pure audit.log parser: lines in, `file.access` and `process.exec` records and named
 * failures out. An output with nothing in it may be one shared, frozen object: read it, do not add to it.
 */
export function createAuditdParser(): AuditdParser {
  const grouper = new EventGrouper();
  /** Where the grouping's failures of one line go first (emptied into the line's output). */
  const groupFailures: ParseFailure[] = [];
  const convert = (events: readonly AuditEvent[], out: ParseOutput): ParseOutput => {
    for (const e of events) {
      try {
        eventToFileAccess(e, out);
      } catch (err) {
        out.failures.push(
          failure('auditd.internal', `parser error: ${err instanceof Error ? err.message : String(err)}`, e.records.map((r) => r.seq)),
        );
      }
      try {
        eventToProcessExec(e, out);
      } catch (err) {
        out.failures.push({
          parser: AUDITD_EXEC_PARSER,
          reason: 'auditd.internal',
          detail: `parser error: ${err instanceof Error ? err.message : String(err)}`,
          derived_from: e.records.map((r) => r.seq),
        });
      }
    }
    return out;
  };
  return {
    push(line: SourceLine): ParseOutput {
      const r = safeParseLine(line);
      if (r === undefined) return NOTHING;
      if ('reason' in r) return { records: [], failures: [r] };
      let events: readonly AuditEvent[];
      const failures = groupFailures;
      try {
        events = grouper.add(r, failures);
      } catch (err) {
        failures.push(failure('auditd.internal', `parser error: ${err instanceof Error ? err.message : String(err)}`, [line.seq]));
        events = NO_EVENTS;
      }
      // Most lines complete nothing: then the shared empty output, not a fresh one per line.
      if (events.length === 0 && failures.length === 0) return NOTHING;
      const out: ParseOutput = { records: [], failures: failures.length === 0 ? [] : failures.splice(0) };
      return convert(events, out);
    },
    finish(): ParseOutput {
      return convert(grouper.drain(), { records: [], failures: [] });
    },
    get pending() {
      return grouper.pending;
    },
  };
}

// --- event → file.access -----------------------------------------------------------------------

/** What a syscall does to the file it names, for `operation`. Syscalls not listed keep their own name. */
const OPERATIONS: Record<string, string> = {
  open: 'open', openat: 'open', openat2: 'open', open_by_handle_at: 'open', creat: 'create',
  read: 'read', pread64: 'read', readv: 'read', preadv: 'read', preadv2: 'read',
  write: 'write', pwrite64: 'write', writev: 'write', pwritev: 'write', pwritev2: 'write',
  truncate: 'truncate', ftruncate: 'truncate', fallocate: 'write',
  unlink: 'delete', unlinkat: 'delete', rmdir: 'delete',
  rename: 'rename', renameat: 'rename', renameat2: 'rename',
  mkdir: 'mkdir', mkdirat: 'mkdir', mknod: 'mknod', mknodat: 'mknod',
  link: 'link', linkat: 'link', symlink: 'symlink', symlinkat: 'symlink',
  chmod: 'chmod', fchmod: 'chmod', fchmodat: 'chmod', fchmodat2: 'chmod',
  chown: 'chown', fchown: 'chown', lchown: 'chown', fchownat: 'chown',
  setxattr: 'setxattr', lsetxattr: 'setxattr', fsetxattr: 'setxattr',
  removexattr: 'removexattr', lremovexattr: 'removexattr', fremovexattr: 'removexattr',
  utime: 'set_times', utimes: 'set_times', futimesat: 'set_times', utimensat: 'set_times',
  execve: 'execute', execveat: 'execute',
  stat: 'stat', lstat: 'stat', newfstatat: 'stat', fstatat64: 'stat', statx: 'stat', stat64: 'stat', lstat64: 'stat',
  access: 'access', faccessat: 'access', faccessat2: 'access',
  readlink: 'readlink', readlinkat: 'readlink',
  mount: 'mount', umount2: 'umount', chdir: 'chdir', chroot: 'chroot', swapon: 'swapon', swapoff: 'swapoff',
};

/** The syscalls that take a directory fd in front of a path, and which arguments hold those fds. */
const DIRFD_ARGS: Record<string, string[]> = {
  openat: ['a0'], openat2: ['a0'], unlinkat: ['a0'], mkdirat: ['a0'], mknodat: ['a0'], fchmodat: ['a0'],
  fchmodat2: ['a0'], fchownat: ['a0'], faccessat: ['a0'], faccessat2: ['a0'], newfstatat: ['a0'], fstatat64: ['a0'],
  readlinkat: ['a0'], utimensat: ['a0'], futimesat: ['a0'], execveat: ['a0'], statx: ['a0'], name_to_handle_at: ['a0'],
  linkat: ['a0', 'a2'], renameat: ['a0', 'a2'], renameat2: ['a0', 'a2'], symlinkat: ['a1'],
};

/** AT_FDCWD (-100) as auditd writes it for 32- and 64-bit arguments. */
function isAtFdcwd(arg: string | undefined): boolean {
  if (arg === undefined) return false;
  const a = arg.toLowerCase();
  return a === 'ffffff9c' || a === 'ffffffffffffff9c';
}

const FILE_TYPES: Array<[number, string]> = [
  [0o140000, 'socket'], [0o120000, 'symlink'], [0o100000, 'file'], [0o060000, 'block_device'],
  [0o040000, 'directory'], [0o020000, 'char_device'], [0o010000, 'fifo'],
];

function objectType(mode: string | undefined): string | undefined {
  if (mode === undefined || !/^[0-7]{1,8}$/.test(mode)) return undefined;
  const fmt = parseInt(mode, 8) & 0o170000;
  return FILE_TYPES.find(([bits]) => bits === fmt)?.[1];
}

/** Lexical normalisation of an absolute path: `.`, `..` and repeated slashes. */
export function normalizePath(p: string): string {
  // Most paths are normal already: no `//`, no `.` or `..` part, no trailing slash.
  if (isNormalPath(p)) return p;
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}${p.endsWith('/') && out.length > 0 ? '/' : ''}`;
}

/** Whether normalizePath would give `p` back unchanged: absolute, and no empty, `.` or `..` part. */
function isNormalPath(p: string): boolean {
  const n = p.length;
  if (n === 0 || p.charCodeAt(0) !== 0x2f) return false;
  if (n === 1) return true;
  if (p.charCodeAt(n - 1) === 0x2f) return false;
  // Each part starts after a slash: it may be neither empty nor `.` nor `..`.
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) {
    const a = p.charCodeAt(i + 1);
    if (a === 0x2f) return false;
    if (a === 0x2e) {
      const b = p.charCodeAt(i + 2);
      if (b === 0x2f || Number.isNaN(b)) return false;
      if (b === 0x2e) {
        const c = p.charCodeAt(i + 3);
        if (c === 0x2f || Number.isNaN(c)) return false;
      }
    }
  }
  return true;
}

/** Access requested by open/openat flags (the access mode bits and O_CREAT/O_TRUNC are the same on x86_64 and aarch64). */
function openAccess(flagsHex: string | undefined): string[] | undefined {
  if (flagsHex === undefined || !/^[0-9a-fA-F]{1,16}$/.test(flagsHex)) return undefined;
  const flags = Number.parseInt(flagsHex.slice(-8), 16);
  const access: string[] = [];
  const mode = flags & 3;
  if (mode === 0) access.push('read');
  else if (mode === 1) access.push('write');
  else if (mode === 2) access.push('read', 'write');
  if (flags & 0o100) access.push('create');
  if (flags & 0o1000) access.push('truncate');
  if (flags & 0o2000) access.push('append');
  return access;
}

const MAX_EVENT_TIME_SEC = 253402300799; // 9999-12-31T23:59:59Z

/** The `file.access` records of one event, appended to `out` (none when the event names no file). */
export function eventToFileAccess(event: AuditEvent, out: ParseOutput): void {
  const parts = eventParts(event);
  const syscallRecord = parts.syscall;
  const pathRecords = parts.paths;
  if (syscallRecord === undefined || pathRecords.length === 0) return;
  const derivedFrom = event.records.map((r) => r.seq);
  const archRaw = syscallRecord.fields.value('arch');
  const nrRaw = syscallRecord.fields.value('syscall');
  if (archRaw === undefined || nrRaw === undefined || !/^[0-9a-fA-F]{1,8}$/.test(archRaw) || !/^\d{1,6}$/.test(nrRaw)) {
    out.failures.push(
      failure('auditd.bad_syscall', `event ${event.id}: SYSCALL record without a readable arch= and syscall=`, derivedFrom),
    );
    return;
  }
  const syscall = syscallName(archRaw, Number(nrRaw));
  const syscallText = syscall ?? nrRaw;
  const baseOperation = syscall === undefined ? `syscall_${nrRaw}` : (OPERATIONS[syscall] ?? syscall);

  const cwdRecord = parts.cwd;
  const cwd = cwdRecord === undefined ? undefined : decodedField(cwdRecord, 'cwd');
  const proctitleRecord = parts.proctitle;
  const proctitle = proctitleRecord === undefined ? undefined : decodedField(proctitleRecord, 'proctitle');

  const f = (name: string): string | undefined => syscallRecord.fields.value(name);
  const enriched = syscallRecord.enriched;

  // PATH items with a name, in item order
  const items: Array<{ r: AuditRecord; item: number; name: string }> = [];
  let inOrder = true;
  for (let index = 0; index < pathRecords.length; index++) {
    const r = pathRecords[index] as AuditRecord;
    const name = decodedField(r, 'name');
    if (name === undefined) continue;
    const x = { r, item: Number(r.fields.value('item') ?? index), name };
    const before = items[items.length - 1];
    // Sorted (stably) only when not in order already, which sorting would leave as it is.
    if (before !== undefined && !(before.item - x.item <= 0)) inOrder = false;
    items.push(x);
  }
  if (!inOrder) items.sort((a, b) => a.item - b.item);
  if (items.length === 0) return;
  const nametype = (x: { r: AuditRecord }): string =>
    (x.r.fields.value('nametype') ?? x.r.fields.value('objtype') ?? '').toUpperCase();

  const dirfdArgs = syscall === undefined ? undefined : DIRFD_ARGS[syscall];
  const relativeToDirfd = dirfdArgs !== undefined && dirfdArgs.some((a) => !isAtFdcwd(f(a)));
  const resolve = (name: string): { path: string; note?: string } => {
    if (name.startsWith('/')) return { path: normalizePath(name) };
    if (relativeToDirfd) return { path: name, note: `relative to a directory fd (${dirfdArgs?.map((a) => `${a}=${f(a) ?? '?'}`).join(' ')}), not resolvable from the log` };
    if (cwd !== undefined && cwd.startsWith('/')) return { path: normalizePath(`${cwd}/${name}`) };
    return { path: name, note: 'relative path and no CWD record' };
  };

  // which items are the objects of the call
  type Item = (typeof items)[number];
  const objects: Array<{ target: Item; previous?: Item }> = [];
  if (baseOperation === 'rename') {
    const del = items.find((x) => nametype(x) === 'DELETE');
    const create = items.find((x) => nametype(x) === 'CREATE');
    if (del !== undefined && create !== undefined) objects.push({ target: create, previous: del });
  }
  if (objects.length === 0) {
    if (baseOperation === 'execute') {
      const first = items[0];
      if (first !== undefined) objects.push({ target: first });
    } else {
      const nonParent = items.filter((x) => nametype(x) !== 'PARENT');
      for (const target of nonParent.length > 0 ? nonParent : items) objects.push({ target });
    }
  }

  const success = f('success');
  const pidText = f('pid');
  const key = decodedField(syscallRecord, 'key');
  const auditKey = auditKeyText(key);
  const sec = event.sec;
  const eventTime =
    sec <= MAX_EVENT_TIME_SEC && event.milli <= 999 ? formatTimestamp(sec * 1000 + event.milli) : undefined;

  // made for events with more than one object only (most have one)
  const seenPaths = objects.length > 1 ? new Set<string>() : undefined;
  for (const { target, previous } of objects) {
    const resolved = resolve(target.name);
    // the same object named twice (mount's UNKNOWN + NORMAL items) is one access
    if (seenPaths !== undefined) {
      if (seenPaths.has(resolved.path)) continue;
      seenPaths.add(resolved.path);
    }
    const type = nametype(target);
    let operation = baseOperation;
    if (baseOperation === 'open' && type === 'CREATE') operation = 'create';
    const payload: PayloadOf<'file.access'> = {
      derived_from: derivedFrom,
      parser: AUDITD_PARSER,
      path: resolved.path,
      operation,
      syscall: syscallText,
      arch: archName(archRaw) ?? archRaw.toLowerCase(),
    };
    if (eventTime !== undefined) payload.event_time = eventTime;
    if (event.node !== undefined) payload.event_host = event.node;
    if (success === 'yes') payload.success = true;
    else if (success === 'no') payload.success = false;
    const uid = f('uid');
    const auid = f('auid');
    if (uid !== undefined) payload.uid = uid;
    if (auid !== undefined) payload.auid = auid;
    const user = enriched?.get('UID');
    if (user !== undefined) payload.user = user;
    if (pidText !== undefined && /^\d{1,15}$/.test(pidText)) payload.pid = Number(pidText);
    const exe = decodedField(syscallRecord, 'exe');
    const comm = decodedField(syscallRecord, 'comm');
    if (exe !== undefined) payload.exe = exe;
    if (comm !== undefined) payload.comm = comm;
    if (auditKey !== undefined) payload.audit_key = auditKey;
    const ot = objectType(target.r.fields.value('mode'));
    if (ot !== undefined) payload.object_type = ot;
    if (baseOperation === 'open' && syscall !== 'openat2' && syscall !== 'open_by_handle_at') {
      const access = openAccess(syscall === 'open' ? f('a1') : f('a2'));
      if (access !== undefined) payload.access = access;
    }
    if (previous !== undefined) payload.previous_path = resolve(previous.name).path;

    // Members set by name (extra.exit = …), not through a helper's extra[k] = …: an object given
    // more than a dozen members by computed keys turns into a dictionary, which every later step
    // (relocation, the payload check, canonical text) then reads by hash lookups.
    const extra: Record<string, string> = { audit_id: event.id };
    let v: string | undefined;
    if (given((v = f('exit')))) extra.exit = v;
    if (given((v = f('ses')))) extra.ses = v;
    if (given((v = f('ppid')))) extra.ppid = v;
    if (given((v = f('tty')))) extra.tty = v;
    if (given((v = f('euid')))) extra.euid = v;
    if (given((v = f('suid')))) extra.suid = v;
    if (given((v = f('fsuid')))) extra.fsuid = v;
    if (given((v = f('gid')))) extra.gid = v;
    if (given((v = f('egid')))) extra.egid = v;
    if (given((v = f('subj')))) extra.subj = v;
    if (given(cwd)) extra.cwd = cwd;
    if (given(proctitle)) extra.proctitle = proctitle;
    const tf = target.r.fields;
    if (given((v = tf.value('item')))) extra.item = v;
    if (given(type)) extra.nametype = type;
    if (target.name !== resolved.path && given(target.name)) extra.name = target.name;
    if (given(resolved.note)) extra.path_note = resolved.note;
    if (given((v = tf.value('inode')))) extra.inode = v;
    if (given((v = tf.value('dev')))) extra.dev = v;
    if (given((v = tf.value('mode')))) extra.mode = v;
    if (given((v = tf.value('ouid')))) extra.ouid = v;
    if (given((v = tf.value('ogid')))) extra.ogid = v;
    if (given((v = tf.value('obj')))) extra.obj = v;
    if (enriched !== undefined) {
      if (given((v = enriched.get('AUID')))) extra.auid_user = v;
      if (given((v = enriched.get('EUID')))) extra.euid_user = v;
      if (given((v = enriched.get('GID')))) extra.gid_group = v;
      if (given((v = target.r.enriched?.get('OUID')))) extra.ouid_user = v;
    }
    if (baseOperation === 'execute') {
      const interp = items[1];
      if (interp !== undefined && interp !== target && given((v = resolve(interp.name).path))) extra.interpreter = v;
    }
    payload.extra = extra;
    out.records.push({ kind: 'file.access', payload } satisfies DerivedRecord<'file.access'>);
  }
}

/**
 * The rule keys of a SYSCALL record's key= (several are joined by \x01 in the log) as the records
 * carry them, comma-separated, or undefined when there is none; one key is itself (no list made).
 */
export function auditKeyText(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (!key.includes('\x01')) return key === '' ? undefined : key;
  const keys = key.split('\x01').filter((k) => k !== '');
  return keys.length > 0 ? keys.join(',') : undefined;
}

/** Whether an `extra` member is set: present and not empty. */
function given(v: string | undefined): v is string {
  return v !== undefined && v !== '';
}

function failure(reason: string, detail: string, derivedFrom: number[]): ParseFailure {
  return { parser: AUDITD_PARSER, reason, detail, derived_from: derivedFrom };
}

function clip(s: string): string {
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…` : s);
}
