/**
 * End-to-end: `custody keys init --out` and `custody handoff` through the built CLI. Two custody
 * entries by different people's keys verify; reordering, removing or editing one is named by
 * `custody verify` (exit 1); cutting the tail is caught against the pinned head; a broken log is
 * never extended.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, custody } from '../helpers/cli.js';

const AUTH = fileURLToPath(new URL('../fixtures/beats/filebeat/module/system/auth/test/test.log', import.meta.url));
let work: string;
let bundle: string;
let head = '';
const fps: string[] = [];

function findings(path: string, ...extra: string[]): { code: number | null; codes: string[] } {
  const r = custody('verify', path, '--json', ...extra);
  return { code: r.code, codes: (JSON.parse(r.stdout) as { findings: Array<{ code: string; severity: string }> }).findings.filter((f) => f.severity === 'error').map((f) => f.code) };
}
function variant(name: string, edit: (lines: string[]) => string[]): string {
  const dir = join(work, name);
  cpSync(bundle, dir, { recursive: true });
  const lines = readFileSync(join(dir, 'custody.jsonl'), 'utf8').trimEnd().split('\n');
  writeFileSync(join(dir, 'custody.jsonl'), `${edit(lines).join('\n')}\n`);
  return dir;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-e2e-handoff-'));
  expect(custody('import', '--store', join(work, 'store'), '--host', 'ws-07', AUTH).code).toBe(0);
  bundle = join(work, 'bundle');
  expect(custody('collect', '--case', 'IR-H', '--store', join(work, 'store'), '--out', bundle).code).toBe(0);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('custody keys init --out and custody handoff (built CLI)', () => {
  it('keys init --out writes a 0600 private key and a public file, and refuses to overwrite', () => {
    for (const who of ['courier', 'vendor']) {
      const r = custody('keys', 'init', '--out', join(work, `${who}.key`), '--name', who);
      expect(r.code).toBe(0);
      fps.push(/fingerprint: (SHA256:\S+)/.exec(r.stdout)?.[1] as string);
      expect(statSync(join(work, `${who}.key`)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(join(work, `${who}.key.pub`), 'utf8'))).toMatchObject({ name: who, fingerprint: fps.at(-1) });
    }
    const again = custody('keys', 'init', '--out', join(work, 'courier.key'));
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
    expect(custody('keys', 'init').code).toBe(2);
  });

  it('two entries by different keys verify, and the head is printed', () => {
    const a = custody('handoff', bundle, '--action', 'transferred', '--actor', 'Ken Ito, ACME IR', '--key', join(work, 'courier.key'), '--note', 'USB disk S/N 1234, sealed bag 77');
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const b = custody('handoff', bundle, '--action', 'received', '--actor', 'Aiko Sato, Example Forensics KK', '--key', join(work, 'vendor.key'));
    expect(b.code).toBe(0);
    head = /custody head: (\d+:[0-9a-f]{64})/.exec(b.stdout)?.[1] as string;
    expect(head).toMatch(/^2:/);
    const v = custody('verify', bundle, '--custody-head', head, '--custody-key', fps[0] as string, '--custody-key', fps[1] as string, '--custody-key', JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')).collector.key.fingerprint);
    expect(v.stdout).toContain('custody:      3 entries (collected, transferred, received)');
    expect(v.code).toBe(0);
  });

  it('reordering, removing or editing an entry is named (exit 1)', () => {
    const reordered = findings(variant('reordered', (l) => [l[0] as string, l[2] as string, l[1] as string]));
    expect(reordered.code).toBe(1);
    expect(reordered.codes).toEqual(expect.arrayContaining(['custody.index_gap', 'custody.broken_link']));
    const removed = findings(variant('removed', (l) => [l[0] as string, l[2] as string]));
    expect(removed.code).toBe(1);
    expect(removed.codes).toContain('custody.broken_link');
    const edited = findings(variant('edited', (l) => [l[0] as string, (l[1] as string).replace('bag 77', 'bag 78'), l[2] as string]));
    expect(edited.code).toBe(1);
    expect(edited.codes).toContain('custody.bad_signature');
    const cut = findings(variant('cut', (l) => l.slice(0, 2)), '--custody-head', head);
    expect(cut.code).toBe(1);
    expect(cut.codes).toContain('custody.head_missing');
  });

  it('a broken log is never extended; bad input is named (exit 2)', () => {
    const dir = variant('broken', (l) => [l[0] as string, l[2] as string]);
    const r = custody('handoff', dir, '--action', 'examined', '--actor', 'Aiko Sato, Example Forensics KK', '--key', join(work, 'vendor.key'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('refusing to extend a custody log that does not verify');
    expect(custody('handoff', bundle, '--action', 'stolen', '--actor', 'A B, C', '--key', join(work, 'vendor.key')).stderr).toContain('--action must be one of');
    expect(custody('handoff', bundle, '--action', 'examined', '--actor', 'no org', '--key', join(work, 'vendor.key')).code).toBe(2);
    expect(custody('handoff', bundle, '--action', 'examined', '--actor', 'A B, C', '--key', join(work, 'missing.key')).stderr).toContain('missing.key');
  });
});
