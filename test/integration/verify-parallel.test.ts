/**
 * The verifier's worker-thread path must find exactly what the in-thread path finds: same codes,
 * locations, messages and order, on a store tampered in every way the per-record checks and the
 * order-dependent checks can see, with batch boundaries falling on and between the damage.
 *
 * Worker threads run compiled JavaScript, so this test drives the build in dist/ (`npm test`
 * builds first; alone: `npx tsc -p tsconfig.json && npx vitest run test/integration/verify-parallel.test.ts`).
 */
import Database from 'better-sqlite3';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leafHash } from '../../src/integrity/merkle.js';
import { canonicalBytes, decodeCanonical } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { EvidenceStore, EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import type * as StoreReaderModule from '../../src/store/store-reader.js';
import type * as VerifyModule from '../../src/verify/store-verify.js';
import type * as BundleContentModule from '../../src/verify/bundle-content.js';
import type { PipelineStats } from '../../src/verify/record-pipeline.js';

const DIST = resolve(__dirname, '../../dist');
let verify: typeof VerifyModule;
let readers: typeof StoreReaderModule;
let work: string;
let pristine: string;
let tampered: string;
let fingerprint: string;

const textOf = (i: number): string => `Nov 23 14:${String(i % 60).padStart(2, '0')}:00 web-01 sshd[${1000 + i}]: Accepted publickey for alice from 10.0.0.${i % 250} port ${40000 + i}`;
/** Offsets as the agent records them: each line starts after the previous one and its newline (verify checks it). */
const offsets = [0];
function line(i: number) {
  while (offsets.length <= i) offsets.push((offsets.at(-1) as number) + Buffer.byteLength(textOf(offsets.length - 1)) + 1);
  const text = textOf(i);
  return { path: '/var/log/auth.log', dev: '2049', ino: '1311', offset: offsets[i] as number, line_no: i + 1, length: Buffer.byteLength(text), text };
}

beforeAll(async () => {
  const storeVerifyJs = join(DIST, 'src/verify/store-verify.js');
  if (!existsSync(join(DIST, 'src/verify/record-check-worker.js'))) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.json` (npm test does)');
  verify = (await import(pathToFileURL(storeVerifyJs).href)) as typeof VerifyModule;
  readers = (await import(pathToFileURL(join(DIST, 'src/store/store-reader.js')).href)) as typeof StoreReaderModule;

  work = mkdtempSync(join(tmpdir(), 'custody-verify-parallel-'));
  pristine = join(work, 'pristine');
  const { store, enrollment } = EvidenceStore.create(pristine, { host: 'web-01', bootId: 'b', policy: { batchRecords: 100, checkpointRecords: 250, checkpointMs: 3_600_000 } });
  fingerprint = enrollment.fingerprint;
  for (let i = 0; i < 1500; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
  const content = Buffer.from('rotated\n'.repeat(10));
  const sha = store.putBlob(content);
  store.append('log.file', 'file:/var/log/auth.log', { path: '/var/log/auth.log.1', size: content.length, mtime: '2026-11-23T00:00:00.000000Z', sha256: sha, reason: 'rotated', content: 'stored' });
  store.rotateKey();
  for (let i = 1500; i < 3000; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
  store.rotateKey();
  for (let i = 3000; i < 4000; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
  store.close({ finalCheckpoint: true });

  tampered = join(work, 'tampered');
  cpSync(pristine, tampered, { recursive: true });
  const db = new Database(join(tampered, EVIDENCE_FILE));
  for (const { name } of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all() as { name: string }[]) db.exec(`DROP TRIGGER ${name}`);
  const recordAt = (seq: number) => decodeCanonical((db.prepare('SELECT bytes FROM records WHERE seq = ?').get(seq) as { bytes: Uint8Array }).bytes) as EvidenceRecord;
  const rewrite = (seq: number, record: unknown, columns?: { kind: string; observed_at: string }) => {
    const r = record as EvidenceRecord;
    const bytes = canonicalBytes(record);
    db.prepare('UPDATE records SET bytes = ?, leaf_hash = ?, kind = ?, observed_at = ? WHERE seq = ?').run(bytes, leafHash(bytes), columns?.kind ?? r.kind, columns?.observed_at ?? r.observed_at, seq);
  };
  const rawBytes = (seq: number, bytes: Uint8Array) => db.prepare('UPDATE records SET bytes = ?, leaf_hash = ? WHERE seq = ?').run(bytes, leafHash(bytes), seq);
  // per-record damage, with batch boundaries (64) on and between them
  db.prepare('UPDATE records SET leaf_hash = zeroblob(32) WHERE seq = 5').run();
  db.prepare(`UPDATE records SET bytes = CAST(replace(CAST(bytes AS TEXT), 'alice', 'alicf') AS BLOB) WHERE seq = 64`).run();
  rawBytes(70, Buffer.from(` ${new TextDecoder().decode(canonicalBytes(recordAt(70)))}`)); // not canonical
  rawBytes(71, Buffer.from([0x7b, 0xff, 0x7d])); // not UTF-8
  rawBytes(72, Buffer.from('{"a":1,"a":2}')); // duplicate key
  rawBytes(73, Buffer.from('{"b":1,"a":2}')); // keys out of order
  rawBytes(74, Buffer.from('{"a":1.5}')); // a fraction
  rawBytes(75, Buffer.from('{"a":"\\ud800"}')); // a lone surrogate
  rawBytes(76, Buffer.from('{"a":9007199254740993}')); // beyond 2^53
  rewrite(77, { ...recordAt(77), payload: { ...recordAt(77).payload, dev: 5 } }); // invalid log.line
  rewrite(78, { ...recordAt(78), payload: { ...recordAt(78).payload, raw_b64: 'AAAA' } }); // text and raw_b64
  rewrite(79, { ...recordAt(79), extra: 1 }); // unknown envelope field
  rewrite(80, { ...recordAt(80), kind: 'future.kind', payload: { anything: [1, { b: 2 }] } }); // unknown kind
  rewrite(81, recordAt(81), { kind: 'log.line', observed_at: '2026-01-01T00:00:00.000000Z' }); // column mismatch
  rewrite(82, { ...recordAt(82), host: 'db-02' });
  rewrite(128, { ...recordAt(128), observed_at: '2020-01-01T00:00:00.000000Z' }); // time backwards on a batch boundary
  rewrite(200, { ...recordAt(200), observed_at: '2020-01-01T00:00:00.000000Z' }); // …and inside a batch
  rewrite(300, { ...recordAt(300), seq: 301 }); // seq mismatch
  // Columns the reader cannot hand over joined (store-reader.ts reads such a row column by column).
  db.pragma('ignore_check_constraints = ON');
  db.prepare(`UPDATE records SET leaf_hash = x'0102' WHERE seq = 90`).run(); // a leaf hash of 2 bytes
  db.prepare(`UPDATE records SET kind = 'log.line' || char(10) || 'x' WHERE seq = 91`).run(); // a newline in the kind column
  // order-dependent damage
  db.prepare('DELETE FROM records WHERE seq IN (400, 401, 639)').run(); // gaps, one just before a boundary
  const a = db.prepare('SELECT bytes, leaf_hash FROM records WHERE seq = 700').get() as { bytes: Uint8Array; leaf_hash: Uint8Array };
  const b = db.prepare('SELECT bytes, leaf_hash FROM records WHERE seq = 701').get() as { bytes: Uint8Array; leaf_hash: Uint8Array };
  db.prepare('UPDATE records SET bytes = ?, leaf_hash = ? WHERE seq = 700').run(b.bytes, b.leaf_hash);
  db.prepare('UPDATE records SET bytes = ?, leaf_hash = ? WHERE seq = 701').run(a.bytes, a.leaf_hash);
  const rotations = db.prepare(`SELECT seq FROM records WHERE kind = 'key.rotate' ORDER BY seq`).all() as { seq: number }[];
  const second = rotations[1]!.seq;
  const rotate = recordAt(second);
  rewrite(second, { ...rotate, payload: { ...rotate.payload, certificate: Buffer.alloc(64, 1).toString('base64') } }); // forged certificate
  db.prepare('DELETE FROM blobs').run(); // the log.file's content gone
  db.prepare('DELETE FROM records WHERE seq >= 3990').run(); // tail cut
  db.close();
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

async function run(dir: string, options: Partial<VerifyModule.VerifyStoreOptions>): Promise<{ result: VerifyModule.StoreVerification; stats: PipelineStats | undefined }> {
  const reader = new readers.SqliteStoreReader(dir);
  let stats: PipelineStats | undefined;
  try {
    const result = await verify.verifyStore(reader, { trust: { fingerprint, source: 'pinned' }, onPipelineStats: (s) => (stats = s), ...options });
    return { result, stats };
  } finally {
    reader.close();
  }
}

describe('parallel and in-thread verification agree', () => {
  // Default verify reads most records with the envelope scan, --deep decodes them all: both must agree across threads.
  it.each([false, true])('on the tampered store, finding for finding, for several batch sizes and worker counts (deep: %s)', async (deep) => {
    const inThread = await run(tampered, { workers: 0, deep });
    expect(inThread.stats?.checkedInWorkers).toBe(0);
    const codes = new Set(inThread.result.findings.map((f) => f.code));
    expect(inThread.result.findings.filter((f) => f.where.seq === 90 || f.where.seq === 91).map((f) => [f.code, f.where.seq])).toEqual([
      ['record.leaf_hash_mismatch', 90],
      ['record.column_mismatch', 91],
    ]);
    for (const code of [
      'record.leaf_hash_mismatch',
      'record.not_canonical',
      'record.invalid',
      'record.unknown_kind',
      'record.column_mismatch',
      'record.host_mismatch',
      'record.time_backwards',
      'record.seq_mismatch',
      'record.seq_gap',
      'key.certificate_invalid',
      'checkpoint.root_mismatch',
      'checkpoint.beyond_end',
      'blob.missing',
      'record.tail_truncated',
    ]) {
      expect(codes, code).toContain(code);
    }
    // The workers read seq ranges themselves over their own connections (the default for a store
    // file), or this thread reads every row and posts batches to them (readInWorkers: false).
    for (const options of [
      { workers: 2, batchSize: 64, parallelAfter: 0, shareWork: false },
      { workers: 1, batchSize: 1, parallelAfter: 0, shareWork: false },
      { workers: 3, batchSize: 1000, parallelAfter: 0, shareWork: false },
      { workers: 2, batchSize: 64, parallelAfter: 0, shareWork: false, readInWorkers: false },
      { workers: 1, batchSize: 1, parallelAfter: 0, shareWork: false, readInWorkers: false },
      { workers: 3, batchSize: 1000, parallelAfter: 0, shareWork: false, readInWorkers: false },
    ]) {
      const parallel = await run(tampered, { ...options, deep });
      expect(parallel.stats?.checkedInWorkers, JSON.stringify(options)).toBeGreaterThan(2000);
      expect(parallel.stats?.readInWorkers, JSON.stringify(options)).toBe(options.readInWorkers === false ? 0 : parallel.stats?.checkedInWorkers);
      expect(parallel.result).toEqual(inThread.result);
    }
    // The default: this thread checks batches too while the workers are behind, results in order.
    for (const options of [
      { workers: 1, batchSize: 16, parallelAfter: 0 },
      { workers: 2, batchSize: 1, parallelAfter: 0 },
      { workers: 1, batchSize: 16, parallelAfter: 0, readInWorkers: false },
      { workers: 2, batchSize: 1, parallelAfter: 0, readInWorkers: false },
    ]) {
      const shared = await run(tampered, { ...options, deep });
      expect(shared.stats?.checkedInThread ?? 0, JSON.stringify(options)).toBeLessThan(shared.result.records);
      expect(shared.result).toEqual(inThread.result);
    }
    // Starting in this thread and moving to workers mid-stream (when they are ready in time).
    for (const readInWorkers of [true, false]) {
      const mixed = await run(tampered, { workers: 2, batchSize: 64, parallelAfter: 500, deep, readInWorkers });
      expect(mixed.stats?.checkedInThread).toBeGreaterThanOrEqual(500);
      expect(mixed.result).toEqual(inThread.result);
    }
  });

  it('on the pristine store', async () => {
    const inThread = await run(pristine, { workers: 0 });
    expect(inThread.result.ok).toBe(true);
    for (const readInWorkers of [true, false]) {
      const parallel = await run(pristine, { workers: 2, batchSize: 128, parallelAfter: 0, shareWork: false, readInWorkers });
      expect(parallel.stats?.checkedInWorkers).toBeGreaterThan(3000);
      expect(parallel.stats?.readInWorkers).toBe(readInWorkers ? parallel.stats?.checkedInWorkers : 0);
      expect(parallel.result).toEqual(inThread.result);
    }
  });

  it('on a store whose file is damaged mid-way: the rows before the damage, then the same read error', async () => {
    const damaged = join(work, 'damaged');
    cpSync(pristine, damaged, { recursive: true });
    const file = join(damaged, EVIDENCE_FILE);
    const bytes = readFileSync(file);
    const pageSize = bytes.readUInt16BE(16) === 1 ? 65536 : bytes.readUInt16BE(16);
    // A page in the middle of the records, its header overwritten: SQLite finds it malformed.
    const page = Math.floor(bytes.length / pageSize / 2);
    bytes.fill(0xa5, page * pageSize, page * pageSize + 64);
    writeFileSync(file, bytes);
    const inThread = await run(damaged, { workers: 0 });
    const unreadable = inThread.result.findings.filter((f) => f.code === 'store.corrupt' || f.code === 'store.unreadable');
    expect(unreadable).toHaveLength(1);
    expect(inThread.result.records).toBeGreaterThan(0);
    expect(inThread.result.records).toBeLessThan(4000);
    for (const options of [
      { workers: 2, batchSize: 64, parallelAfter: 0, shareWork: false },
      { workers: 1, batchSize: 100, parallelAfter: 0 },
      { workers: 1, batchSize: 100, parallelAfter: 300 },
    ]) {
      const parallel = await run(damaged, options);
      expect(parallel.result, JSON.stringify(options)).toEqual(inThread.result);
      if (options.shareWork === false) expect(parallel.stats?.readInWorkers).toBeGreaterThan(0);
    }
  });

  it('hands a bundle content check the same rendered rows, and in full the rows it renders itself (USB), when the workers read', async () => {
    const dir = join(work, 'with-usb');
    const { store, enrollment } = EvidenceStore.create(dir, { host: 'web-01', bootId: 'b', policy: { batchRecords: 100, checkpointRecords: 250, checkpointMs: 3_600_000 } });
    for (let i = 0, lines = 0; i < 1200; i++) {
      if (i % 97 === 5) store.append('usb.connect', 'kernel', { derived_from: [0], parser: 'test', origin: 'kernel', vendor_id: '0781', product_id: '5581', serial: `S${i}` });
      else store.append('log.line', 'file:/var/log/auth.log', line(lines++));
    }
    store.close({ finalCheckpoint: true });
    const content = (await import(pathToFileURL(join(DIST, 'src/verify/bundle-content.js')).href)) as typeof BundleContentModule;
    const seen = async (options: Partial<VerifyModule.VerifyStoreOptions>) => {
      const rows: string[] = [];
      const spec = { host: 'web-01', storeId: 'any', keyHex: '00'.repeat(32) };
      const take = (batch: readonly { seq: number; bytes: Uint8Array }[], rendered: { digests: Uint8Array; tables: Uint8Array } | undefined) => {
        batch.forEach((r, i) => {
          const table = rendered?.tables[i];
          const what = table === content.RENDERED_HERE || rendered === undefined ? Buffer.from(r.bytes).toString('hex') : Buffer.from(rendered.digests.subarray(i * 24, (i + 1) * 24)).toString('hex');
          rows.push(`${r.seq} ${table} ${what}`);
        });
      };
      const { result, stats } = await run(dir, { ...options, trust: { fingerprint: enrollment.fingerprint, source: 'pinned' }, recordContent: { spec, take } });
      expect(result.findings).toEqual([]);
      return { rows, stats };
    };
    const inThread = await seen({ workers: 0 });
    expect(inThread.rows).toHaveLength(1200);
    expect(inThread.rows.filter((r) => r.split(' ')[1] === String(content.RENDERED_HERE))).toHaveLength(13);
    const ranged = await seen({ workers: 2, batchSize: 50, parallelAfter: 0, shareWork: false });
    expect(ranged.stats?.readInWorkers).toBe(1200);
    expect(ranged.rows).toEqual(inThread.rows);
  });

  it('keeps small stores in the calling thread by default', async () => {
    const { result, stats } = await run(pristine, {});
    expect(result.ok).toBe(true);
    expect(stats).toEqual({ checkedInThread: result.records, checkedInWorkers: 0, readInWorkers: 0, workersStarted: 0 });
  });
});
