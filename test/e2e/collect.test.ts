/**
 * End-to-end: `custody collect --case` through the built CLI over three stores (one imported, one
 * in a folder of stores, one written by a live `custody agent run` child process during the
 * collection), with a real local TSA; then the bundle is checked by our verify and by independent
 * tools (sha256sum, hashdeep, openssl pkeyutl, openssl ts, tar), packed deterministically, and
 * tampered with one byte at a time: our verify names each change (exit 1), and the independent
 * tools fail where they cover it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packBundle } from '../../collector/bundle-files.js';
import { parseCsv } from '../../src/bundle/csv.js';
import { TIMELINE_CSV_COLUMNS } from '../../src/bundle/timeline.js';
import { startTestTsa, type TestTsa } from '../helpers/tsa-server.js';
import { CLI, custody } from '../helpers/cli.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const AUTH = `${FIX}beats/filebeat/module/system/auth/test/test.log`;
const HASHDEEP_AUDIT = 'hashdeep -c sha256 -r -l -a -k hashdeep.txt manifest.* collector.pem case.jsonld evidence timeline tables report';

let work: string;
let tsa: TestTsa;
let agent: ChildProcess | undefined;
let bundle: string;
let collectorFp: string;

function sh(cmd: string, cwd: string): { code: number | null; out: string } {
  const r = spawnSync('/bin/sh', ['-c', cmd], { cwd, encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}
function runAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until<T>(check: () => T | undefined): Promise<T> {
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    await sleep(100);
  }
}
function flipByte(path: string, offset: number): void {
  const b = readFileSync(path);
  const at = offset < 0 ? b.length + offset : offset;
  b[at] = (b[at] as number) ^ 0x01;
  writeFileSync(path, b);
}

interface BundleJson {
  ok: boolean;
  findings: Array<{ code: string; severity: string; where: string }>;
  tsa: { status: string };
  hosts: Array<{ host: string; witness: { ok: boolean } }>;
}
function verifyJson(path: string, ...extra: string[]): { code: number | null; result: BundleJson } {
  const r = custody('verify', path, '--json', '--tsa-ca', tsa.caCertPath, ...extra);
  return { code: r.code, result: JSON.parse(r.stdout) as BundleJson };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'custody-e2e-collect-'));
  tsa = await startTestTsa();
});
afterAll(async () => {
  if (agent !== undefined && agent.exitCode === null) agent.kill('SIGKILL');
  await tsa.close();
  rmSync(work, { recursive: true, force: true });
});

describe('custody collect --case (built CLI)', () => {
  it('collects three stores (one live) into a bundle that our verify and the independent tools accept', async () => {
    // 1. a store of imported files; 2. an empty store inside a folder of stores; 3. a live agent.
    expect(custody('import', '--store', join(work, 'ws-07'), '--host', 'ws-07', AUTH).code).toBe(0);
    expect(custody('keys', 'init', '--store', join(work, 'fleet', 'db-01'), '--host', 'db-01').code).toBe(0);
    const logs = join(work, 'logs');
    mkdirSync(logs);
    writeFileSync(join(logs, 'app.log'), 'first, "quoted" line\nsecond line\n');
    const live = join(work, 'web-01');
    let stderr = '';
    agent = spawn(process.execPath, [CLI, 'agent', 'run', '--store', live, '--watch', join(logs, '*.log'), '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await until(() => (stderr.includes('"evt":"agent.ready"') ? true : undefined));
    // The agent keeps writing while the collection runs.
    let n = 0;
    const writer = setInterval(() => appendFileSync(join(logs, 'app.log'), `line ${n++} while collecting\n`), 20);

    const key = join(work, 'collector.key');
    const k = custody('keys', 'init', '--out', key, '--name', 'Jane Doe');
    expect(k.code).toBe(0);
    collectorFp = /fingerprint: (SHA256:\S+)/.exec(k.stdout)?.[1] as string;
    bundle = join(work, 'IR-2026-014');
    // Asynchronously: the test TSA answers from this process's event loop.
    const c = await runAsync(
      [CLI, 'collect', '--case', 'IR-2026-014', '--store', join(work, 'ws-07'), '--store', join(work, 'fleet'), '--store', live, '--examiner', 'Jane Doe, ACME IR', '--note', 'first response', '--tsa', tsa.url, '--tsa-ca', tsa.caCertPath, '--key', key, '--out', bundle, '--tar', '--json'],
    );
    clearInterval(writer);
    expect(c.stderr).toContain('collect: snapshot');
    expect(c.stderr.split('\n').filter((l) => l.startsWith('custody:'))).toEqual([]);
    expect(c.status).toBe(0);
    const summary = JSON.parse(c.stdout) as { hosts: Array<{ host: string; verified: boolean; records: number }>; collector: { fingerprint: string }; tar: { path: string }; report: { files: string[] }; audit: { hashdeep: string } };
    expect(summary.collector.fingerprint).toBe(collectorFp);
    // The draft report is written by default, inside the seal, and the printed audit covers it.
    expect(summary.report.files).toEqual(['report/report.md', 'report/report.html', 'report/report.ja.md', 'report/report.ja.html', 'report/report.json']);
    expect(summary.audit.hashdeep).toBe(HASHDEEP_AUDIT);
    expect(summary.hosts).toHaveLength(3);
    expect(summary.hosts.map((h) => h.host)).toEqual(expect.arrayContaining(['db-01', 'ws-07']));
    expect(summary.hosts.every((h) => h.verified)).toBe(true);
    agent.kill('SIGTERM');
    await new Promise((r) => agent?.once('exit', r));

    // Our verify: folder and tar, collector key pinned, TSA root pinned.
    const v = custody('verify', bundle, '--tsa-ca', tsa.caCertPath, '--collector-key', collectorFp);
    expect(v.stdout).toContain('result:       VALID (0 errors, 0 warnings)');
    expect(v.code).toBe(0);
    // Untouched evidence from a live agent: not one finding of any severity, info included.
    const vJson = custody('verify', bundle, '--tsa-ca', tsa.caCertPath, '--collector-key', collectorFp, '--json');
    expect((JSON.parse(vJson.stdout) as BundleJson).findings).toEqual([]);
    expect(vJson.code).toBe(0);
    expect(custody('verify', `${bundle}.tar`, '--tsa-ca', tsa.caCertPath).code).toBe(0);
    const pinnedWrong = custody('verify', bundle, '--tsa-ca', tsa.caCertPath, '--collector-key', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(pinnedWrong.code).toBe(1);
    expect(pinnedWrong.stdout).toContain('manifest.collector_not_pinned');
    const noCa = custody('verify', bundle, '--json');
    expect(noCa.code).toBe(0);
    expect((JSON.parse(noCa.stdout) as BundleJson).findings.map((f) => f.code)).toContain('tsa.unverified');

    // Independent tools.
    expect(sh('sha256sum -c --strict SHA256SUMS', bundle).code).toBe(0);
    const hd = sh(HASHDEEP_AUDIT, bundle);
    expect(hd.out).toContain('Audit passed');
    expect(hd.code).toBe(0);
    expect(sh(`openssl ts -verify -data manifest.json -in manifest.tsr -token_in -CAfile ${tsa.caCertPath}`, bundle).out).toContain('Verification: OK');
    expect(sh('openssl pkeyutl -verify -pubin -inkey collector.pem -rawin -in manifest.json -sigfile manifest.sig', bundle).out).toContain('Signature Verified Successfully');
    const listing = sh(`tar -tf ${bundle}.tar`, work);
    expect(listing.code).toBe(0);
    expect(listing.out.split('\n')).toEqual(expect.arrayContaining(['manifest.json', 'manifest.sig', 'manifest.tsr', 'SHA256SUMS', 'hashdeep.txt', 'custody.jsonl', 'timeline/timeline.csv', 'tables/usb-devices.csv']));

    // The timeline merges all hosts in time order; the CSV parses with the documented columns.
    const lines = readFileSync(join(bundle, 'timeline', 'timeline.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { datetime: string; host: string; record_sha256: string });
    expect(new Set(lines.map((l) => l.host))).toEqual(new Set(summary.hosts.filter((h) => h.records > 0).map((h) => h.host)));
    expect(lines.every((l, i) => i === 0 || (lines[i - 1] as { datetime: string }).datetime <= l.datetime)).toBe(true);
    const rows = parseCsv(readFileSync(join(bundle, 'timeline', 'timeline.csv'), 'utf8'));
    expect(rows[0]).toEqual([...TIMELINE_CSV_COLUMNS]);
    expect(rows.length).toBe(lines.length + 1);
    expect(rows.every((r) => r.length === TIMELINE_CSV_COLUMNS.length)).toBe(true);
    expect(rows.some((r) => (r[0] ?? '').includes('first, "quoted" line'))).toBe(true);
    const logons = parseCsv(readFileSync(join(bundle, 'tables', 'logons.csv'), 'utf8'));
    expect(logons.length).toBeGreaterThan(1);
    const caseDoc = JSON.parse(readFileSync(join(bundle, 'case.jsonld'), 'utf8')) as { '@graph': Array<{ '@type': string }> };
    expect(caseDoc['@graph'].map((n) => n['@type'])).toEqual(expect.arrayContaining(['uco-observable:File', 'case-investigation:ProvenanceRecord', 'case-investigation:InvestigativeAction']));
  });

  it('packs the same content into the same bytes', async () => {
    await packBundle(bundle, join(work, 'again-1.tar'));
    await packBundle(bundle, join(work, 'again-2.tar'));
    const cli = readFileSync(`${bundle}.tar`);
    expect(readFileSync(join(work, 'again-1.tar')).equals(cli)).toBe(true);
    expect(readFileSync(join(work, 'again-2.tar')).equals(cli)).toBe(true);
  });

  const cases: Array<{ name: string; tamper: (dir: string) => void; codes: string[]; where: string; sha256sum: boolean; hashdeep: boolean; openssl?: 'sig' | 'tsr' }> = [
    { name: 'a timeline byte', tamper: (d) => flipByte(join(d, 'timeline', 'timeline.csv'), 10), codes: ['file.hash_mismatch'], where: 'timeline/timeline.csv', sha256sum: false, hashdeep: false },
    {
      name: 'an evidence.sqlite byte',
      tamper: (d) => {
        const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as { hosts: Array<{ host: string; path: string }> };
        flipByte(join(d, (m.hosts.find((h) => h.host === 'ws-07') as { path: string }).path, 'evidence.sqlite'), -100);
      },
      codes: ['file.hash_mismatch'],
      where: 'evidence.sqlite',
      sha256sum: false,
      hashdeep: false,
    },
    { name: 'a manifest byte', tamper: (d) => flipByte(join(d, 'manifest.json'), 30), codes: ['manifest.bad_signature', 'sums.mismatch'], where: 'manifest.json', sha256sum: false, hashdeep: false, openssl: 'sig' },
    { name: 'a custody log byte', tamper: (d) => writeFileSync(join(d, 'custody.jsonl'), readFileSync(join(d, 'custody.jsonl'), 'utf8').replace('Jane Doe', 'Jane Dod')), codes: ['custody.bad_signature'], where: 'custody.jsonl entry 0', sha256sum: true, hashdeep: true },
    { name: 'a signature byte', tamper: (d) => flipByte(join(d, 'manifest.sig'), 5), codes: ['manifest.bad_signature', 'sums.mismatch'], where: 'manifest.sig', sha256sum: false, hashdeep: false, openssl: 'sig' },
    { name: 'a time-stamp token byte', tamper: (d) => flipByte(join(d, 'manifest.tsr'), -20), codes: ['sums.mismatch'], where: 'manifest.tsr', sha256sum: false, hashdeep: false, openssl: 'tsr' },
  ];
  for (const t of cases) {
    it(`names ${t.name} (exit 1), and the independent tools fail where they cover it`, () => {
      const dir = join(work, `tampered-${t.name.replace(/\W+/g, '-')}`);
      cpSync(bundle, dir, { recursive: true });
      t.tamper(dir);
      const { code, result } = verifyJson(dir);
      expect(code).toBe(1);
      expect(result.ok).toBe(false);
      const codes = result.findings.filter((f) => f.severity === 'error').map((f) => f.code);
      for (const c of t.codes) expect(codes).toContain(c);
      expect(result.findings.some((f) => f.severity === 'error' && f.where.includes(t.where))).toBe(true);
      expect(sh('sha256sum -c --strict --quiet SHA256SUMS', dir).code === 0).toBe(t.sha256sum);
      expect(sh(HASHDEEP_AUDIT, dir).code === 0).toBe(t.hashdeep);
      if (t.openssl === 'sig') expect(sh('openssl pkeyutl -verify -pubin -inkey collector.pem -rawin -in manifest.json -sigfile manifest.sig', dir).code).not.toBe(0);
      if (t.openssl === 'tsr') expect(sh(`openssl ts -verify -data manifest.json -in manifest.tsr -token_in -CAfile ${tsa.caCertPath}`, dir).code).not.toBe(0);
    });
  }

  it('usage errors: an existing --out, a folder with no store: exit 2, named', () => {
    const again = custody('collect', '--case', 'X', '--store', join(work, 'ws-07'), '--out', bundle);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(bundle);
    const empty = join(work, 'empty');
    mkdirSync(empty);
    const none = custody('collect', '--case', 'X', '--store', empty, '--out', join(work, 'never'));
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('holds no evidence store');
    expect(existsSync(join(work, 'never'))).toBe(false);
  });

  it('--triage preserves the files the agent configuration names, as a triage store', () => {
    const cfg = join(work, 'agent.yaml');
    writeFileSync(cfg, `store: ${join(work, 'unused-store')}\nsources:\n  files:\n    watch: ['${join(work, 'logs')}/*.log']\n`);
    const out = join(work, 'triage-bundle');
    const r = custody('collect', '--case', 'IR-T', '--triage', '--agent-config', cfg, '--out', out, '--json');
    expect(r.stderr).not.toContain('custody:');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { hosts: Array<{ source: string; records: number }>; triage: { files: string[] } };
    expect(s.triage.files).toEqual([join(work, 'logs', 'app.log')]);
    expect(s.hosts).toHaveLength(1);
    expect(s.hosts[0]?.source).toBe('triage');
    expect(custody('verify', out).code).toBe(0);
  });
});
