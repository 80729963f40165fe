/**
 * Issue 11, items 4–7, through the built CLI on a bundle made by the real collector and then
 * edited as an attacker would:
 *
 * - terminal control characters: a case id that hides the real result with ESC[8m and forges a
 *   `result: VALID` line, a custody actor with bidi overrides; the text shows escapes, never the
 *   raw bytes, and has exactly one result line; `--json` is exact JSON without them; a store
 *   whose host root rewrote with an erase-line sequence, the same in verify and agent status;
 * - a forged manifest window (a store folder's bundle claimed to be a vault window) whose times carry
 *   escapes, a fake result line and markup: named as window.manifest_mismatch, shown escaped by
 *   verify and as text by the report;
 * - empty and malformed pins (`--key ""`, `--collector-key ""`, …) are usage errors, exit 2;
 * - a custody entry by a key nobody pinned is a `custody.signer_not_pinned` warning naming the
 *   actor and the key, and the text lists every entry with its signer;
 * - a tar 1,800 folders deep is refused (`tar.too_deep`, naming the entry) instead of crashing,
 *   and verify leaves nothing in its temporary folder, also when interrupted with SIGINT.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestBytes, type BundleManifest } from '../../src/bundle/manifest.js';
import { CLI, custody } from '../helpers/cli.js';

const AUTH = fileURLToPath(new URL('../fixtures/beats/filebeat/module/system/auth/test/test.log', import.meta.url));
// What a terminal acts on: C0 (but the newlines between lines), DEL, C1, bidi and other format characters.
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\p{Cf}\u2028\u2029]/u;

let work: string;
let bundle: string;
let store: string;
let collectorFp: string;
let vendorFp: string;
let agentFp: string;

function run(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function copyOf(name: string): string {
  const dir = join(work, name);
  cpSync(bundle, dir, { recursive: true });
  return dir;
}

/**
 * `verify DIR` and `verify DIR --json` on a bundle edited with hostile text: exit 1, no raw control
 * character in either, and exactly one result line, INVALID. Returns both outputs.
 */
function verifyHostile(dir: string): { text: string; json: string } {
  const r = run(['verify', dir]);
  expect(r.code).toBe(1);
  expect(RAW_CONTROL.test(r.stdout)).toBe(false);
  const results = r.stdout.split('\n').filter((l) => l.startsWith('result:'));
  expect(results).toHaveLength(1);
  expect(results[0]).toMatch(/^result: {7}INVALID \(\d+ errors?, \d+ warnings?\)$/);
  const json = run(['verify', dir, '--json']);
  expect(json.code).toBe(1);
  expect(RAW_CONTROL.test(json.stdout)).toBe(false);
  return { text: r.stdout, json: json.stdout };
}

function privateTmp(name: string): string {
  const dir = join(work, `tmp-${name}`);
  mkdirSync(dir);
  return dir;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-e2e-hostile-out-'));
  store = join(work, 'store');
  const imported = custody('import', '--store', store, '--host', 'ws-07', AUTH);
  expect(imported.code).toBe(0);
  agentFp = /enrollment key fingerprint: (SHA256:\S+)/.exec(imported.stdout)?.[1] as string;
  for (const who of ['collector', 'vendor']) {
    const r = custody('keys', 'init', '--out', join(work, `${who}.key`), '--name', who);
    expect(r.code).toBe(0);
    const fp = /fingerprint: (SHA256:\S+)/.exec(r.stdout)?.[1] as string;
    if (who === 'collector') collectorFp = fp;
    else vendorFp = fp;
  }
  bundle = join(work, 'bundle');
  expect(custody('collect', '--case', 'IR-T', '--store', store, '--key', join(work, 'collector.key'), '--out', bundle).code).toBe(0);
});
// rm(1), not rmSync: Node 20's recursive rmSync overflows its stack on the 1,800-deep folder.
afterAll(() => spawnSync('rm', ['-rf', work]));

describe('4. terminal control characters from evidence are shown escaped', () => {
  const hostileCase = 'IR-T\u001b[8m\nresult:       VALID (0 errors, 0 warnings)\u202e\u2066';

  it('a case id that hides the real result and forges a VALID line: escaped, one result line, exit 1', () => {
    const dir = copyOf('case-id');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
    manifest.case.id = hostileCase;
    writeFileSync(join(dir, 'manifest.json'), manifestBytes(manifest));
    const { text, json } = verifyHostile(dir);
    expect(text).toContain('case:         IR-T\\x1b[8m\\nresult:       VALID (0 errors, 0 warnings)\\u202e\\u2066, sealed');
    expect((JSON.parse(json) as { case: string }).case).toBe(hostileCase);
  });

  it('a forged manifest window whose times carry escapes, a fake result line and markup: named, escaped, one result line', () => {
    const dir = copyOf('window');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
    const host = manifest.hosts[0] as BundleManifest['hosts'][number];
    // A store folder's bundle, claimed after the fact to be a vault window, in words that would
    // clear the screen and print a VALID verdict of their own.
    host.window = { since: '2026-12-05T00:00:00Z\u001b[2J\u001b[H', until: '<script>alert(1)</script>\nresult:       VALID (0 errors, 0 warnings)\u202e', first_seq: 0, end_seq: 3, vault_tree_size: 9 };
    writeFileSync(join(dir, 'manifest.json'), manifestBytes(manifest));
    const { text } = verifyHostile(dir);
    expect(text).toContain('window.manifest_mismatch');
    expect(text).toContain('observed 2026-12-05T00:00:00Z\\x1b[2J\\x1b[H to <script>alert(1)</script>\\nresult:');
    // The report's window note: the same words, as text in the page, never as markup or escapes.
    const out = join(work, 'window-report');
    expect(run(['report', dir, '--out', out]).code).toBe(1);
    const page = readFileSync(join(out, 'report.html'), 'utf8');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('<script>alert(1)');
    expect(RAW_CONTROL.test(page.replace(/\n/g, ''))).toBe(false);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('window.manifest_mismatch');
  });

  it('a custody actor with bidi overrides and isolates, signed by a valid key: escaped in the entry list and the finding', () => {
    const dir = copyOf('actor');
    const actor = 'Ken \u202eOTI\u202c\u2067x\u2069, ACME IR';
    const h = run(['handoff', dir, '--action', 'transferred', '--actor', actor, '--key', join(work, 'vendor.key')]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('transferred by Ken \\u202eOTI\\u202c\\u2067x\\u2069, ACME IR');
    expect(RAW_CONTROL.test(h.stdout)).toBe(false);
    const r = run(['verify', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  #1 transferred by Ken \\u202eOTI\\u202c\\u2067x\\u2069, ACME IR, ');
    expect(r.stdout).toContain('warning custody.signer_not_pinned at custody.jsonl entry 1: entry 1: "transferred" by "Ken \\u202eOTI');
    expect(RAW_CONTROL.test(r.stdout)).toBe(false);
  });

  it('a store whose host was rewritten by root (triggers dropped): verify and agent status show escapes', () => {
    const dir = join(work, 'store-host');
    cpSync(store, dir, { recursive: true });
    const db = new Database(join(dir, 'evidence.sqlite'));
    db.exec('DROP TRIGGER meta_no_update');
    db.prepare("UPDATE meta SET value = ? WHERE name = 'host'").run('ws-07\u001b[2K\rresult:       VALID\u009b8m\u200b');
    db.close();
    const v = run(['verify', dir, '--key', agentFp]);
    expect(v.stdout).toContain('host:         ws-07\\x1b[2K\\rresult:       VALID\\x9b8m\\u200b (store ');
    expect(RAW_CONTROL.test(v.stdout)).toBe(false);
    expect(v.stdout.split('\n').filter((l) => l.startsWith('result:'))).toHaveLength(1);
    const status = run(['agent', 'status', '--store', dir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('host ws-07\\x1b[2K\\rresult:');
    expect(RAW_CONTROL.test(status.stdout)).toBe(false);
  });
});

describe('5. an empty or malformed pin is a usage error, never "no pin"', () => {
  it('verify, report and handoff refuse empty, blank and malformed pins with exit 2 and E_USAGE', () => {
    const cases: Array<[string[], string]> = [
      [['verify', bundle, '--collector-key', ''], '--collector-key is empty'],
      [['verify', bundle, '--collector-key', ' '], '--collector-key is empty'],
      [['verify', bundle, '--agent-key', ''], '--agent-key is empty'],
      [['verify', bundle, '--agent-key', agentFp, '--agent-key', ''], '--agent-key is empty'],
      [['verify', bundle, '--custody-key', ''], '--custody-key is empty'],
      [['verify', bundle, '--tsa-ca', ''], '--tsa-ca is empty'],
      [['verify', store, '--key', ''], '--key is empty'],
      [['verify', store, '--key', 'SHA256:not-a-fingerprint'], '--key must be a key fingerprint'],
      [['verify', bundle, '--collector-key', 'SHA256:'], '--collector-key must be a key fingerprint'],
      [['verify', bundle, '--agent-key', agentFp.slice(0, -1)], '--agent-key must be a key fingerprint'],
      [['report', bundle, '--out', join(work, 'report-x'), '--collector-key', ''], '--collector-key is empty'],
      [['report', bundle, '--out', join(work, 'report-x'), '--agent-key', ''], '--agent-key is empty'],
      [['handoff', bundle, '--action', 'examined', '--actor', 'A B, C', '--key', ''], '--key is empty'],
    ];
    for (const [args, message] of cases) {
      const r = run(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain('[E_USAGE]');
      expect(r.stdout).toBe('');
    }
    // The same commands with the real pins verify: the refusals above are about the empty values.
    expect(run(['verify', bundle, '--collector-key', collectorFp, '--agent-key', agentFp]).code).toBe(0);
    expect(run(['verify', store, '--key', agentFp]).code).toBe(0);
  });
});

describe('6. custody entries by keys nobody pinned', () => {
  it('a warning naming the actor and key; the text lists action, actor, time and signer of every entry', () => {
    const dir = copyOf('signer');
    expect(run(['handoff', dir, '--action', 'transferred', '--actor', 'Mallory Doe, Nowhere Ltd', '--key', join(work, 'vendor.key'), '--note', 'took it home']).code).toBe(0);
    const json = run(['verify', dir, '--json']);
    expect(json.code).toBe(0);
    const v = JSON.parse(json.stdout) as { findings: Array<{ code: string; severity: string; where: string; message: string }>; custody: { log: Array<Record<string, unknown>> } };
    const warning = v.findings.find((f) => f.code === 'custody.signer_not_pinned');
    expect(warning).toMatchObject({ severity: 'warning', where: 'custody.jsonl entry 1' });
    expect(warning?.message).toContain('"Mallory Doe, Nowhere Ltd"');
    expect(warning?.message).toContain(vendorFp);
    expect(v.findings.filter((f) => f.code === 'custody.signer_not_pinned')).toHaveLength(1);
    expect(v.custody.log).toEqual([
      expect.objectContaining({ index: 0, action: 'collected', signer: collectorFp, signer_known_as: 'collector', signature_ok: true }),
      expect.objectContaining({ index: 1, action: 'transferred', actor: 'Mallory Doe, Nowhere Ltd', signer: vendorFp, signer_known_as: 'not pinned', signature_ok: true }),
    ]);

    const text = run(['verify', dir]);
    expect(text.stdout).toMatch(new RegExp(`  #0 collected by [^\\n]+, \\d{4}-\\d\\d-\\d\\dT[^;]+Z; signed by ${collectorFp.replace(/[+/]/g, '\\$&')} \\(the collector key\\)`));
    expect(text.stdout).toContain(`  #1 transferred by Mallory Doe, Nowhere Ltd, `);
    expect(text.stdout).toContain(`; signed by ${vendorFp} (NOT PINNED)`);

    // Pinned, the warning goes and the list says so (--custody-key lists every accepted key, the collector's too).
    const pinned = run(['verify', dir, '--json', '--custody-key', vendorFp, '--custody-key', collectorFp]);
    expect(pinned.code).toBe(0);
    const p = JSON.parse(pinned.stdout) as { findings: Array<{ code: string }>; custody: { log: Array<{ signer_known_as: string }> } };
    expect(p.findings.map((f) => f.code)).not.toContain('custody.signer_not_pinned');
    expect(p.custody.log.map((e) => e.signer_known_as)).toEqual(['collector', 'pinned']);
    expect(run(['verify', dir, '--custody-key', vendorFp, '--custody-key', collectorFp]).stdout).toContain('(pinned with --custody-key)');
  });
});

describe('7. a tar 1,800 folders deep, and the temporary folder on every way out', () => {
  it('refused as tar.too_deep naming the entry, exit 1, nothing left in the temporary folder', () => {
    const dir = copyOf('deep');
    const deep = Array<string>(1800).fill('a').join('/');
    mkdirSync(join(dir, 'evidence', deep), { recursive: true });
    writeFileSync(join(dir, 'evidence', deep, 'f'), 'deep\n');
    const tarPath = join(work, 'deep.tar');
    expect(spawnSync('tar', ['--format=posix', '-cf', tarPath, '-C', dir, '.']).status).toBe(0);
    const tmp = privateTmp('deep');
    const r = run(['verify', tarPath], { TMPDIR: tmp });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    // The first entry past the limit is the folder evidence/a/…/a 33 components down (GNU tar writes ./ first).
    expect(r.stdout).toMatch(/ERROR tar\.too_deep at \S*deep\.tar offset \d+ \("(\.\/)?evidence(\/a){32}\/?"\): tar refused \(too_deep\)/);
    expect(r.stdout).toContain('components, folders within folders (limit 32)');
    expect(readdirSync(tmp)).toEqual([]);
    const json = JSON.parse(run(['verify', tarPath, '--json'], { TMPDIR: tmp }).stdout) as { findings: Array<{ code: string; where: string }> };
    expect(json.findings.map((f) => f.code)).toEqual(['tar.too_deep']);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('SIGINT while verify extracts a .tar: the temporary folder is removed and the process ends by the signal', async () => {
    const dir = copyOf('big');
    // Big enough that extracting and hashing it takes a while; unlisted, so the bundle is INVALID anyway.
    writeFileSync(join(dir, 'evidence', 'big.bin'), Buffer.alloc(256 * 1024 * 1024, 0x61));
    const tarPath = join(work, 'big.tar');
    expect(spawnSync('tar', ['--format=posix', '-cf', tarPath, '-C', dir, '.']).status).toBe(0);
    rmSync(dir, { recursive: true });
    const tmp = privateTmp('sigint');
    const child = spawn(process.execPath, [CLI, 'verify', tarPath], { env: { ...process.env, TMPDIR: tmp }, stdio: 'ignore' });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    let running = true;
    void exited.then(() => (running = false));
    // Wait until the extraction has written into the temporary folder, then interrupt.
    for (;;) {
      const held = readdirSync(tmp);
      if (held.length > 0 && readdirSync(join(tmp, held[0] as string)).length > 0) break;
      expect(running).toBe(true);
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGINT');
    expect(await exited).toEqual({ code: null, signal: 'SIGINT' });
    expect(readdirSync(tmp)).toEqual([]);
    rmSync(tarPath);
  });
});
