/**
 * "What ran" and "Where data went" (src/report/activity.ts through the model and both renderers),
 * on a synthetic timeline with a known story on one workstation and its proxy:
 * an auditd execve of zip over /srv/customer-data (read as both a file access and a program run:
 * one run), a USB stick 5 minutes later, a CONNECT of 50 MiB to mega.nz and a POST to an outside
 * address through the proxy, CONNECTs to internal addresses (v4 and IPv4-mapped v6, left out),
 * rclone (a known tool), a program in /tmp (first seen), a Windows file share access, and a
 * hostile 10 MB command line (markup, terminal escapes, a right-to-left override).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TimelineEntry } from '../../src/bundle/timeline.js';
import { buildReportModel, type ReportInput, type ReportModel, type ReportOptions } from '../../src/report/model.js';
import { renderHtml } from '../../src/report/render-html.js';
import { renderMarkdown } from '../../src/report/render-md.js';
import { sensitivePathsOf, toolOf } from '../../src/report/activity.js';
import { GlobSet } from '../../src/report/glob.js';

const WS = 'ws-0147';
const PROXY = 'proxy-1';
const T0 = Date.UTC(2026, 10, 20, 0, 0, 0);
const MIB = 1024 * 1024;

function entry(seq: number, host: string, min: number, kind: string, payload: Record<string, unknown>, message = `${kind} #${seq}`): TimelineEntry {
  const time = new Date(T0 + min * 60_000).toISOString().replace('Z', '000Z');
  return { datetime: time, timestamp_desc: 'Event Time', host, store_id: `store-${host}`, seq, record_sha256: createHash('sha256').update(`${host}/${seq}`).digest('hex'), kind, source: 'derive:test', observed_at: time, message, payload };
}

const HOSTILE_HEAD = `sh -c "echo <script>alert(1)</script> \u001b[2J\u001b]0;pwned\u0007 \u202eexe.txt"`;
const HUGE = `${HOSTILE_HEAD} ${'A'.repeat(10 * MIB)}`;

function story(): TimelineEntry[] {
  const es: TimelineEntry[] = [];
  const ws = (min: number, kind: string, payload: Record<string, unknown>, message?: string): TimelineEntry => {
    const e = entry(es.length, WS, min, kind, { derived_from: [0], parser: 'test', ...payload }, message);
    es.push(e);
    return e;
  };
  const px = (min: number, payload: Record<string, unknown>): TimelineEntry => {
    const e = entry(es.length, PROXY, min, 'net.access', { derived_from: [0], parser: 'squid.native@1', service: 'proxy', client_ip: '192.168.10.47', ...payload });
    es.push(e);
    return e;
  };
  ws(0, 'process.exec', { action: 'start', exe: '/usr/bin/ls', command_line: 'ls -l', auid: '1000', extra: { audit_id: '1:1' } });
  ws(0, 'file.access', { path: '/usr/bin/ls', operation: 'execute', success: true, auid: '1000', extra: { audit_id: '1:1' } });
  // zip over the customer data, two hours in (after the baseline): one execve, two records.
  ws(120, 'file.access', { path: '/usr/bin/zip', operation: 'execute', success: true, auid: '1000', extra: { audit_id: '1:2' } });
  ws(120, 'process.exec', { action: 'start', exe: '/usr/bin/zip', command_line: 'zip -r /tmp/c.zip customer-data', cwd: '/srv', auid: '1000', user: 'alice', parent_exe: '/usr/bin/bash', extra: { audit_id: '1:2' } });
  // An execute audited without a process record of its event: a run too.
  ws(121, 'file.access', { path: '/usr/bin/cp', operation: 'execute', success: true, auid: '1000', extra: { audit_id: '1:3' } });
  ws(125, 'usb.connect', { origin: 'kernel', serial: '4C530001230527110412', vendor_id: '0781', product_id: '5581', manufacturer: 'SanDisk', product: 'Ultra\u001b[8m', mass_storage: true, port: '1-1' });
  // Controls in fields other than command lines (a file name, a user): escaped by the renderers themselves.
  ws(126, 'file.access', { path: '/srv/customer-data/\u202evsc.exe', operation: 'open', success: true, user: 'eve\u001b[2K\rroot' });
  px(130, { method: 'CONNECT', url: 'mega.nz:443', host: 'mega.nz', port: 443, bytes_sent: 50 * MIB, result: 'TCP_TUNNEL', status: '200' });
  px(131, { method: 'POST', url: 'http://203.0.113.5/upload', host: '203.0.113.5', port: 80, bytes_received: 4096, bytes_sent: 300 });
  px(132, { method: 'CONNECT', url: '10.0.0.5:443', host: '10.0.0.5', port: 443, bytes_sent: 90 * MIB });
  px(133, { method: 'CONNECT', url: '[::ffff:192.168.1.9]:443', host: '::ffff:192.168.1.9', port: 443, bytes_sent: 80 * MIB });
  px(134, { method: 'CONNECT', url: 'intranet.example:443', host: 'intranet.example', server_ip: '172.16.0.4', port: 443, bytes_sent: 70 * MIB });
  px(135, { method: 'GET', url: 'http://example.com/', host: 'example.com', bytes_sent: 999 * MIB });
  ws(140, 'process.exec', { action: 'start', exe: '/usr/local/bin/rclone', command_line: 'rclone copy /tmp/c.zip mega:', user: 'alice' });
  ws(141, 'process.exec', { action: 'start', exe: '/tmp/.x/dropper', command_line: '/tmp/.x/dropper', user: 'alice' });
  ws(142, 'process.exec', { action: 'start', exe: '/bin/sh', command_line: HUGE, user: 'alice' }, `program run: /bin/sh ${HUGE.slice(0, 400)}`);
  ws(143, 'net.access', { service: 'smb', client_ip: '192.168.10.47', user: 'alice', share: '\\\\*\\Customers', share_path: '\\??\\C:\\Shares\\Customers', target: 'list.xlsx' });
  return es;
}

const manifest: ReportInput['manifest'] = {
  case: { id: 'IR-EXEC' },
  collector: { host: 'lab', version: 'test', started_at: '2026-11-21T00:00:00.000000Z', key: { fingerprint: 'SHA256:test', public_key: 'AAAA' } },
  hosts: [],
};

function build(extra: Partial<ReportOptions> = {}): { model: ReportModel; entries: TimelineEntry[] } {
  const entries = story();
  return { entries, model: buildReportModel({ manifest, entries }, { generatedAt: '2026-11-23T00:00:00.000000Z', sensitive: ['/srv/customer-data/**'], ...extra }) };
}

describe('What ran', () => {
  const { model, entries } = build();
  const bySeq = (host: string, seq: number): TimelineEntry => entries.find((e) => e.host === host && e.seq === seq)!;

  it('counts an auditd execve once, and an execute without its process record as a run', () => {
    // ls, zip, cp (file access only), rclone, dropper, sh
    expect(model.ran.runs).toBe(6);
    const zip = model.ran.programs.find((p) => p.exe === '/usr/bin/zip')!;
    expect(zip).toMatchObject({ runs: 1, tool: 'archiver', host: WS, sensitiveRuns: 1, firstSeen: true });
    expect(zip.cites.map((c) => c.kind)).toEqual(['process.exec']);
    expect(model.ran.programs.find((p) => p.exe === '/usr/bin/cp')).toMatchObject({ runs: 1, tool: 'archiver' });
    expect(model.ran.programs.find((p) => p.exe === '/usr/bin/ls')?.firstSeen).toBe(false);
  });

  it('finds the sensitive path in a command line relative to its working folder', () => {
    expect(model.ran.commands).toHaveLength(1);
    expect(model.ran.commands[0]).toMatchObject({ exe: '/usr/bin/zip', parent: '/usr/bin/bash', user: 'alice', paths: ['/srv/customer-data'], command_line: 'zip -r /tmp/c.zip customer-data' });
    const g = new GlobSet(['/srv/customer-data/**']);
    expect(sensitivePathsOf('tar czf out.tgz "/srv/customer-data/a b.csv"', undefined, g)).toEqual(['/srv/customer-data/a b.csv']);
    expect(sensitivePathsOf('rsync --files-from=/srv/customer-data/list x:', undefined, g)).toEqual(['/srv/customer-data/list']);
    expect(sensitivePathsOf('zip -r out.zip /srv/other', '/home/alice', g)).toEqual([]);
    // Windows (4688 / Sysmon 1 command lines): a quoted program path is skipped, a folder argument matches a backslash glob.
    const w = new GlobSet(['C:\\Shares\\Customers\\**']);
    expect(sensitivePathsOf('"C:\\Program Files\\7-Zip\\7z.exe" a C:\\Users\\sato\\out.7z C:\\Shares\\Customers\\', undefined, w)).toEqual(['C:\\Shares\\Customers\\']);
    expect(sensitivePathsOf('robocopy C:\\Shares\\Customers E:\\copy /E', undefined, w)).toEqual(['C:\\Shares\\Customers']);
    expect([toolOf('C:\\Tools\\RClone.EXE'), toolOf('C:\\Windows\\System32\\Robocopy.exe'), toolOf('/usr/bin/anydesk'), toolOf('\\??\\C:\\PSTools\\PsExec64.exe'), toolOf('/usr/bin/vim')]).toEqual(['transfer', 'archiver', 'remote_control', 'remote_exec', undefined]);
    // In a sensitive folder, a relative argument is a path in it; the program name is not.
    expect(sensitivePathsOf('zip -r out.zip .', '/srv/customer-data', g)).toEqual(['/srv/customer-data/out.zip', '/srv/customer-data']);
  });

  it('patterns: archiver then USB, archiver then upload, large upload, known tool, first-seen program, each citing its records', () => {
    const of = (code: string) => model.how.filter((p) => p.code === code);
    const [usb] = of('archive_then_usb');
    expect(usb).toMatchObject({ host: WS, params: { device: '4C530001230527110412', programs: ['zip'], files: ['/srv/customer-data'], users: ['alice'] } });
    const zipRun = entries.find((e) => e.kind === 'process.exec' && e.payload['exe'] === '/usr/bin/zip')!;
    const connect = entries.find((e) => e.kind === 'usb.connect')!;
    expect(usb!.cites.map((c) => [c.host, c.seq, c.sha256])).toEqual([[WS, zipRun.seq, zipRun.record_sha256], [WS, connect.seq, connect.record_sha256]]);
    const ups = of('archive_then_upload');
    expect(ups.map((p) => p.params['destination'])).toEqual(['mega.nz', '203.0.113.5']);
    expect(ups[0]!.cites.at(-1)).toMatchObject({ host: PROXY, sha256: bySeq(PROXY, ups[0]!.cites.at(-1)!.seq).record_sha256 });
    const large = of('large_upload');
    expect(large).toHaveLength(1);
    expect(large[0]!.params).toMatchObject({ destination: 'mega.nz', endpoint: 'mega.nz:443', bytes: 50 * MIB, basis: 'tunnel', client: '192.168.10.47' });
    expect(of('known_tool').map((p) => p.params['exe'])).toEqual(['/usr/local/bin/rclone']);
    expect(of('new_executable').map((p) => p.params['exe'])).toEqual(expect.arrayContaining(['/usr/bin/zip', '/tmp/.x/dropper']));
    expect(of('new_executable').find((p) => p.params['exe'] === '/tmp/.x/dropper')?.params['writable']).toBe(true);
  });

  it('the first run of a host is no first sighting within the baseline', () => {
    const { model: m } = build({ newExecutableBaselineMinutes: 24 * 60 });
    expect(m.how.filter((p) => p.code === 'new_executable').map((p) => p.params['exe'])).toEqual(['/tmp/.x/dropper']);
  });
});

describe('Where data went', () => {
  it('outside uploads and tunnels by bytes; internal ranges (v4, IPv4-mapped v6, a name with an internal address) left out', () => {
    const { model } = build();
    expect(model.went.transfers.map((t) => [t.destination, t.tunnelBytes, t.requestBytes])).toEqual([
      ['mega.nz', 50 * MIB, 0],
      ['203.0.113.5', 0, 4096],
    ]);
    expect(model.went.transfers[0]).toMatchObject({ judgedBy: 'name', clients: ['192.168.10.47'], loggedOn: [PROXY] });
    expect(model.went.shares).toHaveLength(1);
    expect(model.went.shares[0]).toMatchObject({ host: WS, share: '\\\\*\\Customers', user: 'alice', count: 1, targets: ['list.xlsx'] });
  });

  it('the configured ranges and threshold decide', () => {
    const { model } = build({ internalRanges: ['203.0.113.0/24'], uploadThreshold: 100 * MIB });
    // 10.0.0.5 and the mapped 192.168.1.9 are outside now; 203.0.113.5 is inside.
    expect(model.went.transfers.map((t) => t.destination)).toEqual(['10.0.0.5', '::ffff:192.168.1.9', 'intranet.example', 'mega.nz']);
    expect(model.how.filter((p) => p.code === 'large_upload')).toEqual([]);
    expect(model.went).toMatchObject({ internalRanges: ['203.0.113.0/24'], uploadThreshold: 100 * MIB });
  });
});

describe('rendering', () => {
  const { model } = build();
  const pages = { 'md.en': renderMarkdown(model, 'en'), 'md.ja': renderMarkdown(model, 'ja'), 'html.en': renderHtml(model, 'en'), 'html.ja': renderHtml(model, 'ja') };

  it('both languages, both formats: the program, the command line, the serial, the destination and the bytes, cited', () => {
    for (const [name, page] of Object.entries(pages)) {
      for (const needle of ['/usr/bin/zip', 'zip -r /tmp/c.zip customer-data', '4C530001230527110412', 'mega.nz', '52,428,800', '/usr/local/bin/rclone', '203.0.113.5']) expect(page, `${name}: ${needle}`).toContain(needle);
      expect(page, name).toMatch(/ws-0147#3:[0-9a-f]{12}/);
    }
    expect(pages['md.en']).toContain('### What ran');
    expect(pages['md.ja']).toContain('### 実行されたプログラム');
    expect(pages['md.ja']).toContain('### データの送信先');
    expect(pages['html.en']).toContain('archiver on sensitive paths then USB storage');
    expect(pages['html.ja']).toContain('重要ファイルの圧縮・複製後のUSB記憶装置接続');
    expect(pages['md.en']).not.toMatch(/\[(?:p|item|q|tool|bytes)\.[a-z_.]+\]/);
    expect(pages['md.ja']).not.toMatch(/\[(?:p|item|q|tool|bytes)\.[a-z_.]+\]/);
  });

  it('a hostile 10 MB command line: cut with the count of the rest, markup escaped; no control character reaches the page from any field', () => {
    for (const [name, page] of Object.entries(pages)) {
      expect(page.length, name).toBeLessThan(1_000_000);
      expect(page, name).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202e]/);
      expect(page, name).toContain('\\x1b[2J');
      expect(page, name).toContain('\\u202e');
      expect(page, name).toMatch(/… \[\+10,48\d,\d{3}\]/);
    }
    expect(pages['html.en']).not.toContain('<script>alert(1)');
    expect(pages['html.en']).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // Markdown: as text, backslash-escaped; in a code span (the command line), inert by CommonMark.
    expect(pages['md.en']).toContain('\\<script\\>alert(1)');
    expect(pages['md.en'].replace(/`[^`]*`/g, '')).not.toContain('<script>');
  });
});
