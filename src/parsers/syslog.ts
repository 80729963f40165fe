/**
 * Syslog framing: splits one log line into time, host, program, pid and message, whatever the
 * writer was (classic BSD syslog RFC 3164, rsyslog's high-precision ISO 8601 file format, RFC 5424,
 * the forward formats with a `<PRI>` in front, `journalctl -o json` export lines). Pure: no I/O, no
 * clock. A year-less RFC 3164 date gets its year from the context (the file's time, and the year the
 * previous line of the same file was given, so a December → January rollover inside a file moves to
 * the next year), and says how in `timeNote`.
 *
 * Never throws: anything that is not a syslog header comes back as `format: 'unknown'` (or as a
 * continuation of the previous message when it follows one).
 */

export type SyslogFormat = 'rfc3164' | 'rfc5424' | 'rsyslog-iso' | 'journal-json' | 'unknown';

export interface SyslogContext {
  /** RFC 3339 time the line is known not to be (much) later than: the file's mtime or the line's observed_at. */
  referenceTime?: string;
  /** Year the previous RFC 3164 line of the same file was given, and its month (1-12). */
  previousYear?: number;
  previousMonth?: number;
  /** The previous line's frame (same file), so that a continuation line can inherit its header. */
  previous?: SyslogFrame;
  /** Offset from UTC, in minutes, of year-less local timestamps. Absent: the zone is unknown and UTC is assumed (and noted). */
  utcOffsetMinutes?: number;
}

export interface SyslogFrame {
  /** When, per the line: UTC RFC 3339 with microseconds. */
  time?: string;
  /** How `time` was derived when the line left something out (year, zone), or why it is missing. */
  timeNote?: string;
  host?: string;
  program?: string;
  pid?: number;
  /** The message, leading white space removed (the preserved raw line keeps it). */
  message: string;
  format: SyslogFormat;
  /** A line that carries on the previous message (it inherits that message's header fields). */
  continuation?: boolean;
  /** `last message repeated N times` / rsyslog's `message repeated N times: [...]`. */
  repeated?: number;
  /** `<PRI>` when the line had one (0-191); journal lines: facility*8+severity when both are given. */
  priority?: number;
  /** Severity word where the format names one (ChromeOS `INFO`, macOS `<Info>`, journal PRIORITY). */
  severity?: string;
  /** RFC 5424 MSGID and STRUCTURED-DATA when present. */
  msgid?: string;
  structuredData?: string;
  /** RFC 3164: the year given and the month, for the next line's context. */
  year?: number;
  month?: number;
  /** journal-json: every string field (byte arrays decoded as UTF-8, lossy; the raw line keeps the bytes). */
  journal?: Record<string, string>;
}

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 1, Feb: 2, Mar: 3, Apr: 4, May: 5, Jun: 6, Jul: 7, Aug: 8, Sep: 9, Oct: 10, Nov: 11, Dec: 12,
};
const MONTH_NAMES = ['', 'Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
const SEVERITY_WORDS = new Set(['EMERG', 'ALERT', 'CRIT', 'ERR', 'ERROR', 'WARNING', 'WARN', 'NOTICE', 'INFO', 'DEBUG']);
/** A year-less local time may be this far after the reference time (unknown zone, small clock skew). */
const SLACK_MS = 26 * 3600 * 1000;
const MAX_MS = 253402300799999; // 9999-12-31T23:59:59.999Z

const RE_3164 = /^(?:<(\d{1,3})>)?([A-Z][A-Za-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(:?)(?: +|$)/;
const RE_ISO = /^(?:<(\d{1,3})>)?(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?(?: +|$)/;
const RE_5424 = /^<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+)(?: |$)/;
const RE_TAG = /^([^\s[\]:]{1,256})(?:\[(\d{0,19})\])?(?: <([A-Za-z]{1,16})>)?:(?: +|$)/;
const RE_REPEAT_3164 = /^(?:--- )?last message repeated (\d{1,12}) times?(?: ---)?$/;
const RE_REPEAT_RSYSLOG = /^message repeated (\d{1,12}) times?: \[/;

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Milliseconds since the epoch for a UTC calendar time, or NaN when a field is out of range (e.g. Feb 29 of 2025). */
export function utcMillis(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  if (!(year >= 0 && year <= 9999 && month >= 1 && month <= 12 && day >= 1)) return NaN;
  if (!(hour <= 23 && minute <= 59 && second <= 59 && hour >= 0 && minute >= 0 && second >= 0)) return NaN;
  const dim = month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month] ?? 0);
  if (day > dim) return NaN;
  return daysFromCivil(year, month, day) * 86400000 + ((hour * 60 + minute) * 60 + second) * 1000;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** Formats whole-second epoch milliseconds plus a fraction (up to 9 digits, truncated to 6) as record time. */
function formatTime(ms: number, fraction: string | undefined): string | undefined {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_MS) return undefined;
  const micros = fraction === undefined ? '000000' : fraction.length === 6 ? fraction : fraction.slice(0, 6).padEnd(6, '0');
  // civil_from_days (H. Hinnant)
  const days = Math.floor(ms / 86400000);
  let secs = Math.floor((ms - days * 86400000) / 1000);
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const h = Math.floor(secs / 3600);
  secs -= h * 3600;
  const mi = Math.floor(secs / 60);
  const s = secs - mi * 60;
  return `${String(y).padStart(4, '0')}-${pad2(m)}-${pad2(d)}T${pad2(h)}:${pad2(mi)}:${pad2(s)}.${micros}Z`;
}

let refCacheKey: string | undefined;
let refCacheMs = NaN;
/** Date.parse with a one-entry cache: consecutive lines share their reference time. */
function parseRef(t: string | undefined): number {
  if (t === undefined) return NaN;
  if (t !== refCacheKey) {
    refCacheKey = t;
    refCacheMs = Date.parse(t);
  }
  return refCacheMs;
}

function parsePriority(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  return n <= 191 ? n : undefined;
}

function parsePid(s: string | undefined): number | undefined {
  if (s === undefined || s === '' || !/^\d{1,15}$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function zoneNote(offsetMinutes: number | undefined): string {
  if (offsetMinutes === undefined) return 'local time, zone unknown, read as UTC';
  const sign = offsetMinutes < 0 ? '-' : '+';
  const a = Math.abs(offsetMinutes);
  return `local time read as UTC${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

interface YearChoice {
  year?: number;
  note: string;
}

/**
 * The year of a year-less date. With a previous line: that line's year, plus one when the month went
 * backwards (December → January), unless that puts the line after the reference time. Otherwise (and
 * then): the latest year in which the date exists and is not after the reference time.
 */
function inferYear(month: number, day: number, h: number, mi: number, s: number, ctx: SyslogContext): YearChoice {
  const offsetMs = (ctx.utcOffsetMinutes ?? 0) * 60000;
  const refMs = parseRef(ctx.referenceTime);
  const at = (y: number): number => utcMillis(y, month, day, h, mi, s) - offsetMs;
  const notAfterRef = (ms: number): boolean => Number.isNaN(refMs) || ms <= refMs + SLACK_MS;
  const prevYear = ctx.previousYear;
  let conflict = '';
  if (prevYear !== undefined && Number.isSafeInteger(prevYear) && prevYear >= 0 && prevYear <= 9999) {
    const prevMonth = ctx.previousMonth ?? month;
    const rolled = month < prevMonth;
    const y = rolled ? prevYear + 1 : prevYear;
    const ms = at(y);
    if (!Number.isNaN(ms) && notAfterRef(ms)) {
      return {
        year: y,
        note: rolled
          ? `year ${y} inferred: rollover from ${MONTH_NAMES[prevMonth] ?? '?'} ${prevYear} to ${MONTH_NAMES[month] ?? '?'}`
          : `year ${y} inferred from the previous line`,
      };
    }
    conflict = Number.isNaN(ms)
      ? `; ${MONTH_NAMES[month] ?? '?'} ${day} does not exist in ${y}`
      : `; the previous line's year ${y} would put it after the reference time`;
  }
  if (Number.isNaN(refMs)) return { note: `year unknown: no reference time${conflict}` };
  const refYear = new Date(refMs + offsetMs).getUTCFullYear();
  for (let y = refYear + 1; y >= refYear - 8 && y >= 0; y--) {
    const ms = at(y);
    if (Number.isNaN(ms) || !notAfterRef(ms)) continue;
    // The first candidate that is not after the reference time (refYear + 1 only within the slack).
    let skipped = y < refYear && Number.isNaN(at(refYear)) ? `; ${MONTH_NAMES[month] ?? '?'} ${day} does not exist in ${refYear}` : '';
    if (skipped === conflict) skipped = '';
    return { year: y, note: `year ${y} inferred from reference time ${ctx.referenceTime ?? ''}${skipped}${conflict}` };
  }
  return { note: `year unknown: no year near the reference time has ${MONTH_NAMES[month] ?? '?'} ${day}${conflict}` };
}

/** host (optional) and `program[pid]:` tag after a timestamp. */
function splitHostAndTag(rest: string, frame: SyslogFrame, hostKnownAbsent: boolean, allowSeverityWord: boolean): void {
  let body = rest;
  if (!hostKnownAbsent) {
    const sp = body.indexOf(' ');
    const token = sp < 0 ? body : body.slice(0, sp);
    // `kernel: …` / `sshd[3]: …` right after the time: no host field.
    const tokenIsTag = token.endsWith(':') && RE_TAG.test(token + ' ');
    if (!tokenIsTag && token !== '') {
      if (allowSeverityWord && SEVERITY_WORDS.has(token) && sp >= 0 && RE_TAG.test(body.slice(sp + 1))) {
        frame.severity = token.toLowerCase();
      } else {
        frame.host = token;
      }
      body = sp < 0 ? '' : body.slice(sp + 1);
    }
  }
  const tag = RE_TAG.exec(body);
  if (tag) {
    frame.program = tag[1];
    const pid = parsePid(tag[2]);
    if (pid !== undefined) frame.pid = pid;
    if (tag[3] !== undefined) frame.severity = tag[3].toLowerCase();
    body = body.slice(tag[0].length);
  }
  frame.message = body.trimStart();
}

function noteRepeats(frame: SyslogFrame): void {
  const a = RE_REPEAT_3164.exec(frame.message) ?? RE_REPEAT_RSYSLOG.exec(frame.message);
  if (a) {
    const n = Number(a[1]);
    if (Number.isSafeInteger(n)) frame.repeated = n;
  }
}

function parse3164(m: RegExpExecArray, text: string, ctx: SyslogContext): SyslogFrame {
  const frame: SyslogFrame = { message: '', format: 'rfc3164' };
  const pri = parsePriority(m[1]);
  if (pri !== undefined) frame.priority = pri;
  const month = MONTHS[m[2] ?? ''] ?? 0;
  const day = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = Number(m[6]);
  const valid = !Number.isNaN(utcMillis(2000, month, day, h, mi, s)); // 2000 is a leap year: Feb 29 passes here
  if (!valid) {
    frame.timeNote = 'invalid date or time';
  } else {
    const choice = inferYear(month, day, h, mi, s, ctx);
    if (choice.year !== undefined) {
      const ms = utcMillis(choice.year, month, day, h, mi, s) - (ctx.utcOffsetMinutes ?? 0) * 60000;
      const t = formatTime(ms, m[7]);
      if (t !== undefined) {
        frame.time = t;
        frame.year = choice.year;
        frame.month = month;
      }
    }
    frame.timeNote = `${choice.note}; ${zoneNote(ctx.utcOffsetMinutes)}`;
  }
  splitHostAndTag(text.slice(m[0].length), frame, m[8] === ':', false);
  noteRepeats(frame);
  return frame;
}

/** An ISO 8601 / RFC 3339 timestamp with a zone, as record time; undefined when it is not one. */
export function isoToRecordTime(y: string, mo: string, d: string, h: string, mi: string, s: string, frac: string | undefined, zone: string): string | undefined {
  const base = utcMillis(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(base)) return undefined;
  let offset = 0;
  if (zone !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    offset = (oh * 60 + om) * (zone.startsWith('-') ? -1 : 1);
  }
  return formatTime(base - offset * 60000, frac);
}

const RE_ISO_TOKEN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

function offsetZone(minutes: number | undefined): string {
  const m = minutes ?? 0;
  if (m === 0 || !Number.isInteger(m) || Math.abs(m) > 23 * 60 + 59) return 'Z';
  const a = Math.abs(m);
  return `${m < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

function parseIso(m: RegExpExecArray, text: string, ctx: SyslogContext): SyslogFrame {
  const frame: SyslogFrame = { message: '', format: 'rsyslog-iso' };
  const pri = parsePriority(m[1]);
  if (pri !== undefined) frame.priority = pri;
  // A zone-less ISO time (some templates leave it out) is local time, like RFC 3164's.
  const zone = m[9] ?? offsetZone(ctx.utcOffsetMinutes);
  const t = isoToRecordTime(m[2] ?? '', m[3] ?? '', m[4] ?? '', m[5] ?? '', m[6] ?? '', m[7] ?? '', m[8], zone);
  if (t === undefined) frame.timeNote = 'invalid date or time';
  else frame.time = t;
  if (m[9] === undefined) frame.timeNote = `${t === undefined ? 'invalid date or time; ' : ''}${zoneNote(ctx.utcOffsetMinutes)}`;
  splitHostAndTag(text.slice(m[0].length), frame, false, true);
  noteRepeats(frame);
  return frame;
}

/** RFC 5424 STRUCTURED-DATA: `-` or one or more `[id k="v" …]` with `\]` `\"` `\\` escapes. Returns its length, or -1. */
function structuredDataLength(s: string): number {
  if (s.startsWith('-')) return 1;
  let i = 0;
  while (s[i] === '[') {
    i++;
    let inQuote = false;
    for (;;) {
      const c = s[i];
      if (c === undefined) return -1;
      if (c === '\\' && inQuote) {
        i += 2;
        continue;
      }
      if (c === '"') inQuote = !inQuote;
      else if (c === ']' && !inQuote) break;
      i++;
    }
    i++;
  }
  return i === 0 ? -1 : i;
}

function parse5424(m: RegExpExecArray, text: string): SyslogFrame | undefined {
  const rest = text.slice(m[0].length);
  const sdLen = structuredDataLength(rest);
  if (sdLen < 0) return undefined;
  const frame: SyslogFrame = { message: '', format: 'rfc5424' };
  const pri = parsePriority(m[1]);
  if (pri === undefined) return undefined;
  frame.priority = pri;
  const ts = m[3] ?? '-';
  if (ts === '-') {
    frame.timeNote = 'no timestamp (NILVALUE)';
  } else {
    const t = RE_ISO_TOKEN.exec(ts);
    const time = t ? isoToRecordTime(t[1] ?? '', t[2] ?? '', t[3] ?? '', t[4] ?? '', t[5] ?? '', t[6] ?? '', t[7], t[8] ?? 'Z') : undefined;
    if (time === undefined) frame.timeNote = 'invalid timestamp';
    else frame.time = time;
  }
  if (m[4] !== '-' && m[4] !== undefined) frame.host = m[4];
  if (m[5] !== '-' && m[5] !== undefined) frame.program = m[5];
  const pid = parsePid(m[6]);
  if (pid !== undefined) frame.pid = pid;
  if (m[7] !== '-' && m[7] !== undefined) frame.msgid = m[7];
  const sd = rest.slice(0, sdLen);
  if (sd !== '-') frame.structuredData = sd;
  let msg = rest.slice(sdLen);
  if (msg.startsWith(' ')) msg = msg.slice(1);
  if (msg.startsWith('\uFEFF')) msg = msg.slice(1);
  frame.message = msg.trimStart();
  noteRepeats(frame);
  return frame;
}

function decodeJournalValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.length <= 1 << 24 && v.every((b) => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b <= 255)) {
    return new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(v as number[]));
  }
  return undefined;
}

function parseJournal(text: string): SyslogFrame | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
  const rec = obj as Record<string, unknown>;
  if (!('MESSAGE' in rec) && !('__REALTIME_TIMESTAMP' in rec)) return undefined;
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec)) {
    const s = decodeJournalValue(v);
    if (s !== undefined) fields[k] = s;
  }
  const frame: SyslogFrame = { message: (fields['MESSAGE'] ?? '').trimStart(), format: 'journal-json', journal: fields };
  const rt = fields['__REALTIME_TIMESTAMP'];
  if (rt !== undefined && /^\d{1,19}$/.test(rt)) {
    const us = BigInt(rt);
    const ms = Number(us / 1000n);
    if (ms <= MAX_MS) {
      const whole = Math.floor(ms / 1000) * 1000;
      frame.time = formatTime(whole, String(Number(us % 1000000n)).padStart(6, '0'));
    } else {
      frame.timeNote = 'invalid __REALTIME_TIMESTAMP';
    }
  } else {
    frame.timeNote = rt === undefined ? 'no __REALTIME_TIMESTAMP' : 'invalid __REALTIME_TIMESTAMP';
  }
  if (frame.time === undefined) delete frame.time;
  if (frame.timeNote === undefined) delete frame.timeNote;
  const host = fields['_HOSTNAME'];
  if (host !== undefined && host !== '') frame.host = host;
  const program = fields['SYSLOG_IDENTIFIER'] ?? fields['_COMM'];
  if (program !== undefined && program !== '') frame.program = program;
  const pid = parsePid(fields['SYSLOG_PID'] ?? fields['_PID']);
  if (pid !== undefined) frame.pid = pid;
  const sev = fields['PRIORITY'];
  if (sev !== undefined && /^[0-7]$/.test(sev)) {
    frame.severity = SEVERITIES[Number(sev)];
    const fac = fields['SYSLOG_FACILITY'];
    if (fac !== undefined && /^\d{1,2}$/.test(fac) && Number(fac) <= 23) frame.priority = Number(fac) * 8 + Number(sev);
  }
  noteRepeats(frame);
  return frame;
}

/** A line that is not a header: a continuation of the previous message when there is one, else unknown. */
function continuationOrUnknown(text: string, ctx: SyslogContext): SyslogFrame {
  const prev = ctx.previous;
  // journalctl JSON has one entry per line: nothing continues one.
  if (prev !== undefined && prev.format !== 'unknown' && prev.format !== 'journal-json') {
    const frame: SyslogFrame = { message: text.trimStart(), format: prev.format, continuation: true };
    if (prev.time !== undefined) frame.time = prev.time;
    if (prev.timeNote !== undefined) frame.timeNote = prev.timeNote;
    if (prev.host !== undefined) frame.host = prev.host;
    if (prev.program !== undefined) frame.program = prev.program;
    if (prev.pid !== undefined) frame.pid = prev.pid;
    if (prev.year !== undefined) frame.year = prev.year;
    if (prev.month !== undefined) frame.month = prev.month;
    return frame;
  }
  return { message: text, format: 'unknown' };
}

/** Frames one syslog line. Never throws. */
export function parseSyslogLine(text: string, ctx: SyslogContext = {}): SyslogFrame {
  try {
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    const c0 = line.charCodeAt(0);
    if (c0 === 0x7b /* { */) {
      const j = parseJournal(line);
      if (j !== undefined) return j;
    } else if (c0 === 0x3c /* < */) {
      const m5 = RE_5424.exec(line);
      if (m5) {
        const f = parse5424(m5, line);
        if (f !== undefined) return f;
      }
    }
    if ((c0 >= 0x30 && c0 <= 0x39) || c0 === 0x3c) {
      const mi = RE_ISO.exec(line);
      if (mi) return parseIso(mi, line, ctx);
    }
    if ((c0 >= 0x41 && c0 <= 0x5a) || c0 === 0x3c) {
      const m3 = RE_3164.exec(line);
      if (m3) {
        if (MONTHS[m3[2] ?? ''] !== undefined) return parse3164(m3, line, ctx);
        // `MMM 22 07:54:32 host …`: a header whose month is not a month. Not a continuation.
        return { message: line, format: 'unknown', timeNote: `not a month: ${JSON.stringify(m3[2] ?? '')}` };
      }
    }
    return continuationOrUnknown(line, ctx);
  } catch (err) {
    // Defensive: nothing above should throw, but a framing bug must never lose a line.
    return { message: text, format: 'unknown', timeNote: `framing error: ${err instanceof Error ? err.message : String(err)}` };
  }
}

const RE_FORWARD_SPLIT = /<\d{1,3}>(?=\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} |\d{1,2} \d{4}-\d{2}-\d{2}T)/g;

/**
 * rsyslog's forward formats written to a file without newlines put several `<PRI>…` messages on one
 * line. Splits such a line at every `<PRI>` that starts a syslog header (a `<PRI>` inside a message
 * followed by anything else stays). A line with no such split comes back as itself.
 */
export function splitSyslogMessages(text: string): string[] {
  if (text.indexOf('<') < 0) return [text];
  const starts: number[] = [];
  RE_FORWARD_SPLIT.lastIndex = 0;
  for (let m = RE_FORWARD_SPLIT.exec(text); m !== null; m = RE_FORWARD_SPLIT.exec(text)) starts.push(m.index);
  if (starts.length === 0 || (starts.length === 1 && starts[0] === 0)) return [text];
  const out: string[] = [];
  if (starts[0] !== 0) out.push(text.slice(0, starts[0]));
  for (let i = 0; i < starts.length; i++) out.push(text.slice(starts[i], starts[i + 1] ?? text.length));
  return out;
}

/** What a restore() took from a saved context, and what it left out because it did not understand it. */
export interface RestoreCounts {
  restored: number;
  ignored: number;
}

/**
 * What a framer carries from one line to the next that is worth keeping across a restart: the year
 * and month of the last RFC 3164 line, so that a December → January rollover is still seen when the
 * restart falls between the two lines. Plain JSON.
 */
export interface SyslogFramerContext {
  year: number;
  month: number;
}

export interface SyslogFramer {
  frame(text: string, referenceTime: string | undefined): SyslogFrame[];
  /** The year context, or undefined when no RFC 3164 line has been given a year yet. */
  context(): SyslogFramerContext | undefined;
  /** Takes a context from context() (for a fresh framer); anything else is ignored and counted, never thrown. */
  restore(ctx: unknown): RestoreCounts;
}

/** A year and month the framer itself could have produced (inferYear only uses years 0-9999). */
function readFramerContext(ctx: unknown): SyslogFramerContext | undefined {
  if (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx)) return undefined;
  const { year, month } = ctx as { year?: unknown; month?: unknown };
  if (typeof year !== 'number' || !Number.isInteger(year) || year < 0 || year > 9999) return undefined;
  if (typeof month !== 'number' || !Number.isInteger(month) || month < 1 || month > 12) return undefined;
  return { year, month };
}

/**
 * Frames the lines of one file in order, carrying the year and the previous frame from line to line.
 * `referenceTime` per line (the file's mtime, or the line's observed_at).
 *
 * Only the year context survives context()/restore(): the previous frame holds a whole message (up to
 * a joined line's 1 MiB, and every journal field), too much to save at every finish for every file,
 * and all it is for is a continuation line, which right after a restart is then read on its own.
 */
export function createSyslogFramer(options: { utcOffsetMinutes?: number } = {}): SyslogFramer {
  let previous: SyslogFrame | undefined;
  let previousYear: number | undefined;
  let previousMonth: number | undefined;
  return {
    frame(text, referenceTime) {
      const out: SyslogFrame[] = [];
      for (const part of splitSyslogMessages(text)) {
        const ctx: SyslogContext = {};
        if (referenceTime !== undefined) ctx.referenceTime = referenceTime;
        if (previousYear !== undefined) ctx.previousYear = previousYear;
        if (previousMonth !== undefined) ctx.previousMonth = previousMonth;
        if (previous !== undefined) ctx.previous = previous;
        if (options.utcOffsetMinutes !== undefined) ctx.utcOffsetMinutes = options.utcOffsetMinutes;
        const f = parseSyslogLine(part, ctx);
        if (f.format === 'rfc3164' && !f.continuation && f.year !== undefined) {
          previousYear = f.year;
          previousMonth = f.month;
        }
        previous = f;
        out.push(f);
      }
      return out;
    },
    context() {
      if (previousYear === undefined || previousMonth === undefined) return undefined;
      return { year: previousYear, month: previousMonth };
    },
    restore(ctx) {
      let c: SyslogFramerContext | undefined;
      try {
        c = readFramerContext(ctx);
      } catch {
        c = undefined; // not plain JSON (a getter that throws)
      }
      if (c === undefined) return { restored: 0, ignored: 1 };
      previousYear = c.year;
      previousMonth = c.month;
      return { restored: 1, ignored: 0 };
    },
  };
}
