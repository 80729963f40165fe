/**
 * utmp / wtmp / btmp binary records (glibc `struct utmp`) → `auth.logon` records.
 *
 * Two layouts exist on the Linux machines custody supports:
 * - x86_64: 384 bytes; `ut_session`, `ut_tv.tv_sec` and `ut_tv.tv_usec` are 32-bit (glibc keeps the
 *   32-bit layout there so 32- and 64-bit programs share the file);
 * - aarch64: 400 bytes; `ut_session` and both `ut_tv` fields are 64-bit (8-byte aligned).
 *
 * | field      | x86_64 offset | aarch64 offset | size |
 * |------------|--------------:|---------------:|-----:|
 * | ut_type    | 0   | 0   | 2 (+2 pad) |
 * | ut_pid     | 4   | 4   | 4 |
 * | ut_line    | 8   | 8   | 32 |
 * | ut_id      | 40  | 40  | 4 |
 * | ut_user    | 44  | 44  | 32 |
 * | ut_host    | 76  | 76  | 256 |
 * | ut_exit    | 332 | 332 | 4 (termination, exit: 2 × int16) |
 * | ut_session | 336 | 336 | 4 / 8 |
 * | tv_sec     | 340 | 344 | 4 / 8 |
 * | tv_usec    | 344 | 352 | 4 / 8 |
 * | ut_addr_v6 | 348 | 360 | 16 |
 *
 * A file whose size is not a whole number of records ends in a truncated record: the whole
 * records are read and a `wtmp.truncated` failure names the tail's offset and length, for the
 * caller to record as an `agent.gap`. Pure; never throws.
 */
import { formatTimestamp, type PayloadOf } from '../records/schema.js';
import type { DerivedRecord, ParseFailure, ParseOutput } from './types.js';

export const WTMP_PARSER = 'wtmp@1';

export type UtmpLayout = 'x86_64' | 'aarch64';

export const UTMP_RECORD_SIZE: Readonly<Record<UtmpLayout, number>> = { x86_64: 384, aarch64: 400 };

/** glibc ut_type values. */
export const UT_TYPES = [
  'EMPTY',
  'RUN_LVL',
  'BOOT_TIME',
  'NEW_TIME',
  'OLD_TIME',
  'INIT_PROCESS',
  'LOGIN_PROCESS',
  'USER_PROCESS',
  'DEAD_PROCESS',
  'ACCOUNTING',
] as const;

export interface UtmpEntry {
  /** 0-based record index and byte offset in the file. */
  index: number;
  offset: number;
  type: number;
  /** `USER_PROCESS`, …, or `UNKNOWN(n)`. */
  typeName: string;
  pid: number;
  line: string;
  id: string;
  user: string;
  host: string;
  exitTermination: number;
  exitStatus: number;
  session: number;
  tvSec: number;
  tvUsec: number;
  /** ut_addr_v6 as text: IPv4 when only the first word is set, IPv6 otherwise, '' when all zero. */
  addr: string;
  /** tv_sec/tv_usec as a record timestamp, when tv_sec is set and in range. */
  time?: string;
}

export interface UtmpOptions {
  /** Which file this is: wtmp (history), btmp (failed logins) or utmp (current sessions). */
  source: 'wtmp' | 'btmp' | 'utmp';
  /** seq of the preserved record(s) holding these bytes (the `log.file` record). */
  derivedFrom: number[];
  /** Record layout; `auto` (the default) decides from the file's size and the sanity of its records. */
  layout?: UtmpLayout | 'auto';
}

export interface UtmpOutput extends ParseOutput {
  records: DerivedRecord<'auth.logon'>[];
  entries: UtmpEntry[];
  layout: UtmpLayout;
}

/** Reads a utmp-format file. Never throws: anything it cannot read becomes a named failure. */
export function parseUtmp(bytes: Uint8Array, opts: UtmpOptions): UtmpOutput {
  const out: UtmpOutput = { records: [], failures: [], entries: [], layout: 'x86_64' };
  try {
    const layout = opts.layout === undefined || opts.layout === 'auto' ? detectLayout(bytes) : opts.layout;
    out.layout = layout;
    const size = UTMP_RECORD_SIZE[layout];
    const whole = Math.floor(bytes.length / size);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < whole; i++) {
      const entry = readEntry(view, bytes, i * size, i, layout);
      out.entries.push(entry);
      if (entry.type < 0 || entry.type >= UT_TYPES.length) {
        out.failures.push(
          failure(opts, 'wtmp.bad_type', `record ${i} at byte ${entry.offset}: ut_type ${entry.type} is not a utmp record type`, entry.offset),
        );
      }
    }
    const tail = bytes.length - whole * size;
    if (tail > 0) {
      out.failures.push(
        failure(
          opts,
          'wtmp.truncated',
          `${bytes.length} bytes is not a whole number of ${size}-byte ${layout} records: ${whole} whole records, ` +
            `then ${tail} bytes of a truncated record at byte ${whole * size} (not read)`,
          whole * size,
        ),
      );
    }
    toLogonRecords(out.entries, opts, out.records);
  } catch (err) {
    out.failures.push(failure(opts, 'wtmp.internal', `parser error: ${err instanceof Error ? err.message : String(err)}`, 0));
  }
  return out;
}

/**
 * The layout whose record size divides the file size, if only one does; otherwise the one whose
 * records look most like utmp records (known ut_type, tv_usec < 10^6, plausible time); x86_64 on a tie.
 */
export function detectLayout(bytes: Uint8Array): UtmpLayout {
  const exact = (['x86_64', 'aarch64'] as const).filter((l) => bytes.length > 0 && bytes.length % UTMP_RECORD_SIZE[l] === 0);
  if (exact.length === 1 && exact[0] !== undefined) return exact[0];
  // +1 for a record that looks like a real login-accounting entry, -1 for one that cannot be one,
  // 0 for an empty slot: a misaligned read turns sessions and times into garbage.
  const score = (l: UtmpLayout): number => {
    const size = UTMP_RECORD_SIZE[l];
    // the first 512 records are plenty to tell the layouts apart
    const n = Math.min(512, Math.floor(bytes.length / size));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const e = readEntry(view, bytes, i * size, i, l);
      const typeOk = e.type >= 0 && e.type < UT_TYPES.length;
      const timeOk = e.tvUsec >= 0 && e.tvUsec < 1_000_000 && e.tvSec >= 0 && e.tvSec < 2 ** 32;
      const sessionOk = e.session >= -(2 ** 31) && e.session < 2 ** 31;
      if (!typeOk || !timeOk || !sessionOk || e.pid < 0) total -= 1;
      else if (e.type !== 0 && e.tvSec > 0) total += 1;
    }
    return total;
  };
  return score('aarch64') > score('x86_64') ? 'aarch64' : 'x86_64';
}

const utf8Lossy = new TextDecoder('utf-8', { fatal: false });

function cString(bytes: Uint8Array, offset: number, length: number): string {
  let end = offset;
  const stop = Math.min(offset + length, bytes.length);
  let ascii = true;
  while (end < stop && bytes[end] !== 0) {
    if ((bytes[end] ?? 0) >= 0x80) ascii = false;
    end++;
  }
  if (end === offset) return '';
  // ASCII (every real user, line and host seen) needs no UTF-8 decoder
  return ascii ? String.fromCharCode(...bytes.subarray(offset, end)) : utf8Lossy.decode(bytes.subarray(offset, end));
}

function readEntry(view: DataView, bytes: Uint8Array, offset: number, index: number, layout: UtmpLayout): UtmpEntry {
  const type = view.getInt16(offset, true);
  const is64 = layout === 'aarch64';
  const session = is64 ? Number(view.getBigInt64(offset + 336, true)) : view.getInt32(offset + 336, true);
  const tvSec = is64 ? Number(view.getBigInt64(offset + 344, true)) : view.getUint32(offset + 340, true);
  const tvUsec = is64 ? Number(view.getBigInt64(offset + 352, true)) : view.getInt32(offset + 344, true);
  const addrOffset = offset + (is64 ? 360 : 348);
  const entry: UtmpEntry = {
    index,
    offset,
    type,
    typeName: UT_TYPES[type] ?? `UNKNOWN(${type})`,
    pid: view.getInt32(offset + 4, true),
    line: cString(bytes, offset + 8, 32),
    id: cString(bytes, offset + 40, 4),
    user: cString(bytes, offset + 44, 32),
    host: cString(bytes, offset + 76, 256),
    exitTermination: view.getInt16(offset + 332, true),
    exitStatus: view.getInt16(offset + 334, true),
    session,
    tvSec,
    tvUsec,
    addr: addressText(bytes.subarray(addrOffset, addrOffset + 16)),
  };
  if (tvSec > 0 && tvSec <= 253402300799 && tvUsec >= 0 && tvUsec < 1_000_000) {
    entry.time = formatTimestamp(tvSec * 1000 + Math.floor(tvUsec / 1000), tvUsec % 1000);
  }
  return entry;
}

/** ut_addr_v6 (four 32-bit words in network order) as text, the way utmpdump decides IPv4 vs IPv6 (and glibc's inet_ntop writes IPv6). */
export function addressText(addr: Uint8Array): string {
  if (addr.length < 16 || addr.every((b) => b === 0)) return '';
  if (addr.subarray(4).every((b) => b === 0)) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((addr[i] ?? 0) << 8) | (addr[i + 1] ?? 0));
  // RFC 5952: compress the longest run (≥ 2) of zero words
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  // an IPv4-compatible (::a.b.c.d) or IPv4-mapped (::ffff:a.b.c.d) address ends in dotted quad, as inet_ntop writes it
  if (bestStart === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
    return `::${bestLen === 5 ? 'ffff:' : ''}${addr[12]}.${addr[13]}.${addr[14]}.${addr[15]}`;
  }
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function toLogonRecords(entries: UtmpEntry[], opts: UtmpOptions, records: DerivedRecord<'auth.logon'>[]): void {
  // open sessions by line (and pid), to name the user of a DEAD_PROCESS logoff
  const open = new Map<string, UtmpEntry>();
  for (const e of entries) {
    const base = (): PayloadOf<'auth.logon'> => {
      const p: PayloadOf<'auth.logon'> = {
        derived_from: opts.derivedFrom,
        parser: WTMP_PARSER,
        service: opts.source,
        action: 'logon',
        success: true,
      };
      if (e.time !== undefined) p.event_time = e.time;
      if (e.pid > 0) p.pid = e.pid;
      if (e.line !== '') p.terminal = e.line;
      const extra: Record<string, string> = {
        ut_type: e.typeName,
        record_index: String(e.index),
        offset: String(e.offset),
      };
      if (e.id !== '') extra['ut_id'] = e.id;
      if (e.session !== 0) extra['session'] = String(e.session);
      if (e.exitTermination !== 0 || e.exitStatus !== 0) extra['exit'] = `${e.exitTermination}/${e.exitStatus}`;
      p.extra = extra;
      return p;
    };
    const from = (p: PayloadOf<'auth.logon'>): void => {
      if (e.host !== '') p.from_host = e.host;
      if (e.addr !== '') p.from_ip = e.addr;
    };
    if (opts.source === 'btmp') {
      // lastb's view: every entry naming a user is a failed login attempt
      if (e.user === '' || (e.type !== 6 && e.type !== 7)) continue;
      const p = base();
      p.action = 'failure';
      p.success = false;
      p.user = e.user;
      from(p);
      records.push({ kind: 'auth.logon', payload: p });
      continue;
    }
    if (e.type === 7) {
      const p = base();
      if (e.user !== '') p.user = e.user;
      from(p);
      records.push({ kind: 'auth.logon', payload: p });
      open.set(e.line, e);
    } else if (e.type === 8) {
      const start = open.get(e.line);
      const p = base();
      p.action = 'logoff';
      const user = e.user !== '' ? e.user : start?.user;
      if (user !== undefined && user !== '') p.user = user;
      from(p);
      if (start !== undefined && (e.pid === 0 || start.pid === e.pid || start.pid === 0)) {
        p.extra = { ...p.extra, logon_record_index: String(start.index) };
        if (start.time !== undefined) p.extra['logon_time'] = start.time;
        if (p.from_host === undefined && start.host !== '') p.from_host = start.host;
        if (p.from_ip === undefined && start.addr !== '') p.from_ip = start.addr;
        open.delete(e.line);
      }
      records.push({ kind: 'auth.logon', payload: p });
    }
  }
}

function failure(opts: UtmpOptions, reason: string, detail: string, offset: number): ParseFailure {
  return { parser: WTMP_PARSER, reason, detail, derived_from: opts.derivedFrom, offset };
}
