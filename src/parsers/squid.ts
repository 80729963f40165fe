/**
 * Squid's native `access.log` → `net.access` (service `proxy`): which client reached which host
 * through the proxy, how, what came of it, and how many bytes went to the client.
 *
 *   time.ms  elapsed-ms client result/status bytes method URL user hierarchy/peer type
 *
 * Squid pads the elapsed column with spaces, so fields are split on runs of spaces. For CONNECT the
 * URL is `host:port` (the tunnel's destination: what a proxy log says about HTTPS uploads is the
 * host and the bytes, never the path); for other methods the host and port come from the URL.
 * `bytes` is what Squid delivered to the client (`bytes_sent`); the native format does not log the
 * request's size. Pure, never throws.
 */
import { formatTimestamp, type PayloadOf } from '../records/schema.js';
import type { DerivedRecord, ParseFailure, ParseOutput, SourceLine } from './types.js';

export const SQUID_PARSER = 'squid.native@1';

const START = /^\d{9,10}\.\d{3} +\d+ \S+ [A-Z_]+\/\d{3} \d+ [A-Za-z_-]+ /;

export function isSquidLine(text: string): boolean {
  return START.test(text);
}

function failure(reason: string, detail: string, line: SourceLine): ParseFailure {
  return { parser: SQUID_PARSER, reason, detail, derived_from: [line.seq] };
}

/** Host and port of a proxied request: CONNECT's `host:port`, or the URL's authority. */
export function proxyTarget(method: string, url: string): { host?: string; port?: number } {
  let authority: string | undefined;
  if (method === 'CONNECT') authority = url;
  else {
    const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/?#]*@)?([^/?#]+)/.exec(url);
    authority = m?.[1];
  }
  if (authority === undefined) return {};
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(authority);
  if (m === null) return {};
  const host = m[1]!.replace(/^\[|\]$/g, '').toLowerCase();
  const port = m[2] === undefined ? undefined : Number(m[2]);
  return port !== undefined && port <= 65535 ? { host, port } : { host };
}

export function parseSquidLine(line: SourceLine): ParseOutput {
  const out: ParseOutput = { records: [], failures: [] };
  let text = line.text;
  if (text.endsWith('\n')) text = text.slice(0, -1);
  if (text.endsWith('\r')) text = text.slice(0, -1);
  if (!START.test(text)) return out;
  const f = text.trim().split(/ +/);
  if (f.length < 10) {
    out.failures.push(failure('squid.bad_line', `${f.length} fields where the native format has 10`, line));
    return out;
  }
  const [time, elapsed, client, code, bytes, method, url, user, hierarchy, type, ...more] = f as [string, ...string[]];
  const [result, status] = code!.split('/') as [string, string];
  const payload: PayloadOf<'net.access'> = {
    derived_from: [line.seq],
    parser: SQUID_PARSER,
    service: 'proxy',
    client_ip: client!,
    method: method!,
    url: url!,
    result,
    status,
    bytes_sent: Number(bytes),
    duration_ms: Number(elapsed),
  };
  const [sec, ms] = time.split('.').map(Number) as [number, number];
  payload.event_time = formatTimestamp(sec * 1000 + ms);
  const target = proxyTarget(method!, url!);
  if (target.host !== undefined) payload.host = target.host;
  if (target.port !== undefined) payload.port = target.port;
  if (user !== '-') payload.user = user!;
  const extra: Record<string, string> = {};
  const [hier, peer] = hierarchy!.split('/');
  if (hier !== undefined) extra['hierarchy'] = hier;
  if (peer !== undefined && peer !== '-' && peer !== '') {
    extra['peer'] = peer;
    if (hier === 'HIER_DIRECT' || hier === 'DIRECT') payload.server_ip = peer;
  }
  if (type !== '-') extra['content_type'] = type!;
  if (more.length > 0) extra['trailing'] = more.join(' ');
  payload.extra = extra;
  out.records.push({ kind: 'net.access', payload } satisfies DerivedRecord<'net.access'>);
  return out;
}
