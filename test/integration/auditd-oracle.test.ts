/**
 * Oracle: custody's audit event grouping against `ausearch` (Debian package `auditd`), on every
 * real audit log in the fixtures and every raw event in go-libaudit's aucoalesce YAML.
 *
 * `ausearch -if FILE` prints each event it groups as `----`, a `time->` line, then the event's raw
 * records (RAW part only for ENRICHED lines, in an order of its own). `ausearch -i -if FILE`
 * prints the same events interpreted. The checks:
 * - every event ausearch prints is exactly (as a multiset of lines) one event of groupAuditEvents;
 * - `-i` prints as many events as the raw output (same grouping both ways);
 * - an event of ours that ausearch does not print has none of its lines printed by ausearch (it
 *   dropped the whole event — ausearch skips events whose SYSCALL it cannot interpret — rather
 *   than grouping it differently);
 * - lines ausearch accepts but custody names as failures (selinux.log's malformed headers) are
 *   left out of the comparison and counted.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { groupAuditEvents } from '../../src/parsers/auditd.js';
import type { SourceLine } from '../../src/parsers/types.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

function which(cmd: string): string | undefined {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin', ...(process.env['PATH'] ?? '').split(':')]) {
    const p = join(dir, cmd);
    const r = spawnSync(p, ['--version'], { encoding: 'utf8' });
    if (r.error === undefined) return p;
  }
  return undefined;
}

const AUSEARCH = which('ausearch');
if (AUSEARCH === undefined) {
  console.warn('auditd-oracle: skipped — `ausearch` is not installed (Debian package: auditd)');
}

function ausearch(file: string, interpret: boolean): string[][] {
  const args = interpret ? ['-i', '-if', file] : ['-if', file];
  const r = spawnSync(AUSEARCH!, args, { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
  if (r.status !== 0 && !/no matches/.test(r.stderr)) throw new Error(`ausearch ${args.join(' ')}: ${r.stderr}`);
  const events: string[][] = [];
  for (const block of r.stdout.split(/^----\n/m)) {
    const lines = block.split('\n').filter((l) => l !== '' && !l.startsWith('time->'));
    if (lines.length > 0) events.push(lines);
  }
  return events;
}

const rawPart = (text: string): string => {
  const gs = text.indexOf('\x1d');
  return (gs < 0 ? text : text.slice(0, gs)).trimEnd();
};
const key = (lines: string[]): string => JSON.stringify([...lines].sort());

interface Result {
  ours: number;
  theirs: number;
  dropped: number;
  excludedLines: number;
}

function compare(file: string): Result {
  const text = readFileSync(file, 'utf8');
  const parts = text.split('\n');
  if (parts.at(-1) === '') parts.pop();
  const lines: SourceLine[] = parts.map((t, i) => ({ seq: i, path: file, text: t, observedAt: '2026-11-23T00:00:00.000000Z' }));
  const { events, failures } = groupAuditEvents(lines);
  const rejected = new Set(failures.flatMap((f) => f.derived_from ?? []).map((seq) => rawPart(lines[seq]!.text)));
  const ours = events.map((e) => e.records.map((r) => rawPart(lines[r.seq]!.text)));
  const ourKeys = new Map<string, number>();
  for (const e of ours) ourKeys.set(key(e), (ourKeys.get(key(e)) ?? 0) + 1);

  const raw = ausearch(file, false);
  const interpreted = ausearch(file, true);
  expect(interpreted.length, `${file}: -i and raw output group the same number of events`).toBe(raw.length);

  let excludedLines = 0;
  const printed = new Set<string>();
  for (const theirs of raw) {
    const kept = theirs.map((l) => l.trimEnd()).filter((l) => {
      if (rejected.has(l)) {
        excludedLines++;
        return false;
      }
      return true;
    });
    if (kept.length === 0) continue;
    for (const l of kept) printed.add(l);
    const k = key(kept);
    expect(ourKeys.get(k) ?? 0, `${file}: ausearch event not grouped the same by custody:\n${kept.join('\n')}`).toBeGreaterThan(0);
    ourKeys.set(k, (ourKeys.get(k) ?? 0) - 1);
  }
  let dropped = 0;
  for (const e of ours) {
    if (e.some((l) => printed.has(l))) continue;
    dropped++;
  }
  // every event of ours is either printed by ausearch as the same group, or not printed at all
  const unmatched = [...ourKeys.values()].reduce((a, b) => a + b, 0);
  expect(unmatched, `${file}: events of ours that ausearch split or merged`).toBe(dropped);
  return { ours: ours.length, theirs: raw.length, dropped, excludedLines };
}

describe.skipIf(AUSEARCH === undefined)('auditd grouping = ausearch grouping', () => {
  const work = mkdtempSync(join(tmpdir(), 'custody-ausearch-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const logs: Array<[string, Partial<Result>]> = [
    ['go-libaudit/auparse/testdata/audit-rhel6.log', { ours: 2, theirs: 2, dropped: 0 }],
    ['go-libaudit/auparse/testdata/audit-rhel7.log', { ours: 48, theirs: 48, dropped: 0 }],
    ['go-libaudit/auparse/testdata/audit-ubuntu14.log', { ours: 1, theirs: 1, dropped: 0 }],
    ['go-libaudit/auparse/testdata/audit-ubuntu16.log', { ours: 3, theirs: 2, dropped: 1 }],
    ['go-libaudit/auparse/testdata/audit-ubuntu17.log', { ours: 1, theirs: 1, dropped: 0 }],
    ['go-libaudit/auparse/testdata/test2.log', { ours: 7, theirs: 7, dropped: 0 }],
    ['go-libaudit/auparse/testdata/test3.log', { ours: 10, theirs: 10, dropped: 0 }],
    ['plaso/test_data/audit_enriched.log', { ours: 13, theirs: 13, dropped: 0 }],
    ['plaso/test_data/selinux.log', { ours: 6, theirs: 8, dropped: 0, excludedLines: 2 }],
  ];
  for (const [file, want] of logs) {
    it(file, () => {
      expect(compare(FIXTURES + file)).toMatchObject(want);
    });
  }

  it('every raw event in go-libaudit aucoalesce YAML', () => {
    const dir = `${FIXTURES}go-libaudit/aucoalesce/testdata/`;
    let cases = 0;
    let events = 0;
    let dropped = 0;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
      const doc = parseYaml(readFileSync(dir + f, 'utf8')) as { tests: Record<string, string> };
      for (const [name, raw] of Object.entries(doc.tests)) {
        const path = join(work, `${f}-${cases++}.log`);
        writeFileSync(path, raw.endsWith('\n') ? raw : `${raw}\n`);
        const r = compare(path);
        expect(r.theirs + r.dropped, `${f} :: ${name}`).toBe(r.ours);
        events += r.ours;
        dropped += r.dropped;
      }
    }
    expect(cases).toBe(48);
    expect(events).toBe(48); // one event per case: ANOM_PROMISCUOUS (1700) groups with its SYSCALL, as in ausearch
    console.info(`auditd-oracle: ${cases} YAML cases, ${events} events, ${dropped} not printed by ausearch`);
  });
});
