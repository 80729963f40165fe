/**
 * SHA256SUMS and hashdeep.txt: what we write must be what the real tools check. `sha256sum -c`
 * (coreutils) and `hashdeep -a` (Debian package hashdeep) audit a generated tree clean, and fail
 * once one byte of one file changes. The parsers read back exactly what the formatters write and
 * refuse what they do not.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CustodyError } from '../../src/errors.js';
import { formatHashdeep, formatSha256Sums, parseHashdeep, parseSha256Sums, type SizedFileHash } from '../../src/bundle/sums.js';

function has(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { encoding: 'utf8' }).error === undefined;
}
const HAVE_SHA256SUM = has('sha256sum');
const HAVE_HASHDEEP = spawnSync('hashdeep', ['-V'], { encoding: 'utf8' }).error === undefined;
if (!HAVE_SHA256SUM) console.warn('bundle-sums: sha256sum checks skipped — `sha256sum` is not installed (Debian package: coreutils)');
if (!HAVE_HASHDEEP) console.warn('bundle-sums: hashdeep audits skipped — `hashdeep` is not installed (Debian package: hashdeep)');

const roots: string[] = [];
afterAll(() => {
  for (const d of roots) rmSync(d, { recursive: true, force: true });
});

const FILES: Record<string, string | Uint8Array> = {
  'manifest.json': '{"case":"IR-2026-014"}\n',
  'manifest.sig': new Uint8Array(64).fill(7),
  'evidence/web-01/auth.log': 'Nov 23 14:00:01 web-01 sshd[812]: Accepted password for admin from 203.0.113.9\n'.repeat(500),
  'evidence/web-01/empty.log': '',
  'evidence/web 02/with space, and comma.log': 'odd names too\n',
  'report/報告書.md': '# 報告書\n',
  'timeline/timeline.csv': 'message,datetime,timestamp_desc\n',
};

/** Writes the tree and returns what the formatters take. */
function makeTree(): { dir: string; files: SizedFileHash[] } {
  const dir = mkdtempSync(join(tmpdir(), 'custody-sums-'));
  roots.push(dir);
  const files: SizedFileHash[] = [];
  for (const [path, content] of Object.entries(FILES)) {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), bytes);
    files.push({ path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  return { dir, files };
}

function flipOneByte(path: string): void {
  const bytes = readFileSync(path);
  const at = Math.floor(bytes.length / 2);
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  writeFileSync(path, bytes);
}

function run(cmd: string, args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('SHA256SUMS', () => {
  it('is sorted, two spaces, one line per file', () => {
    const { files } = makeTree();
    const text = formatSha256Sums([...files].reverse());
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => l.slice(66))).toEqual([...Object.keys(FILES)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const l of lines) expect(l).toMatch(/^[0-9a-f]{64} {2}\S/);
    expect(parseSha256Sums(text)).toEqual([...files].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path))).map(({ path, sha256 }) => ({ path, sha256 })));
  });

  it.skipIf(!HAVE_SHA256SUM)('passes `sha256sum -c`, and fails it after one byte changes', () => {
    const { dir, files } = makeTree();
    writeFileSync(join(dir, 'SHA256SUMS'), formatSha256Sums(files));
    const ok = run('sha256sum', ['-c', '--strict', 'SHA256SUMS'], dir);
    expect(ok.out).not.toContain('FAILED');
    expect(ok.status).toBe(0);
    flipOneByte(join(dir, 'evidence/web-01/auth.log'));
    const bad = run('sha256sum', ['-c', '--strict', 'SHA256SUMS'], dir);
    expect(bad.status).toBe(1);
    expect(bad.out).toContain('evidence/web-01/auth.log: FAILED');
  });

  it('agrees with what sha256sum itself writes', () => {
    if (!HAVE_SHA256SUM) return;
    const { dir, files } = makeTree();
    const theirs = run('sha256sum', ['--', ...files.map((f) => f.path)], dir);
    expect(theirs.status).toBe(0);
    expect(parseSha256Sums(theirs.out)).toEqual(expect.arrayContaining(files.map(({ path, sha256 }) => ({ path, sha256 }))));
  });

  it.each([
    ['a\nb', 'control_char_in_name'],
    ['a\\b', 'backslash_in_name'],
    ['../x', 'dot_dot'],
    ['/etc/passwd', 'absolute_path'],
  ])('refuses the path %j (%s)', (path, problem) => {
    expect(() => formatSha256Sums([{ path, sha256: 'a'.repeat(64) }])).toThrow(problem);
    expect(() => formatHashdeep([{ path, size: 1, sha256: 'a'.repeat(64) }])).toThrow(problem);
  });

  it('refuses bad hashes, duplicates and malformed lines, naming the line', () => {
    expect(() => formatSha256Sums([{ path: 'a', sha256: 'A'.repeat(64) }])).toThrow(/64 lowercase hex/);
    expect(() => formatSha256Sums([{ path: 'a', sha256: 'a'.repeat(64) }, { path: 'a', sha256: 'b'.repeat(64) }])).toThrow(/listed twice/);
    const good = formatSha256Sums([{ path: 'a', sha256: 'a'.repeat(64) }]);
    for (const bad of [`${good}garbage\n`, good.replace('\n', '\r\n'), good.slice(0, -1), `\\${good}`, `${good}${'a'.repeat(64)} a\n`]) {
      const err = (() => {
        try {
          parseSha256Sums(bad, 'bundle/SHA256SUMS');
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(CustodyError);
      expect((err as CustodyError).code).toBe('E_SUMS_INVALID');
      expect((err as CustodyError).where).toBe('bundle/SHA256SUMS');
    }
  });

  it('round-trips any set of valid paths (property)', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9 _,.()\u00e9\u65e5-]{1,12}$/).filter((s) => s !== '.' && s !== '..');
    const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));
    const entry = fc.record({ path, sha256: fc.stringMatching(/^[0-9a-f]{64}$/), size: fc.nat() });
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => e.path, maxLength: 20 }), (entries) => {
        const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
        expect(parseSha256Sums(formatSha256Sums(entries))).toEqual(sorted.map(({ path: p, sha256 }) => ({ path: p, sha256 })));
        expect(parseHashdeep(formatHashdeep(entries))).toEqual(sorted.map(({ path: p, sha256, size }) => ({ size, sha256, path: p })));
      }),
    );
  });
});

describe('hashdeep.txt', () => {
  it('has the header hashdeep writes', () => {
    const text = formatHashdeep([{ path: 'a.txt', size: 6, sha256: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03' }]);
    expect(text).toBe(
      '%%%% HASHDEEP-1.0\n%%%% size,sha256,filename\n## Invoked from: .\n## $ hashdeep -c sha256 -r -l .\n## \n' +
        '6,5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03,./a.txt\n',
    );
  });

  it.skipIf(!HAVE_HASHDEEP)('reads what the real hashdeep -c sha256 -r -l writes', () => {
    const { dir, files } = makeTree();
    const theirs = run('hashdeep', ['-c', 'sha256', '-r', '-l', '.'], dir);
    expect(theirs.status).toBe(0);
    const parsed = parseHashdeep(theirs.out);
    const sorted = (xs: SizedFileHash[]) => [...xs].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
    expect(sorted(parsed)).toEqual(sorted(files).map(({ path, size, sha256 }) => ({ size, sha256, path })));
  });

  it.skipIf(!HAVE_HASHDEEP)('`hashdeep -c sha256 -r -l -a -k hashdeep.txt .` audits clean, and fails after one byte changes', () => {
    const { dir, files } = makeTree();
    // The audit of "." sees every file, so the audit file lives beside the tree, not in it.
    const known = join(dir, '..', `${dir.split('/').pop() ?? 'x'}.hashdeep.txt`);
    roots.push(known);
    writeFileSync(known, formatHashdeep(files));
    const ok = run('hashdeep', ['-c', 'sha256', '-r', '-l', '-a', '-k', known, '.'], dir);
    expect(ok.out).toContain('hashdeep: Audit passed');
    expect(ok.status).toBe(0);
    flipOneByte(join(dir, 'evidence/web-01/auth.log'));
    const bad = run('hashdeep', ['-c', 'sha256', '-r', '-l', '-a', '-vv', '-k', known, '.'], dir);
    expect(bad.out).toContain('hashdeep: Audit failed');
    expect(bad.status).not.toBe(0);
  });

  it.skipIf(!HAVE_HASHDEEP)('audits clean from the bundle root when the names are given without "./"', () => {
    const { dir, files } = makeTree();
    writeFileSync(join(dir, 'hashdeep.txt'), formatHashdeep(files, { prefix: '' }));
    const ok = run('hashdeep', ['-c', 'sha256', '-r', '-l', '-a', '-k', 'hashdeep.txt', 'manifest.json', 'manifest.sig', 'evidence', 'report', 'timeline'], dir);
    expect(ok.out).toContain('hashdeep: Audit passed');
    expect(ok.status).toBe(0);
    // hashdeep.txt inside the audited tree is a "new file" to hashdeep: the bundle layout must allow for that.
    const all = run('hashdeep', ['-c', 'sha256', '-r', '-l', '-a', '-k', 'hashdeep.txt', '.'], dir);
    expect(all.out).toContain('hashdeep: Audit failed');
    flipOneByte(join(dir, 'manifest.json'));
    const bad = run('hashdeep', ['-c', 'sha256', '-r', '-l', '-a', '-k', 'hashdeep.txt', 'manifest.json', 'manifest.sig', 'evidence', 'report', 'timeline'], dir);
    expect(bad.out).toContain('hashdeep: Audit failed');
  });

  it('refuses files that are not hashdeep audit files, naming the line', () => {
    const good = formatHashdeep([{ path: 'a', size: 1, sha256: 'a'.repeat(64) }]);
    expect(() => parseHashdeep('%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n')).toThrow(/does not start with/);
    expect(() => parseHashdeep(`${good}1,${'b'.repeat(64)}\n`)).toThrow(/line 7 is not/);
    expect(() => parseHashdeep(`${good}01,${'b'.repeat(64)},./b\n`)).toThrow(/line 7 is not/);
    expect(() => parseHashdeep(`${good}1,${'b'.repeat(64)},b\n`)).toThrow(/does not start with "\.\/"/);
    expect(() => parseHashdeep(`${good}1,${'b'.repeat(64)},./a\n`)).toThrow(/listed twice/);
    expect(() => formatHashdeep([{ path: 'a', size: -1, sha256: 'a'.repeat(64) }])).toThrow(/not a byte count/);
  });
});
