/**
 * Web server access logs (Apache httpd and nginx) → `net.access`: the NCSA common and combined
 * formats as the two servers really write them, recognised by shape rather than configured:
 *
 *   [vhost[:port]] client ident user [dd/Mon/yyyy:HH:MM:SS ±hhmm] "request" status bytes
 *     ["referrer" "user agent"] [extra fields…]
 *
 * - a virtual-host field in front (Apache `vhost_common` / `vhost_combined`, `%v` or `%v:%p`);
 * - `-` for missing values (`%b` writes `-` for a body of zero bytes, read as 0);
 * - quoted fields escaped the servers' ways: Apache `\"`, `\\` and `\xhh`; nginx `\xhh` for `"`,
 *   `\` and bytes outside printable ASCII. `\xhh` runs are decoded when they are UTF-8, else kept
 *   as written (the preserved line holds the bytes anyway);
 * - IPv6 clients; requests that are not HTTP (TLS handshakes sent to a plain port) kept in
 *   `extra.request` with no method or URL;
 * - fields after the user agent (nginx's `"$http_x_forwarded_for"`, a request time, a host):
 *   the first quoted one is taken as X-Forwarded-For, as the common nginx format puts it, and all
 *   of them are kept in `extra.trailing`.
 * A line with the shape's start but a quote that never closes, or no status after the request, is
 * a named failure (`access_log.bad_quoting`, `access_log.bad_line`), never a guess. Pure, never throws.
 */
import { formatTimestamp, type PayloadOf } from '../records/schema.js';
import type { DerivedRecord, ParseFailure, ParseOutput, SourceLine } from './types.js';

export const ACCESS_LOG_PARSER = 'access-log.ncsa@1';

/** The cheap test: up to four words, then a bracketed NCSA time. */
const START = /^(?:\S+ ){3,4}\[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] /;
const TIME = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Longest line looked at (Apache caps a request line at 8190 bytes; headers add a few more). */
const MAX_LINE = 65536;

export function isAccessLogLine(text: string): boolean {
  return START.test(text);
}

type Token = { kind: 'word' | 'quoted' | 'bracket'; value: string };

/** Words, "quoted" (with backslash escapes) and [bracketed] fields; undefined when a quote or bracket never closes. */
function tokenize(text: string): Token[] | undefined {
  const out: Token[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    while (i < n && text.charCodeAt(i) === 32) i++;
    if (i >= n) break;
    const c = text[i];
    if (c === '"') {
      // the closing quote is the first one not escaped (preceded by an even number of backslashes)
      let j = i + 1;
      for (;;) {
        j = text.indexOf('"', j);
        if (j < 0) return undefined;
        let backslashes = 0;
        for (let k = j - 1; k > i && text.charCodeAt(k) === 92; k--) backslashes++;
        if (backslashes % 2 === 0) break;
        j++;
      }
      // A quote closes only before a space or the end: `"a"b"` is broken quoting, not two fields.
      if (j + 1 < n && text.charCodeAt(j + 1) !== 32) return undefined;
      out.push({ kind: 'quoted', value: text.slice(i + 1, j) });
      i = j + 1;
    } else if (c === '[') {
      const j = text.indexOf(']', i + 1);
      if (j < 0) return undefined;
      out.push({ kind: 'bracket', value: text.slice(i + 1, j) });
      i = j + 1;
    } else {
      let j = i;
      while (j < n && text.charCodeAt(j) !== 32) j++;
      out.push({ kind: 'word', value: text.slice(i, j) });
      i = j;
    }
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Undoes the servers' escapes: `\"` `\\` always; a run of `\xhh` only when its bytes are UTF-8. */
export function unescapeField(value: string): string {
  if (!value.includes('\\')) return value;
  return value.replace(/((?:\\x[0-9A-Fa-f]{2})+)|\\(["\\])/g, (m, hexRun: string | undefined, ch: string | undefined) => {
    if (ch !== undefined) return ch;
    const bytes = Buffer.from(hexRun!.replace(/\\x/g, ''), 'hex');
    try {
      return utf8.decode(bytes);
    } catch {
      return m;
    }
  });
}

const dash = (v: string | undefined): string | undefined => (v === undefined || v === '-' || v === '' ? undefined : v);

/** NCSA time → UTC record time, or undefined when it is not a real time. */
export function ncsaTime(text: string): string | undefined {
  const m = TIME.exec(text);
  if (m === null) return undefined;
  const month = MONTHS.indexOf(m[2]!);
  if (month < 0) return undefined;
  const [d, y, hh, mm, ss, oh, om] = [m[1], m[3], m[4], m[5], m[6], m[8], m[9]].map(Number) as number[];
  if (d! < 1 || d! > 31 || hh! > 23 || mm! > 59 || ss! > 60 || om! > 59) return undefined;
  const offset = (m[7] === '-' ? -1 : 1) * (oh! * 60 + om!);
  const ms = Date.UTC(y!, month, d!, hh!, mm!, ss!) - offset * 60_000;
  if (!Number.isFinite(ms) || new Date(Date.UTC(y!, month, d!)).getUTCMonth() !== month) return undefined;
  return formatTimestamp(ms);
}

/** `METHOD URL PROTOCOL` as far as it is one. */
export function splitRequest(request: string): { method?: string; url?: string; protocol?: string } {
  const parts = request.split(' ');
  const method = parts[0];
  if (method === undefined || !/^[A-Z][A-Z0-9_-]{0,31}$/.test(method) || parts.length < 2) return {};
  const last = parts[parts.length - 1]!;
  if (parts.length >= 3 && /^HTTP\/\d(?:\.\d)?$/.test(last)) return { method, url: parts.slice(1, -1).join(' '), protocol: last };
  return { method, url: parts.slice(1).join(' ') };
}

/** Splits `host:port` (a vhost field); IPv6 in brackets keeps its brackets off. */
function hostPort(v: string): { host: string; port?: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(v);
  if (m !== null && Number(m[2]) <= 65535) return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  return { host: v };
}

function failure(reason: string, detail: string, line: SourceLine): ParseFailure {
  return { parser: ACCESS_LOG_PARSER, reason, detail, derived_from: [line.seq] };
}

function clip(s: string): string {
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…` : s);
}

/** One access-log line → one `net.access`, or a named failure; nothing for a line of another shape. */
export function parseAccessLogLine(line: SourceLine): ParseOutput {
  const out: ParseOutput = { records: [], failures: [] };
  let text = line.text;
  if (text.endsWith('\n')) text = text.slice(0, -1);
  if (text.endsWith('\r')) text = text.slice(0, -1);
  if (!START.test(text)) return out;
  if (text.length > MAX_LINE) {
    out.failures.push(failure('access_log.line_too_long', `line of ${text.length} characters (limit ${MAX_LINE})`, line));
    return out;
  }
  const tokens = tokenize(text);
  if (tokens === undefined) {
    out.failures.push(failure('access_log.bad_quoting', `a quoted or bracketed field does not close where a field ends: ${clip(text)}`, line));
    return out;
  }
  const timeAt = tokens.findIndex((t) => t.kind === 'bracket');
  const head = tokens.slice(0, timeAt);
  const request = tokens[timeAt + 1];
  const status = tokens[timeAt + 2];
  const bytes = tokens[timeAt + 3];
  if (
    (head.length !== 3 && head.length !== 4) ||
    request?.kind !== 'quoted' ||
    status?.kind !== 'word' ||
    !/^\d{3}$/.test(status.value) ||
    bytes?.kind !== 'word' ||
    !/^(?:\d{1,15}|-)$/.test(bytes.value)
  ) {
    out.failures.push(failure('access_log.bad_line', `not "client ident user [time] \\"request\\" status bytes": ${clip(text)}`, line));
    return out;
  }
  const vhost = head.length === 4 ? head[0]!.value : undefined;
  const [client, ident, user] = head.slice(-3).map((t) => t.value) as [string, string, string];
  const rest = tokens.slice(timeAt + 4);
  const combined = rest.length >= 2 && rest[0]!.kind === 'quoted' && rest[1]!.kind === 'quoted';
  const trailing = combined ? rest.slice(2) : rest;

  const requestText = unescapeField(request.value);
  const req = splitRequest(requestText);
  const payload: PayloadOf<'net.access'> = {
    derived_from: [line.seq],
    parser: ACCESS_LOG_PARSER,
    service: 'http',
    status: status.value,
    bytes_sent: bytes.value === '-' ? 0 : Number(bytes.value),
  };
  const when = ncsaTime(tokens[timeAt]!.value);
  if (when !== undefined) payload.event_time = when;
  if (dash(client) !== undefined) payload.client_ip = client;
  const u = dash(user);
  if (u !== undefined) payload.user = unescapeField(u);
  if (vhost !== undefined && dash(vhost) !== undefined) {
    const hp = hostPort(vhost);
    payload.host = hp.host;
    if (hp.port !== undefined) payload.port = hp.port;
  }
  if (req.method !== undefined) payload.method = req.method;
  if (req.url !== undefined) payload.url = req.url;
  if (req.protocol !== undefined) payload.protocol = req.protocol;
  const extra: Record<string, string> = {
    format: `${vhost !== undefined ? 'vhost_' : ''}${combined ? 'combined' : 'common'}`,
    time: tokens[timeAt]!.value,
  };
  if (when === undefined) extra['time_unreadable'] = 'the bracketed time is not a real date and time';
  if (req.method === undefined) extra['request'] = requestText;
  const id = dash(ident);
  if (id !== undefined) extra['ident'] = id;
  if (combined) {
    const ref = dash(unescapeField(rest[0]!.value));
    if (ref !== undefined) payload.referrer = ref;
    const ua = dash(unescapeField(rest[1]!.value));
    if (ua !== undefined) payload.user_agent = ua;
    const xff = trailing[0]?.kind === 'quoted' ? dash(unescapeField(trailing[0].value)) : undefined;
    if (xff !== undefined) extra['x_forwarded_for'] = xff;
  }
  if (trailing.length > 0) extra['trailing'] = trailing.map((t) => (t.kind === 'quoted' ? `"${t.value}"` : t.kind === 'bracket' ? `[${t.value}]` : t.value)).join(' ');
  payload.extra = extra;
  out.records.push({ kind: 'net.access', payload } satisfies DerivedRecord<'net.access'>);
  return out;
}
