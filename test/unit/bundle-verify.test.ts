/**
 * The bundle verifier is pure over its reader: run over an in-memory bundle (a Map of path → bytes,
 * built from a real collected bundle) it says what the folder verifier says, reads each file once
 * (the manifest twice: hashed with the others, then parsed, as before), and names the attacks
 * anyone who handles a bundle can make: a file edited, a file added, the manifest edited, the
 * manifest signed by a fresh key.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectCase } from '../../collector/collect.js';
import { walkBundleDir } from '../../collector/bundle-files.js';
import { importFiles } from '../../collector/import.js';
import { verifyBundle } from '../../collector/verify-bundle.js';
import { manifestBytes, parseManifest } from '../../src/bundle/manifest.js';
import { compareBundlePaths } from '../../src/bundle/paths.js';
import { systemClock } from '../../src/clock.js';
import { fingerprint, generateEd25519, signBytes } from '../../src/integrity/keys.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { checkBundle, type BundleEntry, type BundleReader, type BundleVerification, type OpenedStore } from '../../src/verify/bundle-verify.js';

const AUTH = join(__dirname, '..', 'fixtures', 'beats', 'filebeat', 'module', 'system', 'auth', 'test', 'test.log');

/** A bundle held in memory; counts what the verifier asks of each file. */
class MemoryBundleReader implements BundleReader {
  readonly reads = new Map<string, number>();
  private readonly files: Map<string, Uint8Array>;

  /** `root`: the name of the bundle in messages (store locations are `root/path/evidence.sqlite`, as a folder's are). */
  constructor(
    files: Map<string, Uint8Array>,
    private readonly root = '<memory>',
  ) {
    this.files = new Map(files);
  }

  private take(path: string): Uint8Array {
    const bytes = this.files.get(path);
    if (bytes === undefined) throw new Error(`the verifier asked for ${path}, which is not a file of the bundle`);
    this.reads.set(path, (this.reads.get(path) ?? 0) + 1);
    return bytes;
  }

  entries(): readonly BundleEntry[] {
    const out = new Map<string, BundleEntry>();
    for (const [path, bytes] of this.files) {
      out.set(path, { path, type: 'file', size: bytes.length });
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        out.set(dir, { path: dir, type: 'dir', size: 0 });
      }
    }
    return [...out.values()].sort((a, b) => compareBundlePaths(a.path, b.path));
  }

  hash(path: string): Promise<{ size: number; sha256: string }> {
    const bytes = this.take(path);
    return Promise.resolve({ size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  }

  read(path: string): Uint8Array {
    return this.take(path);
  }

  head(path: string, length: number): Uint8Array {
    return this.take(path).subarray(0, length);
  }

  lines(path: string): Iterable<string> | undefined {
    if (!this.files.has(path)) return undefined;
    const text = Buffer.from(this.take(path)).toString('utf8');
    return text.split(/(?<=\n)/).filter((l) => l !== '');
  }

  openStore(path: string): OpenedStore {
    return SqliteStoreReader.fromBytes(this.take(`${path}/evidence.sqlite`), join(this.root, path, 'evidence.sqlite'));
  }
}

let work: string;
let bundleDir: string;
let original: Map<string, Uint8Array>;

const codes = (r: BundleVerification): string[] => r.findings.map((f) => f.code);

function check(files: Map<string, Uint8Array>, options: Parameters<typeof checkBundle>[4] = {}): Promise<BundleVerification> {
  return checkBundle(new MemoryBundleReader(files), '<memory>', 'folder', [], options);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'custody-bundle-verify-'));
  const store = join(work, 'store');
  importFiles(store, [AUTH], { host: 'ws-07' });
  bundleDir = join(work, 'bundle');
  await collectCase(
    { caseId: 'IR-MEM', stores: [store], out: bundleDir },
    { clock: systemClock, collectorHost: 'ir-laptop', version: 'test', codeSha256: '0'.repeat(64) },
  );
  original = new Map();
  for (const e of walkBundleDir(bundleDir)) if (e.type === 'file') original.set(e.path, new Uint8Array(readFileSync(join(bundleDir, e.path))));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('checkBundle over an in-memory reader', () => {
  it('the untouched bundle: VALID with no finding, the same result as the folder verifier, each file read once', async () => {
    const reader = new MemoryBundleReader(original, bundleDir);
    const memory = await checkBundle(reader, bundleDir, 'folder', [], {});
    expect(memory.findings).toEqual([]);
    expect(memory.ok).toBe(true);
    expect(memory.hosts).toHaveLength(1);
    expect(memory.hosts[0]?.witness.ok).toBe(true);
    const folder = await verifyBundle(bundleDir);
    expect(memory).toEqual(folder);
    // Every file is hashed once; the small ones are read once more to be checked, the snapshot opened once.
    for (const [path, n] of reader.reads) {
      const evidence = path.endsWith('/evidence.sqlite');
      const secondRead = evidence || ['manifest.json', 'manifest.sig', 'SHA256SUMS', 'hashdeep.txt', 'custody.jsonl', 'collector.pem'].includes(path) || path.endsWith('/witness.note') || path.startsWith('timeline/') || path.startsWith('tables/');
      // evidence.sqlite: hashed, its header read, opened.
      expect(n, path).toBe(evidence ? 3 : secondRead ? 2 : 1);
    }
    expect([...reader.reads.keys()].sort()).toEqual([...original.keys()].sort());
  });

  it('a file edited: named with its hash', async () => {
    const files = new Map(original);
    const path = [...files.keys()].find((p) => p.startsWith('timeline/') && p.endsWith('.csv')) as string;
    const bytes = Buffer.from(files.get(path) as Uint8Array);
    bytes[bytes.length - 2] = bytes[bytes.length - 2] === 0x30 ? 0x31 : 0x30;
    files.set(path, bytes);
    const r = await check(files);
    expect(r.ok).toBe(false);
    expect(r.findings).toContainEqual(expect.objectContaining({ code: 'file.hash_mismatch', severity: 'error', where: path }));
  });

  it('a file added: named as unlisted', async () => {
    const files = new Map(original);
    files.set('timeline/notes.txt', new TextEncoder().encode('added later\n'));
    const r = await check(files);
    expect(r.ok).toBe(false);
    expect(r.findings).toContainEqual(expect.objectContaining({ code: 'file.unlisted', where: 'timeline/notes.txt' }));
  });

  it('the manifest edited (another case id, still canonical): the signature no longer holds', async () => {
    const files = new Map(original);
    const manifest = parseManifest(files.get('manifest.json') as Uint8Array);
    files.set('manifest.json', manifestBytes({ ...manifest, case: { ...manifest.case, id: 'IR-OTHER' } }));
    const r = await check(files);
    expect(r.ok).toBe(false);
    expect(r.case).toBe('IR-OTHER');
    expect(codes(r)).toContain('manifest.bad_signature');
    expect(r.findings).toContainEqual(expect.objectContaining({ code: 'sums.mismatch', where: 'SHA256SUMS: manifest.json' }));
  });

  it('the manifest signed by a fresh key: a bad signature under the old key; under a new key in the manifest, not the pinned collector and the witness fails', async () => {
    const pinned = parseManifest(original.get('manifest.json') as Uint8Array).collector.key.fingerprint;
    const fresh = generateEd25519();

    const sigOnly = new Map(original);
    sigOnly.set('manifest.sig', signBytes(fresh.privateKey, original.get('manifest.json') as Uint8Array));
    expect(codes(await check(sigOnly))).toContain('manifest.bad_signature');

    const rekeyed = new Map(original);
    const manifest = parseManifest(original.get('manifest.json') as Uint8Array);
    const mBytes = manifestBytes({
      ...manifest,
      collector: { ...manifest.collector, key: { fingerprint: fingerprint(fresh.publicKeyRaw), public_key: Buffer.from(fresh.publicKeyRaw).toString('base64') } },
    });
    rekeyed.set('manifest.json', mBytes);
    rekeyed.set('manifest.sig', signBytes(fresh.privateKey, mBytes));
    const r = await check(rekeyed, { collectorKey: pinned });
    expect(r.ok).toBe(false);
    expect(codes(r)).not.toContain('manifest.bad_signature');
    expect(codes(r)).toContain('manifest.collector_not_pinned');
    expect(codes(r)).toContain('witness.bad_signature');
  });
});
