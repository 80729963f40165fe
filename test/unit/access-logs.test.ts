/**
 * Access logs → `net.access` through the text dispatch (what the agent and `custody import` run):
 * real samples (lnav's nginx shop log with X-Forwarded-For, plaso's mixed Apache log, lnav's IIS
 * W3C log, plaso's constructed Squid log) and the hostile or odd lines real servers and attackers
 * produce: escaped quotes, broken quoting, IPv6, TLS bytes sent to a plain port, a W3C `#Fields:`
 * that changes mid-file and must survive a restart of the deriver.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLineDeriver, deriveFromLines } from '../../src/derive/lines.js';
import { payloadSchemas, type PayloadOf } from '../../src/records/schema.js';
import type { ParseOutput, SourceLine } from '../../src/parsers/types.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

function toLines(text: string, path = '/var/log/web/access.log', firstSeq = 1): SourceLine[] {
  const parts = text.split('\n');
  if (parts.at(-1) === '') parts.pop();
  return parts.map((t, i) => ({ seq: firstSeq + i, path, text: t, observedAt: '2026-11-23T00:00:00.000000Z' }));
}
function net(o: ParseOutput): PayloadOf<'net.access'>[] {
  return o.records.filter((r) => r.kind === 'net.access').map((r) => payloadSchemas['net.access'].parse(r.payload));
}
const fixture = (rel: string): SourceLine[] => toLines(readFileSync(FIXTURES + rel, 'utf8'), `/import/${rel}`);

describe('Apache / nginx access logs', () => {
  it('lnav shop log (nginx combined + "$http_x_forwarded_for", +0330): 1000 requests, the listed totals', () => {
    const o = deriveFromLines(fixture('lnav/test/logfile_shop_access_log.0'));
    const r = net(o);
    expect(o.failures).toEqual([]);
    expect(r).toHaveLength(1000);
    expect(r.reduce((a, x) => a + x.bytes_sent!, 0)).toBe(18963364);
    const count = (f: (x: PayloadOf<'net.access'>) => unknown): Record<string, number> =>
      r.reduce<Record<string, number>>((a, x) => ((a[String(f(x))] = (a[String(f(x))] ?? 0) + 1), a), {});
    expect(count((x) => x.method)).toEqual({ GET: 976, POST: 14, HEAD: 10 });
    expect(count((x) => x.status)).toEqual({ '200': 938, '404': 24, '302': 20, '301': 11, '304': 7 });
    expect(new Set(r.map((x) => x.client_ip)).size).toBe(101);
    expect(r.filter((x) => x.extra?.['x_forwarded_for'] !== undefined)).toHaveLength(13);
    expect(r[0]).toMatchObject({
      service: 'http',
      client_ip: '54.36.149.41',
      event_time: '2019-01-22T00:26:14.000000Z', // 03:56:14 +0330
      method: 'GET',
      protocol: 'HTTP/1.1',
      status: '200',
      bytes_sent: 30577,
      user_agent: 'Mozilla/5.0 (compatible; AhrefsBot/6.1; +http://ahrefs.com/robot/)',
      derived_from: [1],
    });
    expect(r[0]!.referrer).toBeUndefined(); // "-"
    expect(r[0]!.extra).toMatchObject({ format: 'combined', trailing: '"-"' });
  });

  it('plaso apache_access.log: common, combined and vhost_combined lines; the three with unescaped quotes are named failures', () => {
    const o = deriveFromLines(fixture('plaso/test_data/apache_access.log'));
    const r = net(o);
    expect(r.map((x) => x.derived_from[0])).toEqual([1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 15]);
    expect(o.failures.map((f) => [f.reason, f.derived_from])).toEqual([
      ['access_log.bad_quoting', [8]], // user agent's quote never closes
      ['access_log.bad_quoting', [13]], // <script>alert("text")</script> written unescaped
      ['access_log.bad_quoting', [14]],
    ]);
    expect(r.map((x) => x.extra?.['format'])).toEqual(['common', 'combined', 'combined', 'combined', 'combined', 'combined', 'combined', 'vhost_combined', 'vhost_combined', 'vhost_combined', 'vhost_combined', 'common']);
    expect(r[4]).toMatchObject({ event_time: '2016-01-13T17:31:20.000000Z', url: '/wp-content/themes/darkmode/evil.php?cmd=uname+-a', referrer: 'http://localhost/' });
    expect(r[6]).toMatchObject({ status: '304', bytes_sent: 0 }); // %b "-"
    expect(r[9]).toMatchObject({ host: 'plaso-2.log2timeline.net', port: 443, client_ip: '192.168.0.2' });
    expect(r[11]).toMatchObject({ user: 'pyllyukko@EXAMPLE.COM', event_time: '2019-11-16T07:46:42.000000Z' });
  });

  it('escaped quotes, \\x escapes, IPv6 clients, a non-HTTP request, a vhost without port, user and ident', () => {
    const lines = [
      `2001:db8::7 - - [04/Dec/2026:10:00:00 +0900] "GET /q?x=\\"a b\\" HTTP/1.1" 200 12 "-" "curl/8.5 \\"quoted\\""`,
      `203.0.113.9 - - [04/Dec/2026:10:00:01 +0000] "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03" 400 157 "-" "-"`,
      `intranet.example.co.jp 10.0.0.5 ident1 tanaka [04/Dec/2026:10:00:02 +0900] "PUT /upload/顧客.zip HTTP/2.0" 201 - "-" "rclone/v1.66" "198.51.100.4, 10.0.0.1" 0.532`,
      `198.51.100.2 - - [04/Dec/2026:10:00:03 +0000] "GET /\\xe6\\x97\\xa5 HTTP/1.1" 200 5`,
    ];
    const o = deriveFromLines(toLines(lines.join('\n')));
    expect(o.failures).toEqual([]);
    const r = net(o);
    expect(r[0]).toMatchObject({ client_ip: '2001:db8::7', url: '/q?x="a b"', user_agent: 'curl/8.5 "quoted"', event_time: '2026-12-04T01:00:00.000000Z' });
    expect(r[1]!.method).toBeUndefined();
    expect(r[1]!.extra?.['request']).toBe('\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03'); // not UTF-8: kept as written
    expect(r[2]).toMatchObject({ host: 'intranet.example.co.jp', client_ip: '10.0.0.5', user: 'tanaka', method: 'PUT', url: '/upload/顧客.zip', status: '201', bytes_sent: 0 });
    expect(r[2]!.port).toBeUndefined();
    expect(r[2]!.extra).toMatchObject({ format: 'vhost_combined', ident: 'ident1', x_forwarded_for: '198.51.100.4, 10.0.0.1', trailing: '"198.51.100.4, 10.0.0.1" 0.532' });
    expect(r[3]!.url).toBe('/日');
  });

  it('broken quoting and broken shapes are named failures naming the line, never a crash or a guess', () => {
    const lines = [
      `10.0.0.1 - - [04/Dec/2026:10:00:00 +0000] "GET /a HTTP/1.1 200 5`,
      `10.0.0.1 - - [04/Dec/2026:10:00:00 +0000] "GET /a"b HTTP/1.1" 200 5`,
      `10.0.0.1 - - [04/Dec/2026:10:00:00 +0000] "GET /a HTTP/1.1" abc 5`,
      `10.0.0.1 - - [04/Dec/2026:10:00:00 +0000] "GET /a HTTP/1.1"`,
      `10.0.0.1 - - [31/Feb/2026:25:00:00 +0000] "GET /a HTTP/1.1" 200 5`,
    ];
    const o = deriveFromLines(toLines(lines.join('\n'), '/x', 40));
    expect(o.failures.map((f) => [f.reason, f.derived_from])).toEqual([
      ['access_log.bad_quoting', [40]],
      ['access_log.bad_quoting', [41]],
      ['access_log.bad_line', [42]],
      ['access_log.bad_line', [43]],
    ]);
    const r = net(o);
    expect(r).toHaveLength(1);
    expect(r[0]!.event_time).toBeUndefined();
    expect(r[0]!.extra?.['time_unreadable']).toBeDefined();
  });
});

describe('IIS W3C extended', () => {
  it('lnav w3c_big (11 header blocks): 210 requests, 404 ×202 / 200 ×8, sc-bytes 292031, twelve clients', () => {
    const o = deriveFromLines(fixture('lnav/test/logfile_w3c_big.0'));
    const r = net(o);
    expect(o.failures).toEqual([]);
    expect(r).toHaveLength(210);
    expect(r.reduce((a, x) => a + x.bytes_sent!, 0)).toBe(292031);
    expect(r.filter((x) => x.status === '404')).toHaveLength(202);
    expect(new Set(r.map((x) => x.client_ip)).size).toBe(12);
    expect(r[0]).toMatchObject({
      event_time: '2015-01-13T00:32:17.000000Z',
      server_ip: '100.79.192.81',
      method: 'GET',
      url: '/robots.txt',
      port: 80,
      client_ip: '157.55.39.146',
      user_agent: 'Mozilla/5.0+(compatible;+bingbot/2.0;++http://www.bing.com/bingbot.htm)', // as written: IIS's + is ambiguous
      status: '404',
      bytes_sent: 1405,
      bytes_received: 242,
      duration_ms: 283,
    });
    expect(r[0]!.time_note).toBeUndefined(); // the header says IIS
  });

  const headerA = ['#Software: Microsoft Internet Information Services 10.0', '#Version: 1.0', '#Date: 2026-12-04 01:00:00', '#Fields: date time c-ip cs-username cs-method cs-uri-stem sc-status sc-bytes'];
  const headerB = ['#Software: Microsoft Internet Information Services 10.0', '#Version: 1.0', '#Date: 2026-12-04 02:00:00', '#Fields: date time cs-host cs-method cs-uri-stem cs-uri-query c-ip cs-username sc-status cs-bytes sc-bytes time-taken'];

  it('a #Fields: that changes mid-file: each data line is read with the columns above it', () => {
    const lines = [
      ...headerA,
      '2026-12-04 01:00:05 10.1.2.3 CORP\\sato GET /share/a.xlsx 200 5120',
      ...headerB,
      '2026-12-04 02:00:07 files.example.co.jp POST /upload id=7 10.1.2.3 CORP\\sato 200 73400320 310 8123',
      '2026-12-04 02:00:08 only three values',
    ];
    const o = deriveFromLines(toLines(lines.join('\n'), 'C:/inetpub/logs/u_ex261204.log'));
    const r = net(o);
    expect(r.map((x) => [x.client_ip, x.user, x.method, x.url, x.host, x.status, x.bytes_sent, x.bytes_received, x.duration_ms])).toEqual([
      ['10.1.2.3', 'CORP\\sato', 'GET', '/share/a.xlsx', undefined, '200', 5120, undefined, undefined],
      ['10.1.2.3', 'CORP\\sato', 'POST', '/upload?id=7', 'files.example.co.jp', '200', 310, 73400320, 8123],
    ]);
    expect(o.failures.map((f) => [f.reason, f.derived_from])).toEqual([['w3c.field_count', [11]]]);
  });

  it('the current #Fields: survives a deriver restart (context → restore); without it the data line is a named failure', () => {
    const first = toLines([...headerA, ...headerB].join('\n'), '/logs/u_ex.log', 1);
    const after = toLines('2026-12-04 02:00:07 files.example.co.jp POST /upload - 10.1.2.3 - 200 999 310 12', '/logs/u_ex.log', 100);
    const d1 = createLineDeriver();
    for (const l of first) d1.push(l);
    d1.finish();
    const ctx = JSON.parse(JSON.stringify(d1.context())) as unknown; // as the state database keeps it

    const d2 = createLineDeriver();
    expect(d2.restore(ctx)).toMatchObject({ files: 1, ignored: 0 });
    const r = net(d2.push(after[0]!));
    expect(r.map((x) => [x.host, x.bytes_received, x.bytes_sent, x.time_note])).toEqual([['files.example.co.jp', 999, 310, undefined]]);

    const fresh = createLineDeriver();
    const o = fresh.push(after[0]!);
    expect(net(o)).toEqual([]); // without the header the line is not even recognised as W3C
    const damaged = createLineDeriver();
    expect(damaged.restore({ v: 1, files: [{ path: '/logs/u_ex.log', w3c: { fields: ['date', 'has space'] } }] })).toMatchObject({ files: 0, ignored: 1 });
  });

  it('a data line of a W3C file before any #Fields: is a named failure', () => {
    const o = deriveFromLines(toLines(['#Software: Microsoft Internet Information Services 10.0', '2026-12-04 01:00:05 10.1.2.3 GET / 200'].join('\n')));
    expect(o.failures.map((f) => f.reason)).toEqual(['w3c.no_fields']);
  });
});

describe('Squid native access.log', () => {
  it('plaso squid_access.log (constructed by its author): CONNECT host and port, results, users, IPv6, bytes 69303', () => {
    const o = deriveFromLines(fixture('plaso/test_data/squid_access.log'));
    const r = net(o);
    expect(o.failures).toEqual([]);
    expect(r.map((x) => [x.method, x.host, x.port, x.result, x.status, x.user])).toEqual([
      ['CONNECT', 'domain.xyz', 443, 'TCP_TUNNEL', '200', undefined],
      ['CONNECT', 'domain.xyz', 443, 'TCP_TUNNEL', '200', undefined],
      ['GET', 'example.com', undefined, 'TCP_MISS', '200', 'user1'],
      ['GET', 'example.com', undefined, 'TCP_HIT', '304', undefined],
      ['GET', 'example.com', undefined, 'TCP_MISS', '404', 'admin'],
      ['POST', 'example.com', undefined, 'TCP_DENIED', '403', undefined],
      ['GET', 'cdn.example.com', undefined, 'TCP_REFRESH_HIT', '200', undefined],
      ['CONNECT', 'secure.example.com', 443, 'TCP_TUNNEL', '200', 'user@domain.com'],
    ]);
    expect(r.reduce((a, x) => a + x.bytes_sent!, 0)).toBe(69303);
    expect(r[4]!.client_ip).toBe('2001:db8::1');
    expect(r[7]).toMatchObject({ service: 'proxy', duration_ms: 234, bytes_sent: 54321, server_ip: '10.20.30.40', event_time: '2023-03-04T23:15:40.678000Z' });
    expect(r[7]!.extra).toMatchObject({ hierarchy: 'HIER_DIRECT', peer: '10.20.30.40' });
  });
});

describe('never throws: every cut and quote inserted into real lines', () => {
  it('every prefix of a real line of each format, and a quote or backslash at every position: records valid or named failures', () => {
    const samples = [
      ...readFileSync(`${FIXTURES}plaso/test_data/apache_access.log`, 'utf8').split('\n').slice(0, 12),
      readFileSync(`${FIXTURES}lnav/test/logfile_shop_access_log.0`, 'utf8').split('\n')[1]!,
      readFileSync(`${FIXTURES}plaso/test_data/squid_access.log`, 'utf8').split('\n')[7]!,
    ].filter((l) => l !== '');
    const w3c = readFileSync(`${FIXTURES}lnav/test/logfile_w3c_big.0`, 'utf8').split('\n').slice(0, 6);
    let lines = 0;
    for (const base of [...samples, w3c[4]!]) {
      const variants: string[] = [];
      for (let i = 0; i <= base.length; i++) variants.push(base.slice(0, i), `${base.slice(0, i)}"${base.slice(i)}`, `${base.slice(0, i)}\\${base.slice(i)}`);
      const input = toLines([...w3c.slice(0, 4), ...variants].join('\n'));
      const o = deriveFromLines(input);
      for (const r of o.records) payloadSchemas[r.kind].parse(r.payload);
      lines += input.length;
    }
    expect(lines).toBeGreaterThan(10_000);
  });
});
