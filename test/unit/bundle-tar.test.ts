/**
 * The bundle tar: deterministic writing checked against GNU tar (it must list and extract ours
 * byte-exact), our reader checked on GNU tar's own ustar and pax output, and a matrix of hostile
 * archives crafted byte by byte (independently of our encoder) that must each be refused with its
 * own reason, leaving the folder we extract into exactly as it was.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CustodyError } from '../../src/errors.js';
import { entryHeaders, extractTar, listTar, planTar, tarChunks, writeTar, writeTarFile, TarRefusal, type TarInput, type TarRefusalReason } from '../../src/bundle/tar.js';
import { USTAR_MAX_SIZE, parsePax } from '../../src/bundle/tar-header.js';

const HAVE_GNU_TAR = /GNU tar/.test(spawnSync('tar', ['--version'], { encoding: 'utf8' }).stdout ?? '');
if (!HAVE_GNU_TAR) console.warn('bundle-tar: GNU tar interop skipped — GNU `tar` is not installed (Debian package: tar)');

const roots: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'custody-tar-'));
  roots.push(d);
  return d;
}
afterAll(() => {
  for (const d of roots) rmSync(d, { recursive: true, force: true });
});

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

async function tarBytes(entries: TarInput[], mtime = 0): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of tarChunks(entries, { mtime })) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Every file under a folder, relative path → content hash, and every folder (with a trailing '/'). */
function tree(dir: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === '' ? e.name : `${prefix}/${e.name}`;
    if (e.isDirectory()) {
      out.set(`${rel}/`, 'dir');
      for (const [k, v] of tree(dir, rel)) out.set(k, v);
    } else if (e.isFile()) out.set(rel, sha256(readFileSync(join(dir, rel))));
    else out.set(rel, 'other');
  }
  return out;
}

const LONG_DIR = `${'d'.repeat(60)}/${'e'.repeat(60)}`; // > 100 bytes with its file: needs the ustar prefix
const VERY_LONG = `${'x'.repeat(200)}/${'y'.repeat(120)}.log`; // fits no ustar split: needs a pax path

function sampleEntries(): TarInput[] {
  const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31) & 0xff);
  return [
    { path: 'manifest.json', data: Buffer.from('{"case":"IR-2026-014"}\n') },
    { path: 'evidence/web-01/store.sqlite', size: big.length, stream: async function* () {
      for (let i = 0; i < big.length; i += 65536) yield big.subarray(i, i + 65536);
    } },
    { path: 'evidence/web-01/empty.log', data: new Uint8Array(0) },
    { path: 'report/報告書.md', data: Buffer.from('# 報告書\n') },
    { path: `${LONG_DIR}/file.txt`, data: Buffer.from('long\n') },
    { path: VERY_LONG, data: Buffer.from('very long\n') },
    { path: 'timeline', type: 'dir' },
  ];
}

describe('writing a tar', () => {
  it('is deterministic: the same entries in any order give the same bytes', async () => {
    const a = await tarBytes(sampleEntries(), 1_795_000_000);
    const b = await tarBytes([...sampleEntries()].reverse(), 1_795_000_000);
    expect(sha256(b)).toBe(sha256(a));
    expect(a.length % 512).toBe(0);
    expect(a.subarray(a.length - 1024).every((x) => x === 0)).toBe(true);
    // A different mtime is a different archive; nothing else varies.
    expect(sha256(await tarBytes(sampleEntries(), 0))).not.toBe(sha256(a));
  });

  it('writes parent directories, sorted bytewise, and a pax header only where a path needs one', () => {
    const plan = planTar(sampleEntries()).map((e) => (e.type === 'dir' ? `${e.path}/` : e.path));
    expect(plan).toEqual([...plan].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    expect(plan).toContain('evidence/');
    expect(plan).toContain('evidence/web-01/');
    expect(plan.indexOf('evidence/')).toBeLessThan(plan.indexOf('evidence/web-01/empty.log'));
    // ustar only (one block) for short and prefix-split paths; pax (header, data, ustar) for the very long one.
    expect(entryHeaders({ path: 'manifest.json', type: 'file', size: 1 }, 0)).toHaveLength(1);
    expect(entryHeaders({ path: `${LONG_DIR}/file.txt`, type: 'file', size: 1 }, 0)).toHaveLength(1);
    expect(entryHeaders({ path: VERY_LONG, type: 'file', size: 1 }, 0).length).toBeGreaterThan(1);
  });

  it('carries sizes of 8 GiB and more in a pax size record', () => {
    const blocks = entryHeaders({ path: 'huge.bin', type: 'file', size: USTAR_MAX_SIZE + 1 }, 0);
    const pax = Buffer.concat(blocks.slice(1, -1));
    const header = blocks[0] as Uint8Array;
    expect(String.fromCharCode(header[156] as number)).toBe('x');
    const len = parseInt(Buffer.from(header.subarray(124, 135)).toString('ascii'), 8);
    expect(parsePax(pax.subarray(0, len), 0)).toEqual({ size: USTAR_MAX_SIZE + 1 });
  });

  it('streams file data and refuses a stream that does not give its declared size', async () => {
    const short: TarInput = { path: 'a.bin', size: 10, stream: async function* () { yield new Uint8Array(9); } };
    await expect(tarBytes([short])).rejects.toThrow(/gave 9 bytes, the entry declared 10/);
    const long: TarInput = { path: 'a.bin', size: 10, stream: async function* () { yield new Uint8Array(11); } };
    await expect(tarBytes([long])).rejects.toThrow(/gave more than 10 bytes, the entry declared 10/);
  });

  it.each([
    ['../x', 'dot_dot'],
    ['/etc/passwd', 'absolute_path'],
    ['a/./b', 'non_normal_path'],
    ['a//b', 'non_normal_path'],
    ['a\\..\\b', 'backslash_in_name'],
    ['a\nb', 'control_char_in_name'],
    ['a\u0000b', 'nul_in_name'],
    ['', 'empty_path'],
  ])('refuses the path %j (%s)', async (path, problem) => {
    const err = await tarBytes([{ path, data: new Uint8Array(1) }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CustodyError);
    expect((err as CustodyError).code).toBe('E_BUNDLE_PATH_INVALID');
    expect((err as CustodyError).message).toContain(problem);
  });

  it('refuses a path given twice and a path under a file', async () => {
    await expect(tarBytes([{ path: 'a', data: new Uint8Array(1) }, { path: 'a', data: new Uint8Array(2) }])).rejects.toThrow(/given twice/);
    await expect(tarBytes([{ path: 'a', data: new Uint8Array(1) }, { path: 'a/b', data: new Uint8Array(2) }])).rejects.toThrow(/parent "a" is a file/);
  });

  it('writes to a file (never over an existing one) and reports the size and hash', async () => {
    const dir = tmp();
    const path = join(dir, 'bundle.tar');
    const written = await writeTarFile(sampleEntries(), path, { mtime: 1_795_000_000 });
    const bytes = readFileSync(path);
    expect(written).toEqual({ size: bytes.length, sha256: sha256(bytes) });
    await expect(writeTarFile(sampleEntries(), path)).rejects.toThrow(CustodyError);
    const chunks: Uint8Array[] = [];
    expect((await writeTar(sampleEntries(), (c) => void chunks.push(Buffer.from(c)), { mtime: 1_795_000_000 })).sha256).toBe(written.sha256);
  });
});

describe.skipIf(!HAVE_GNU_TAR)('GNU tar reads ours, we read GNU tar', () => {
  it('GNU tar lists and extracts our archive byte-exact, with fixed owner, modes and mtime', async () => {
    const dir = tmp();
    const path = join(dir, 'ours.tar');
    await writeTarFile(sampleEntries(), path, { mtime: 1_795_000_000 });
    const expected = planTar(sampleEntries()).map((e) => (e.type === 'dir' ? `${e.path}/` : e.path));
    expect(run('tar', ['-tf', path]).split('\n').filter(Boolean)).toEqual(expected);
    const verbose = run('tar', ['--numeric-owner', '--full-time', '-tvf', path], undefined).split('\n').filter(Boolean);
    for (const line of verbose) {
      expect(line).toMatch(/^(-rw-r--r--|drwxr-xr-x) 0\/0 /);
      expect(line).toContain('2026-11-18 ');
    }
    const out = join(dir, 'gnu-x');
    mkdirSync(out);
    run('tar', ['-xf', path, '-C', out]);
    // Our own reader extracts the same tree, and both hold the bytes we put in.
    const ours = join(dir, 'ours-x');
    const listing = await extractTar(path, ours);
    expect(tree(ours)).toEqual(tree(out));
    for (const input of sampleEntries()) {
      if (!('data' in input)) continue;
      expect(sha256(readFileSync(join(out, input.path)))).toBe(sha256(input.data));
    }
    const big = listing.entries.find((e) => e.path === 'evidence/web-01/store.sqlite');
    expect(big?.sha256).toBe(sha256(readFileSync(join(out, 'evidence/web-01/store.sqlite'))));
    expect(statSync(join(out, 'manifest.json')).mode & 0o777).toBe(0o644);
  });

  function gnuSource(withVeryLong: boolean): string {
    const src = join(tmp(), 'src');
    mkdirSync(join(src, 'evidence/web-01'), { recursive: true });
    mkdirSync(join(src, LONG_DIR), { recursive: true });
    mkdirSync(join(src, 'empty-dir'));
    writeFileSync(join(src, 'manifest.json'), '{"a":1}\n');
    writeFileSync(join(src, 'evidence/web-01/auth.log'), 'Nov 23 sshd[1]: Accepted\n'.repeat(1000));
    writeFileSync(join(src, 'evidence/web-01/empty'), '');
    writeFileSync(join(src, '報告書.md'), '# 報告書\n');
    writeFileSync(join(src, `${LONG_DIR}/file.txt`), 'long\n');
    if (withVeryLong) {
      mkdirSync(join(src, 'x'.repeat(200)));
      writeFileSync(join(src, VERY_LONG), 'very long\n');
    }
    return src;
  }

  it.each([
    ['ustar', false, ['-C', '.', '.']],
    ['pax', true, ['-C', '.', '.']],
    ['pax', true, ['-C', '.', 'manifest.json', 'evidence', '報告書.md', 'dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd', 'empty-dir', 'x'.repeat(200)]],
  ])('reads GNU tar --format=%s output (very long path: %s)', async (format, withVeryLong, members) => {
    const src = gnuSource(withVeryLong);
    const path = join(tmp(), `gnu-${format}.tar`);
    run('tar', [`--format=${format}`, '-cf', path, ...members], src);
    const listed = await listTar(path, { hash: true });
    const out = join(tmp(), 'x');
    const extracted = await extractTar(path, out);
    expect(tree(out)).toEqual(tree(src));
    expect(extracted.entries.map((e) => [e.path, e.sha256])).toEqual(listed.entries.map((e) => [e.path, e.sha256]));
  });

  it('refuses GNU tar --format=gnu and --format=v7 output as formats it does not accept', async () => {
    const src = gnuSource(false);
    for (const format of ['gnu', 'oldgnu', 'v7']) {
      const path = join(tmp(), `${format}.tar`);
      run('tar', [`--format=${format}`, '-cf', path, 'manifest.json'], src);
      const err = await listTar(path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TarRefusal);
      expect((err as TarRefusal).reason).toBe('unsupported_format');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile archives, crafted byte by byte with this test's own header writer.

interface Raw {
  name?: string | Uint8Array;
  prefix?: string;
  size?: number;
  sizeField?: Uint8Array; // exact bytes of the 12-byte size field
  type?: string;
  linkname?: string;
  magic?: string; // 8 bytes: magic + version
  corruptChecksum?: boolean;
}

function rawHeader(h: Raw): Buffer {
  const b = Buffer.alloc(512);
  const put = (at: number, s: string | Uint8Array) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s)).copy(b, at);
  put(0, h.name ?? 'file.txt');
  put(100, '0000644\0');
  put(108, '0000000\0');
  put(116, '0000000\0');
  if (h.sizeField !== undefined) put(124, h.sizeField);
  else put(124, `${(h.size ?? 0).toString(8).padStart(11, '0')}\0`);
  put(136, '00000000000\0');
  put(156, h.type ?? '0');
  put(157, h.linkname ?? '');
  put(257, h.magic ?? 'ustar\u000000');
  put(345, h.prefix ?? '');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  if (h.corruptChecksum === true) sum += 1;
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  return b;
}

function padded(data: string | Uint8Array): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  return Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
}

function file(name: string | Uint8Array, content = 'x', extra: Partial<Raw> = {}): Buffer {
  return Buffer.concat([rawHeader({ name, size: Buffer.byteLength(content), ...extra }), padded(content)]);
}

function paxEntry(records: Record<string, string>): Buffer {
  let data = '';
  for (const [k, v] of Object.entries(records)) {
    const body = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    data += `${len}${body}`;
  }
  return Buffer.concat([rawHeader({ name: 'PaxHeaders/x', type: 'x', size: Buffer.byteLength(data) }), padded(data)]);
}

const END = Buffer.alloc(1024);
const OK = file('ok.txt', 'a good file before the bad one\n');

function victimPath(): string {
  return join(tmpdir(), `custody-tar-victim-${process.pid}`);
}

const hostile: [string, TarRefusalReason, () => Buffer][] = [
  ['../x', 'dot_dot', () => Buffer.concat([OK, file('../x'), END])],
  ['absolute /tmp path', 'absolute_path', () => Buffer.concat([OK, file(victimPath()), END])],
  ['a/../../x', 'dot_dot', () => Buffer.concat([OK, file('a/../../x'), END])],
  ['symlink, then a file through it', 'symlink', () => Buffer.concat([OK, rawHeader({ name: 'l', type: '2', linkname: tmpdir() }), file('l/x'), END])],
  ['hard link', 'hard_link', () => Buffer.concat([OK, rawHeader({ name: 'h', type: '1', linkname: 'ok.txt' }), END])],
  ['character device', 'char_device', () => Buffer.concat([OK, rawHeader({ name: 'null', type: '3' }), END])],
  ['block device', 'block_device', () => Buffer.concat([OK, rawHeader({ name: 'sda', type: '4' }), END])],
  ['FIFO', 'fifo', () => Buffer.concat([OK, rawHeader({ name: 'pipe', type: '6' }), END])],
  ['duplicate entry', 'duplicate', () => Buffer.concat([OK, file('ok.txt', 'replaced'), END])],
  ['case collision', 'case_collision', () => Buffer.concat([OK, file('OK.TXT'), END])],
  ['file below a file', 'path_conflict', () => Buffer.concat([OK, file('ok.txt/x'), END])],
  ['bad checksum', 'bad_checksum', () => Buffer.concat([OK, file('b', 'x', { corruptChecksum: true }), END])],
  ['truncated header', 'truncated_header', () => Buffer.concat([OK, file('b').subarray(0, 300)])],
  ['truncated data', 'truncated_data', () => Buffer.concat([OK, rawHeader({ name: 'b', size: 5000 }), Buffer.alloc(1024, 0x41)])],
  ['no end marker', 'truncated_archive', () => Buffer.concat([OK])],
  ['one zero block, then data', 'bad_end_marker', () => Buffer.concat([OK, Buffer.alloc(512), file('b')])],
  ['garbage after the end marker', 'trailing_data', () => Buffer.concat([OK, END, Buffer.from('hidden payload')])],
  ['octal garbage in the size', 'bad_number', () => Buffer.concat([OK, rawHeader({ name: 'b', sizeField: Buffer.from('0000000001x\0') }), END])],
  ['base-256 size (overflow)', 'bad_number', () => Buffer.concat([OK, rawHeader({ name: 'b', sizeField: Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0]) }), END])],
  ['NUL inside the name', 'nul_in_name', () => Buffer.concat([OK, file(Buffer.from('evil\0.txt')), END])],
  ['huge declared size', 'too_large', () => Buffer.concat([OK, rawHeader({ name: 'b', size: 0o77777777777 }), END])],
  ['backslash traversal', 'backslash_in_name', () => Buffer.concat([OK, file('..\\..\\x'), END])],
  ['newline in the name', 'control_char_in_name', () => Buffer.concat([OK, file('a\nb'), END])],
  ['invalid UTF-8 name', 'bad_name_encoding', () => Buffer.concat([OK, file(Buffer.from([0x61, 0xff, 0x62])), END])],
  ['old GNU header', 'unsupported_format', () => Buffer.concat([OK, file('b', 'x', { magic: 'ustar  \0' }), END])],
  ['v7 header (no magic)', 'unsupported_format', () => Buffer.concat([OK, file('b', 'x', { magic: '\0\0\0\0\0\0\0\0' }), END])],
  ['GNU long name', 'unsupported_type', () => Buffer.concat([OK, rawHeader({ name: '././@LongLink', type: 'L', size: 4 }), padded('../x'), file('b'), END])],
  ['pax global header', 'unsupported_type', () => Buffer.concat([OK, rawHeader({ name: 'g', type: 'g', size: 0 }), file('b'), END])],
  ['pax path with ..', 'dot_dot', () => Buffer.concat([OK, paxEntry({ path: '../../x' }), file('innocent'), END])],
  ['pax sparse file', 'unsupported_pax_key', () => Buffer.concat([OK, paxEntry({ 'GNU.sparse.map': '0,1' }), file('b'), END])],
  ['pax linkpath', 'unsupported_pax_key', () => Buffer.concat([OK, paxEntry({ linkpath: '/etc/shadow' }), file('b'), END])],
  ['pax size garbage', 'bad_number', () => Buffer.concat([OK, paxEntry({ size: '12abc' }), file('b'), END])],
  ['malformed pax record', 'bad_pax', () => Buffer.concat([OK, rawHeader({ name: 'p', type: 'x', size: 12 }), padded('99 path=x\n\n\n'), file('b'), END])],
  ['pax header at the end', 'bad_pax', () => Buffer.concat([OK, paxEntry({ path: 'b' }), END])],
  ['directory with data', 'bad_header', () => Buffer.concat([OK, rawHeader({ name: 'd/', type: '5', size: 512 }), Buffer.alloc(512), END])],
  ['unknown entry type', 'unsupported_type', () => Buffer.concat([OK, rawHeader({ name: 'c', type: '7' }), END])],
];

describe('hostile archives are refused, and nothing is written', () => {
  it.each(hostile)('%s → %s', async (_label, reason, build) => {
    const base = tmp();
    const archive = join(base, 'hostile.tar');
    writeFileSync(archive, build());
    const parent = join(base, 'parent');
    mkdirSync(parent);
    writeFileSync(join(parent, 'sentinel'), 'untouched');
    const before = tree(base);
    const limits = reason === 'too_large' ? { maxEntrySize: 1024 * 1024 } : {};

    const listed = await listTar(archive, { limits }).catch((e: unknown) => e);
    expect(listed).toBeInstanceOf(TarRefusal);
    expect((listed as TarRefusal).reason).toBe(reason);

    const err = await extractTar(archive, join(parent, 'target'), limits).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TarRefusal);
    const refusal = err as TarRefusal;
    expect(refusal.code).toBe('E_TAR_REFUSED');
    expect(refusal.reason).toBe(reason);
    expect(refusal.message).toContain(`(${reason})`);
    expect(refusal.message).toMatch(/at offset \d+/);
    expect(refusal.offset).toBeGreaterThanOrEqual(OK.length); // the good first entry is not blamed
    expect(refusal.where).toBe(`${archive}@${refusal.offset}`);
    // Nothing half-written: not the good first file, not a temp folder, nothing outside.
    expect(tree(base)).toEqual(before);
    expect(existsSync(join(base, 'x'))).toBe(false);
    expect(existsSync(victimPath())).toBe(false);
  });

  it('names the entry in the refusal', async () => {
    const archive = join(tmp(), 'a.tar');
    writeFileSync(archive, Buffer.concat([OK, file('../etc/cron.d/evil'), END]));
    await expect(listTar(archive)).rejects.toThrow(`tar refused (dot_dot) at offset ${OK.length}, entry "../etc/cron.d/evil"`);
  });

  it('refuses more entries than the limit', async () => {
    const archive = join(tmp(), 'a.tar');
    writeFileSync(archive, Buffer.concat([OK, file('b'), END]));
    await expect(listTar(archive, { limits: { maxEntries: 1 } })).rejects.toMatchObject({ reason: 'too_many_entries' });
    await expect(listTar(archive, { limits: { maxTotalSize: 10 } })).rejects.toMatchObject({ reason: 'total_too_large' });
    await expect(listTar(archive)).resolves.toMatchObject({ entries: [{ path: 'ok.txt' }, { path: 'b' }] });
  });

  it('refuses a path deeper than the limit before creating anything for it, naming the entry', async () => {
    const base = tmp();
    const archive = join(base, 'deep.tar');
    const deep = `${Array<string>(1800).fill('a').join('/')}/f`;
    writeFileSync(archive, Buffer.concat([OK, paxEntry({ path: deep }), file('ignored-name', 'deep\n'), END]));
    const err = await extractTar(archive, join(base, 'out')).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'too_deep', offset: OK.length, entry: deep });
    expect((err as TarRefusal).detail).toBe('the path has 1801 components, folders within folders (limit 32)');
    expect(readdirSync(base)).toEqual(['deep.tar']);
    // At the limit it is accepted; one more component is refused.
    const edge = join(base, 'edge.tar');
    writeFileSync(edge, Buffer.concat([file(Array<string>(32).fill('b').join('/')), END]));
    await expect(listTar(edge)).resolves.toMatchObject({ entries: [{ path: Array<string>(32).fill('b').join('/') }] });
    await expect(listTar(edge, { limits: { maxDepth: 31 } })).rejects.toMatchObject({ reason: 'too_deep' });
  });

  it('accepts the well-formed remainder of the matrix (the crafting helper is sound)', async () => {
    const base = tmp();
    const archive = join(base, 'fine.tar');
    writeFileSync(archive, Buffer.concat([OK, paxEntry({ path: 'dir/from-pax.txt', mtime: '1.5' }), file('ignored-name', 'pax\n'), rawHeader({ name: 'dir/', type: '5' }), file('x', 'ustar\n', { prefix: 'dir' }), END, Buffer.alloc(8192)]));
    const listing = await extractTar(archive, join(base, 'out'));
    expect(listing.entries.map((e) => e.path)).toEqual(['ok.txt', 'dir/from-pax.txt', 'dir', 'dir/x']);
    expect(readFileSync(join(base, 'out/dir/from-pax.txt'), 'utf8')).toBe('pax\n');
    expect(readFileSync(join(base, 'out/dir/x'), 'utf8')).toBe('ustar\n');
  });

  it('refuses to extract into a folder that exists, and leaves it alone', async () => {
    const base = tmp();
    const archive = join(base, 'fine.tar');
    writeFileSync(archive, Buffer.concat([OK, END]));
    mkdirSync(join(base, 'target'));
    await expect(extractTar(archive, join(base, 'target'))).rejects.toMatchObject({ code: 'E_IO' });
    expect(readdirSync(join(base, 'target'))).toEqual([]);
  });
});
