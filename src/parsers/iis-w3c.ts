/**
 * IIS (and other W3C extended) access logs → `net.access`. A W3C log says what its columns are in
 * a `#Fields:` directive, and IIS writes the directives again whenever it restarts the file's
 * header (a service restart, a configuration change), possibly with other columns: so the parser
 * keeps the current `#Fields:` as per-file line state, and that state is what a restarted deriver
 * must get back ({@link W3cContext}). Data lines before any `#Fields:` cannot be read and are
 * named failures, never guessed.
 *
 * Values are space-separated and `-` means missing. IIS writes a space inside a value as `+` but
 * leaves a real `+` as it is (`bingbot/2.0;++http://…` was `bingbot/2.0; +http://…`), so the two
 * cannot be told apart: every value, user agents included, is kept as written. `date time` are UTC in IIS's W3C format (the spec says
 * so); other producers may differ, which `time_note` says. Pure, never throws.
 */
import { formatTimestamp, type PayloadOf } from '../records/schema.js';
import type { DerivedRecord, ParseFailure, ParseOutput, SourceLine } from './types.js';

export const W3C_PARSER = 'iis-w3c@1';

/** Columns of one `#Fields:` directive are at most this many (IIS has 21 standard ones plus custom). */
const MAX_FIELDS = 128;
const MAX_FIELD_NAME = 256;

/** What a restarted parser needs: the columns of the last `#Fields:` seen. */
export interface W3cContext {
  fields: string[];
  /** The `#Software:` of the header those fields came with, when it had one. */
  software?: string;
}

export function isW3cDirective(text: string): boolean {
  return /^#(?:Software|Version|Date|Fields|Start-Date|End-Date|Remark):/.test(text);
}

export interface W3cParser {
  /** Whether this file has shown a W3C directive (its data lines are this parser's). */
  readonly active: boolean;
  push(line: SourceLine): ParseOutput;
  context(): W3cContext | undefined;
  /** Takes a context from context(); false (and nothing taken) when it is not one. */
  restore(ctx: unknown): boolean;
}

function failure(reason: string, detail: string, line: SourceLine): ParseFailure {
  return { parser: W3C_PARSER, reason, detail, derived_from: [line.seq] };
}

const dash = (v: string | undefined): string | undefined => (v === undefined || v === '-' || v === '' ? undefined : v);

function uint(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
}

export function createW3cParser(): W3cParser {
  let fields: string[] | undefined;
  let active = false;
  let software: string | undefined;

  function readFields(text: string, line: SourceLine, out: ParseOutput): void {
    const names = text.slice('#Fields:'.length).trim().split(/\s+/).filter((f) => f !== '');
    if (names.length === 0 || names.length > MAX_FIELDS || names.some((n) => n.length > MAX_FIELD_NAME)) {
      fields = undefined;
      out.failures.push(failure('w3c.bad_fields', `a #Fields: directive of ${names.length} columns that cannot be used; data lines until the next one are not read`, line));
      return;
    }
    fields = names;
  }

  function dataLine(text: string, line: SourceLine, out: ParseOutput): void {
    if (fields === undefined) {
      out.failures.push(failure('w3c.no_fields', 'a data line before any usable #Fields: directive: its columns are unknown', line));
      return;
    }
    const values = text.split(' ');
    if (values.length !== fields.length) {
      out.failures.push(failure('w3c.field_count', `${values.length} values for the ${fields.length} columns of the current #Fields:`, line));
      return;
    }
    const v = new Map<string, string>();
    fields.forEach((name, i) => v.set(name.toLowerCase(), values[i]!));
    const get = (name: string): string | undefined => dash(v.get(name));
    const payload: PayloadOf<'net.access'> = { derived_from: [line.seq], parser: W3C_PARSER, service: 'http' };
    const extra: Record<string, string> = { fields: fields.join(' ') };
    const date = get('date');
    const time = get('time');
    if (date !== undefined && time !== undefined) {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
      const t = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(time);
      if (m !== null && t !== null) {
        const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(t[1]), Number(t[2]), Number(t[3]), Number((t[4] ?? '0').padEnd(3, '0')));
        const d = new Date(ms);
        if (Number.isFinite(ms) && d.getUTCDate() === Number(m[3]) && Number(t[1]) < 24 && Number(t[2]) < 60 && Number(t[3]) < 61) {
          payload.event_time = formatTimestamp(ms);
          if (software === undefined || !software.includes('Microsoft Internet Information Services')) {
            payload.time_note = 'read as UTC, as IIS writes W3C logs; this file does not say it is from IIS';
          }
        }
      }
    }
    const client = get('c-ip');
    if (client !== undefined) payload.client_ip = client;
    const user = get('cs-username');
    if (user !== undefined) payload.user = user;
    const method = get('cs-method');
    if (method !== undefined) payload.method = method;
    const stem = get('cs-uri-stem');
    const query = get('cs-uri-query');
    if (stem !== undefined) payload.url = query !== undefined ? `${stem}?${query}` : stem;
    const host = get('cs-host');
    if (host !== undefined) payload.host = host;
    const port = uint(get('s-port'));
    if (port !== undefined && port <= 65535) payload.port = port;
    const server = get('s-ip');
    if (server !== undefined) payload.server_ip = server;
    const protocol = get('cs-version');
    if (protocol !== undefined) payload.protocol = protocol;
    const status = get('sc-status');
    if (status !== undefined) payload.status = status;
    const sent = uint(get('sc-bytes'));
    if (sent !== undefined) payload.bytes_sent = sent;
    const received = uint(get('cs-bytes'));
    if (received !== undefined) payload.bytes_received = received;
    const ua = get('cs(user-agent)');
    if (ua !== undefined) payload.user_agent = ua;
    const ref = get('cs(referer)');
    if (ref !== undefined) payload.referrer = ref;
    const taken = uint(get('time-taken'));
    if (taken !== undefined) payload.duration_ms = taken;
    for (const [k, name] of [['sc-substatus', 'substatus'], ['sc-win32-status', 'win32_status'], ['s-sitename', 'site'], ['s-computername', 'computer']] as const) {
      const x = get(k);
      if (x !== undefined) extra[name] = x;
    }
    if (software !== undefined) extra['software'] = software;
    payload.extra = extra;
    out.records.push({ kind: 'net.access', payload } satisfies DerivedRecord<'net.access'>);
  }

  return {
    get active() {
      return active;
    },
    push(line) {
      const out: ParseOutput = { records: [], failures: [] };
      let text = line.text;
      if (text.endsWith('\n')) text = text.slice(0, -1);
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (text.trim() === '') return out;
      if (text.startsWith('#')) {
        if (!isW3cDirective(text)) return out;
        active = true;
        if (text.startsWith('#Fields:')) readFields(text, line, out);
        else if (text.startsWith('#Software:')) software = text.slice('#Software:'.length).trim();
        return out;
      }
      if (active) dataLine(text, line, out);
      return out;
    },
    context() {
      if (fields === undefined) return undefined;
      return software === undefined ? { fields: [...fields] } : { fields: [...fields], software };
    },
    restore(ctx) {
      const c = ctx as { fields?: unknown; software?: unknown } | null;
      if (typeof c !== 'object' || c === null || !Array.isArray(c.fields)) return false;
      const f = c.fields as unknown[];
      if (f.length === 0 || f.length > MAX_FIELDS || !f.every((x) => typeof x === 'string' && x !== '' && x.length <= MAX_FIELD_NAME && !/\s/.test(x))) return false;
      fields = f as string[];
      if (typeof c.software === 'string' && c.software.length <= MAX_FIELD_NAME) software = c.software;
      active = true;
      return true;
    },
  };
}
