/**
 * End-to-end: `custody report` through the built CLI (dist/src/cli.js) on a bundle made by the
 * built CLI too (`custody import` of the story's logs, `custody collect --tar`). The report goes
 * beside the bundle, never inside it, so `custody verify` still passes; it names the story's serial,
 * files, address and deadlines in both languages; usage errors exit 2 and write nothing, and so does
 * a timeline with more events than `--max-events` (E_REPORT_TOO_LARGE, saying how to raise it). `collect`
 * writes the draft report inside the bundle before sealing by default (with the case's settings):
 * covered by the manifest, SHA256SUMS and hashdeep.txt (the printed audit command names report/),
 * and a change to it is named by `custody verify`; `--no-report` leaves it out.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORY, writeStoryLogs } from '../helpers/report-story.js';
import { CLI, custody } from '../helpers/cli.js';


let work: string;
let bundle: string;


beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-e2e-report-'));
  const logs = writeStoryLogs(join(work, 'logs'));
  const imp = custody('import', '--store', join(work, 'store'), '--host', STORY.host, ...logs);
  expect(imp.code, imp.stderr).toBe(0);
  bundle = join(work, 'IR-2026-014');
  // Without the draft report, so that "nothing was written inside the bundle" below is checkable.
  const col = custody('collect', '--case', 'IR-2026-014', '--store', join(work, 'store'), '--out', bundle, '--tar', '--examiner', 'Jane Doe, ACME IR', '--no-report');
  expect(col.code, col.stderr).toBe(0);
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('custody report (built CLI)', () => {
  it('writes both languages beside the bundle; the bundle still verifies', () => {
    const r = custody('report', bundle, '--discovered-at', '2026-11-30T20:00:00Z', '--sensitive', '/srv/share/customers/**', '--working-hours', '09-18', '--json');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { out: string; files: string[]; verified: boolean; patterns: Record<string, number>; deadlines: { prompt: string; final: string; final_malicious: string; notes: string[] } };
    expect(summary.out).toBe(`${bundle}-report`);
    expect(summary.verified).toBe(true);
    expect(summary.patterns).toMatchObject({ sensitive_then_usb: 1, new_usb_serial: 1, failed_then_success: 1, new_logon_source: 1, off_hours: 1 });
    // Discovered 2026-12-01 05:00 JST: day 1 is Dec 1, across the month end; day 30 (Dec 30) is in
    // the year-end closure, so the final report is due on the first working day of 2027.
    expect(summary.deadlines).toEqual({
      prompt: '2026-12-03..2026-12-05',
      final: '2027-01-04',
      final_malicious: '2027-01-29',
      notes: ['day 30 (2026-12-30) is an administrative holiday; the deadline moves to 2027-01-04'],
    });
    expect(readdirSync(summary.out).sort()).toEqual(['report.html', 'report.ja.html', 'report.ja.md', 'report.json', 'report.md']);
    const en = readFileSync(join(summary.out, 'report.md'), 'utf8');
    const ja = readFileSync(join(summary.out, 'report.ja.md'), 'utf8');
    for (const md of [en, ja]) {
      expect(md).toContain(STORY.serial);
      expect(md).toContain(STORY.attacker);
      for (const f of STORY.files) expect(md).toContain(f);
    }
    expect(ja).toContain('30日目の2026年12月30日(水)は年末年始の閉庁日(12月29日～1月3日)にあたり、2027年1月3日(日)まで行政機関の休日(年末年始・元日)が続くため、期限は2027年1月4日(月)となる。');
    expect(en).toContain('| Final report (確報), 30 days | 2027-01-04 (Mon), moved for holidays (see below) |');
    expect(readFileSync(join(summary.out, 'report.ja.html'), 'utf8')).toContain('<html lang="ja">');
    expect(existsSync(join(bundle, 'report'))).toBe(false);
    const v = custody('verify', bundle);
    expect(v.code, v.stdout).toBe(0);
  });

  it('reads a .tar and writes one language with --lang', () => {
    const out = join(work, 'ja-report');
    const r = custody('report', `${bundle}.tar`, '--lang', 'ja', '--sensitive', '/srv/share/customers/**', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('bundle:   VALID');
    expect(readdirSync(out).sort()).toEqual(['report.html', 'report.json', 'report.md']);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('# 調査報告書');
    expect(md).toContain('期限は算出していない'); // no --discovered-at
  });

  it('a bundle that does not verify: the report is written, says so first, and the exit code is 1', () => {
    const copy = join(work, 'tampered');
    cpSync(bundle, copy, { recursive: true });
    const csv = join(copy, 'tables', 'logons.csv');
    writeFileSync(csv, readFileSync(csv, 'utf8').replace('216.160.83.57', '216.160.83.58'));
    const r = custody('report', copy, '--lang', 'en', '--out', join(work, 'tampered-report'));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('INVALID');
    const md = readFileSync(join(work, 'tampered-report', 'report.md'), 'utf8');
    const integrity = md.slice(md.indexOf('## 1.'), md.indexOf('## 2.'));
    expect(integrity).toContain('Verification of the bundle when this report was made: INVALID');
    expect(integrity).toContain('tables/logons.csv');
  });

  it('refuses to write inside the sealed bundle, a time without a zone, an unknown language (exit 2)', () => {
    const inside = custody('report', bundle, '--out', join(bundle, 'report'));
    expect(inside.code).toBe(2);
    expect(inside.stderr).toContain('inside the sealed bundle');
    expect(existsSync(join(bundle, 'report'))).toBe(false);
    const noZone = custody('report', bundle, '--discovered-at', '2026-11-21 10:30', '--out', join(work, 'x'));
    expect(noZone.code).toBe(2);
    expect(noZone.stderr).toContain('--discovered-at');
    const lang = custody('report', bundle, '--lang', 'fr', '--out', join(work, 'y'));
    expect(lang.code).toBe(2);
    expect(existsSync(join(work, 'x'))).toBe(false);
    expect(existsSync(join(work, 'y'))).toBe(false);
    const hours = custody('report', bundle, '--working-hours', '18-09', '--out', join(work, 'z'));
    expect(hours.code).toBe(2);
    expect(custody('report', join(work, 'nope')).code).toBe(2);
    for (const bad of ['0', '-5', '1.5', 'many', '1e6']) {
      const r = custody('report', bundle, '--max-events', bad, '--out', join(work, 'm'));
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain(`--max-events must be a positive whole number, got "${bad}"`);
    }
    expect(existsSync(join(work, 'm'))).toBe(false);
  });

  it('--max-events below the events the report analyses: E_REPORT_TOO_LARGE (exit 2), nothing written; at the count it is made', () => {
    const analysed = /^(usb\.(connect|disconnect|present)|file\.(access|change)|auth\.logon|agent\.(gap|stop|start)|clock\.anomaly)$/;
    const events = readFileSync(join(bundle, 'timeline', 'timeline.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && analysed.test((JSON.parse(l) as { kind: string }).kind)).length;
    expect(events).toBeGreaterThan(3);
    const r = custody('report', bundle, '--max-events', '3', '--out', join(work, 'too-large'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[E_REPORT_TOO_LARGE]');
    expect(r.stderr).toContain('more than 3 events');
    expect(r.stderr).toContain('`custody report <bundle> --max-events N`');
    expect(existsSync(join(work, 'too-large'))).toBe(false);
    const ok = custody('report', bundle, '--max-events', String(events), '--lang', 'en', '--out', join(work, 'just-enough'));
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('collect: when the draft report cannot be made (here: more events than --max-events), the bundle is still sealed, without report/, and the summary says why', () => {
    const b4 = join(work, 'IR-2026-018');
    const col = custody('collect', '--case', 'IR-2026-018', '--store', join(work, 'store'), '--out', b4, '--max-events', '3', '--json');
    expect(col.code, col.stderr).toBe(0);
    const summary = JSON.parse(col.stdout) as { report?: unknown; report_error?: { code: string; message: string }; audit: { hashdeep: string } };
    expect(summary.report).toBeUndefined();
    expect(summary.report_error?.code).toBe('E_REPORT_TOO_LARGE');
    expect(summary.report_error?.message).toContain('more than 3 events');
    expect(existsSync(join(b4, 'report'))).toBe(false);
    expect(summary.audit.hashdeep).not.toContain('report');
    expect(spawnSync('/bin/sh', ['-c', summary.audit.hashdeep], { cwd: b4, encoding: 'utf8' }).status).toBe(0);
    expect(custody('verify', b4).code).toBe(0);
    const text = custody('collect', '--case', 'IR-2026-019', '--store', join(work, 'store'), '--out', join(work, 'IR-2026-019'), '--max-events', '3');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('draft report: NOT WRITTEN (E_REPORT_TOO_LARGE)');
    expect(custody('collect', '--case', 'IR-2026-020', '--store', join(work, 'store'), '--out', join(work, 'IR-2026-020'), '--max-events', 'lots').code).toBe(2);
  });

  it('collect --no-report leaves report/ out, and its audit command then leaves it out too; --no-report with report options is a usage error', () => {
    const b3 = join(work, 'IR-2026-016');
    const col = custody('collect', '--case', 'IR-2026-016', '--store', join(work, 'store'), '--out', b3, '--no-report', '--json');
    expect(col.code, col.stderr).toBe(0);
    const summary = JSON.parse(col.stdout) as { report?: unknown; audit: { hashdeep: string } };
    expect(summary.report).toBeUndefined();
    expect(existsSync(join(b3, 'report'))).toBe(false);
    expect(summary.audit.hashdeep).toBe('hashdeep -c sha256 -r -l -a -k hashdeep.txt manifest.* collector.pem case.jsonld evidence timeline tables');
    expect(spawnSync('/bin/sh', ['-c', summary.audit.hashdeep], { cwd: b3, encoding: 'utf8' }).status).toBe(0);
    expect(custody('verify', b3).code).toBe(0);
    const both = custody('collect', '--case', 'IR-2026-017', '--store', join(work, 'store'), '--out', join(work, 'IR-2026-017'), '--no-report', '--discovered-at', '2026-11-21T10:30:00+09:00');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--no-report leaves the report out, so --discovered-at would be ignored');
    expect(existsSync(join(work, 'IR-2026-017'))).toBe(false);
  });

  it('collect --sensitive writes the draft report inside the bundle before sealing; it is sealed with the rest', () => {
    const b2 = join(work, 'IR-2026-015');
    const col = custody('collect', '--case', 'IR-2026-015', '--store', join(work, 'store'), '--out', b2, '--sensitive', '/srv/share/customers/**', '--discovered-at', '2026-11-21T10:30:00+09:00', '--json');
    expect(col.code, col.stderr).toBe(0);
    const summary = JSON.parse(col.stdout) as { audit: { hashdeep: string } };
    expect(summary.audit.hashdeep).toBe('hashdeep -c sha256 -r -l -a -k hashdeep.txt manifest.* collector.pem case.jsonld evidence timeline tables report');
    expect(readdirSync(join(b2, 'report')).sort()).toEqual(['report.html', 'report.ja.html', 'report.ja.md', 'report.json', 'report.md']);
    const manifest = JSON.parse(readFileSync(join(b2, 'manifest.json'), 'utf8')) as { files: Array<{ path: string }> };
    expect(manifest.files.map((f) => f.path).filter((p) => p.startsWith('report/'))).toEqual(['report/report.html', 'report/report.ja.html', 'report/report.ja.md', 'report/report.json', 'report/report.md']);
    const md = readFileSync(join(b2, 'report', 'report.md'), 'utf8');
    expect(md).toContain(STORY.serial);
    expect(md).toContain('The bundle was not re-verified for this report');
    expect(md).toContain('this draft was written into the bundle before it was sealed');
    expect(md).toContain('2026-12-20');
    expect(custody('verify', b2).code).toBe(0);
    const sh = (cmd: string): number | null => spawnSync('/bin/sh', ['-c', cmd], { cwd: b2, encoding: 'utf8' }).status;
    expect(sh('sha256sum -c --quiet SHA256SUMS')).toBe(0);
    expect(sh(summary.audit.hashdeep)).toBe(0);
    // A changed report is named by verify.
    appendFileSync(join(b2, 'report', 'report.md'), 'edited\n');
    const v = custody('verify', b2, '--json');
    expect(v.code).toBe(1);
    expect(v.stdout).toContain('report/report.md');
  });
});
