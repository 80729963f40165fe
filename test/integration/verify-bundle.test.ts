/**
 * verifyBundle against hostile input: tars with `..`, absolute paths, symlinks, hard links,
 * devices, duplicates, oversized or malformed headers are refused with a named finding and nothing
 * is written outside the verifier's temporary folder (which is removed); a bundle folder with a
 * symlink, a FIFO or an unlisted file gets each named, and the symlink is never followed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../collector/verify-bundle.js';

const CLI = join(__dirname, '..', '..', 'dist', 'src', 'cli.js');
const AUTH = fileURLToPath(new URL('../fixtures/beats/filebeat/module/system/auth/test/test.log', import.meta.url));
let work: string;
let bundle: string;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}
/** A raw ustar header block (with its checksum), so the test can say things our writer never would. */
function header(name: string, type: string, size: number, opts: { linkname?: string; badChecksum?: boolean; sizeField?: string } = {}): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write(octal(0o644, 8), 100, 'ascii');
  b.write(octal(0, 8), 108, 'ascii');
  b.write(octal(0, 8), 116, 'ascii');
  b.write(opts.sizeField ?? octal(size, 12), 124, 'ascii');
  b.write(octal(0, 12), 136, 'ascii');
  b.write('        ', 148, 'ascii');
  b.write(type, 156, 'ascii');
  if (opts.linkname !== undefined) b.write(opts.linkname, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 'ascii');
  let sum = 0;
  for (const byte of b) sum += byte;
  if (opts.badChecksum) sum += 1;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return b;
}
function file(name: string, data: string, opts: Parameters<typeof header>[3] = {}): Buffer {
  const body = Buffer.from(data);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([header(name, '0', body.length, opts), body, pad]);
}
const END = Buffer.alloc(1024);

/** The temporary folder verify extracts into (os.tmpdir() reads TMPDIR): this file's own, so other test files running at the same time cannot change the count of custody-verify-* folders in it. */
let privateTmp: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-verify-bundle-'));
  privateTmp = join(work, 'tmp');
  mkdirSync(privateTmp);
  process.env['TMPDIR'] = privateTmp;
  const run = (...args: string[]): void => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    expect(r.stderr).not.toContain('custody:');
    expect(r.status).toBe(0);
  };
  run('import', '--store', join(work, 'store'), '--host', 'ws-07', AUTH);
  bundle = join(work, 'bundle');
  run('collect', '--case', 'IR-V', '--store', join(work, 'store'), '--out', bundle);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('verifyBundle: hostile tars', () => {
  const escape = `escaped-${process.pid}`;
  const cases: Array<{ name: string; tar: () => Buffer; reason: string }> = [
    { name: "a '..' path", tar: () => Buffer.concat([file(`../${escape}`, 'x'), END]), reason: 'tar.dot_dot' },
    { name: 'an absolute path', tar: () => Buffer.concat([file(join(work, escape), 'x'), END]), reason: 'tar.absolute_path' },
    { name: 'a symlink', tar: () => Buffer.concat([header('manifest.json', '2', 0, { linkname: '/etc/passwd' }), END]), reason: 'tar.' },
    { name: 'a hard link', tar: () => Buffer.concat([file('a', 'x'), header('b', '1', 0, { linkname: 'a' }), END]), reason: 'tar.' },
    { name: 'a device', tar: () => Buffer.concat([header('dev', '3', 0), END]), reason: 'tar.' },
    { name: 'a duplicate path', tar: () => Buffer.concat([file('a', 'x'), file('a', 'y'), END]), reason: 'tar.duplicate' },
    { name: 'an oversized entry', tar: () => Buffer.concat([header('big', '0', 0, { sizeField: octal(0o77777777777, 12) }), END]), reason: 'tar.' },
    { name: 'a malformed header (checksum)', tar: () => Buffer.concat([file('a', 'x', { badChecksum: true }), END]), reason: 'tar.' },
    { name: 'a truncated archive', tar: () => file('a', 'x'.repeat(2000)).subarray(0, 1024), reason: 'tar.' },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}, writes nothing outside`, async () => {
      const tarPath = join(work, `hostile-${c.name.replace(/\W+/g, '-')}.tar`);
      writeFileSync(tarPath, c.tar());
      expect(tmpdir()).toBe(privateTmp);
      const before = readdirSync(tmpdir()).filter((n) => n.startsWith('custody-verify-')).length;
      const r = await verifyBundle(tarPath);
      expect(r.ok).toBe(false);
      expect(r.findings).toHaveLength(1);
      expect(r.findings[0]?.code.startsWith(c.reason)).toBe(true);
      expect(r.findings[0]?.where).toContain(tarPath);
      expect(existsSync(join(tmpdir(), escape))).toBe(false);
      expect(existsSync(join(work, escape))).toBe(false);
      expect(readdirSync(tmpdir()).filter((n) => n.startsWith('custody-verify-')).length).toBeLessThanOrEqual(before);
    });
  }

  it('an archive our writer accepts but with a file the manifest does not list: named', async () => {
    const dir = join(work, 'extra');
    cpSync(bundle, dir, { recursive: true });
    writeFileSync(join(dir, 'evidence', 'planted.txt'), 'not evidence\n');
    const tarPath = join(work, 'extra.tar');
    expect(spawnSync('tar', ['--format=ustar', '-cf', tarPath, '-C', dir, '.']).status).toBe(0);
    const r = await verifyBundle(tarPath);
    expect(r.ok).toBe(false);
    expect(r.findings.map((f) => [f.code, f.where])).toContainEqual(['file.unlisted', 'evidence/planted.txt']);
  });
});

describe('verifyBundle: hostile bundle folders', () => {
  it('the untouched bundle is valid', async () => {
    const r = await verifyBundle(bundle);
    expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('a symlink is named and never followed; a FIFO and an unlisted file are named', async () => {
    const dir = join(work, 'hostile-dir');
    cpSync(bundle, dir, { recursive: true });
    symlinkSync('/etc/passwd', join(dir, 'timeline', 'passwd'));
    // Replace a listed file by a symlink to a copy of itself: following it would make it "match".
    const csv = join(dir, 'tables', 'gaps.csv');
    cpSync(csv, join(work, 'gaps-copy.csv'));
    rmSync(csv);
    symlinkSync(join(work, 'gaps-copy.csv'), csv);
    expect(spawnSync('mkfifo', [join(dir, 'evidence', 'fifo')]).status).toBe(0);
    writeFileSync(join(dir, 'extra.txt'), 'x');
    const r = await verifyBundle(dir);
    expect(r.ok).toBe(false);
    const named = r.findings.map((f) => `${f.code} ${f.where}`);
    expect(named).toEqual(
      expect.arrayContaining([
        'file.symlink timeline/passwd',
        'file.symlink tables/gaps.csv',
        'file.not_regular tables/gaps.csv',
        'file.special evidence/fifo',
        'file.unlisted extra.txt',
      ]),
    );
  });

  it('a missing file and a missing manifest are named', async () => {
    const dir = join(work, 'missing');
    cpSync(bundle, dir, { recursive: true });
    rmSync(join(dir, 'tables', 'logons.csv'));
    const r = await verifyBundle(dir);
    expect(r.findings.map((f) => `${f.code} ${f.where}`)).toContain('file.missing tables/logons.csv');
    rmSync(join(dir, 'manifest.json'));
    const none = await verifyBundle(dir);
    expect(none.ok).toBe(false);
    expect(none.findings.map((f) => f.code)).toEqual(['manifest.missing']);
  });
});
