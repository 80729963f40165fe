/**
 * `importFiles` on the real samples (test/fixtures/SOURCES.md): every file preserved byte-exact as a
 * `log.file` with its SHA-256 and content, then read by content into the records the parser tests
 * expect, each naming the `log.file` seq; truncated tails as `agent.gap`; the store verifies clean.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles, formatImportSummary } from '../../collector/import.js';
import { verifyStoreDir } from '../../collector/verify.js';
import { isCustodyError } from '../../src/errors.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { allRecords, tempDir } from '../helpers/ingest-harness.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const S = {
  partition: `${FIX}Partition-4DiagnosticParser/sampleFile/Microsoft-Windows-Partition%4Diagnostic.evtx`,
  partitionWin11: `${FIX}DFIRArtifactMuseum/Windows/EventLogs/Win11/RathbunVM/RathbunVM_W11EventLogs.7z.extracted/Microsoft-Windows-Partition%4Diagnostic.evtx`,
  setupapi: `${FIX}plaso/test_data/setupapi.dev.log`,
  utmp: `${FIX}plaso/test_data/utmp/utmp`,
  utmpCorrupted: `${FIX}plaso/test_data/utmp/utmp_corrupted`,
  auth: `${FIX}beats/filebeat/module/system/auth/test/test.log`,
  kern: `${FIX}constructed/kern-usb.log`,
  audit: `${FIX}plaso/test_data/audit_enriched.log`,
};

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('import');
});
afterAll(() => tmp.cleanup());

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function records(storeDir: string): EvidenceRecord[] {
  const store = EvidenceStore.open(storeDir);
  try {
    return allRecords(store);
  } finally {
    store.close();
  }
}

function blobs(storeDir: string): Map<string, Buffer> {
  const reader = new SqliteStoreReader(storeDir);
  const parts = new Map<string, Buffer[]>();
  for (const c of reader.blobChunks()) {
    const list = parts.get(c.sha256) ?? [];
    list[c.chunk] = Buffer.from(c.data);
    parts.set(c.sha256, list);
  }
  reader.close();
  return new Map([...parts].map(([k, v]) => [k, Buffer.concat(v)]));
}

describe('custody import: the real samples', () => {
  it('preserves every file with its hash and reads it into the expected records, gaps included', async () => {
    const work = join(tmp.dir, 'files');
    mkdirSync(work);
    const gz = join(work, 'auth.log.1.gz');
    writeFileSync(gz, gzipSync(readFileSync(S.auth)));
    const cut = join(work, 'auth.log.2.gz');
    const whole = gzipSync(readFileSync(S.kern));
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.8)));
    const files = [S.partition, S.partitionWin11, S.setupapi, S.utmp, S.utmpCorrupted, S.auth, gz, cut, S.kern, S.audit];
    const storeDir = join(tmp.dir, 'store');
    const summary = importFiles(storeDir, files, { host: 'ws-0147' });

    expect(summary.created?.fingerprint).toMatch(/^SHA256:/);
    expect(summary.totals.files).toBe(files.length);
    expect(summary.totals.bytes).toBe(files.reduce((n, f) => n + readFileSync(f).length, 0));
    const by = (f: string): (typeof summary.files)[number] => summary.files.find((x) => x.path === resolve(f))!;
    // Counts the parser unit tests establish for the same samples.
    expect(by(S.partition)).toMatchObject({ format: 'evtx', records: { 'usb.connect': 23, 'usb.disconnect': 7 }, failures: {} });
    expect(by(S.partitionWin11)).toMatchObject({ format: 'evtx', records: {}, failures: {} });
    expect(by(S.setupapi)).toMatchObject({ format: 'setupapi', records: { 'usb.connect': 1 }, failures: {} });
    expect(by(S.utmp)).toMatchObject({ format: 'utmp', records: { 'auth.logon': 6 }, failures: {} });
    expect(by(S.utmpCorrupted)).toMatchObject({ format: 'utmp', records: { 'auth.logon': 2 }, failures: { 'wtmp.bad_type': 2, 'wtmp.truncated': 1 } });
    expect(by(S.utmpCorrupted).gaps).toHaveLength(1);
    expect(by(S.auth)).toMatchObject({ format: 'text', records: { 'auth.logon': 7 }, failures: {} });
    expect(by(gz)).toMatchObject({ format: 'gzip+text', records: { 'auth.logon': 7 }, failures: {} });
    expect(by(cut).format).toBe('gzip+text');
    expect(by(cut).gaps).toHaveLength(1);
    expect(by(S.kern)).toMatchObject({ format: 'text', records: { 'usb.connect': 3, 'usb.disconnect': 2 }, failures: {} });
    expect(by(S.audit)).toMatchObject({ format: 'text', records: { 'file.access': 3 }, failures: {} });
    expect(summary.totals.gaps).toBe(2);

    const recs = records(storeDir);
    const stored = blobs(storeDir);
    const fileRecs = recs.filter((r) => r.kind === 'log.file');
    expect(fileRecs).toHaveLength(files.length);
    for (const [i, f] of files.entries()) {
      const bytes = readFileSync(f);
      const r = fileRecs[i]!;
      expect(r.payload).toMatchObject({ path: resolve(f), size: bytes.length, sha256: sha256(bytes), reason: 'import', content: 'stored' });
      expect(stored.get(sha256(bytes))?.equals(bytes), `${f} content stored`).toBe(true);
      expect(by(f).seq).toBe(r.seq);
      // Everything derived from this file names its log.file seq.
      const own = recs.filter((x) => x.source.startsWith('import:') && (x.payload as { derived_from?: number[] }).derived_from?.[0] === r.seq);
      const expectedCount = Object.values(by(f).records).reduce((a, b) => a + b, 0);
      expect(own).toHaveLength(expectedCount);
      for (const x of own) expect((x.payload as { derived_from: number[] }).derived_from).toEqual([r.seq]);
    }

    // Where in the file each record came from.
    const kernSeq = by(S.kern).seq;
    const kernUsb = recs.filter((x) => x.kind === 'usb.connect' && (x.payload as { derived_from: number[] }).derived_from[0] === kernSeq);
    expect((kernUsb[0]!.payload as { extra: Record<string, string>; session: string }).extra['lines']).toBe('1,2,3,4,5,6,7,8,11,12');
    expect((kernUsb[0]!.payload as { session: string }).session).toBe(`1-1#5@${kernSeq}:L1`);
    const evtxUsb = recs.find((x) => x.kind === 'usb.connect' && (x.payload as { derived_from: number[] }).derived_from[0] === by(S.partition).seq)!;
    expect((evtxUsb.payload as { extra: Record<string, string> }).extra).toMatchObject({ record_id: '9', file_offset: expect.stringMatching(/^\d+$/) as unknown });
    const logon = recs.find((x) => x.kind === 'auth.logon' && (x.payload as { derived_from: number[] }).derived_from[0] === by(S.utmpCorrupted).seq)!;
    expect(logon.payload).toMatchObject({ user: 'alice', extra: { record_index: '0', offset: '0' } });

    // The truncated wtmp tail and the cut gzip stream are gaps: evidence that could not be read.
    const gaps = recs.filter((r) => r.kind === 'agent.gap');
    expect(gaps.map((g) => g.payload)).toEqual([
      expect.objectContaining({ source: 'import', path: resolve(S.utmpCorrupted), reason: 'truncated', from_offset: 1536, to_offset: 1586, bytes: 50 }),
      expect.objectContaining({ source: 'import', path: cut, reason: 'truncated' }),
    ]);

    const text = formatImportSummary(summary);
    expect(text).toContain(`imported ${files.length} files`);
    expect(text).toContain('gap (seq');

    const result = await verifyStoreDir(storeDir);
    expect(result.findings).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('a second import into the same store appends; another host is refused', async () => {
    const storeDir = join(tmp.dir, 'store2');
    importFiles(storeDir, [S.auth], { host: 'h1' });
    const second = importFiles(storeDir, [S.utmp]);
    expect(second.host).toBe('h1');
    expect(second.files[0]!.seq).toBeGreaterThan(0);
    expect(() => importFiles(storeDir, [S.utmp], { host: 'other' })).toThrow(/holds the evidence of host h1/);
    const result = await verifyStoreDir(storeDir);
    expect(result.ok).toBe(true);
  });

  it('a missing file, a folder, or no --host for a new store: a clear error and nothing imported', () => {
    const storeDir = join(tmp.dir, 'store3');
    const missing = join(tmp.dir, 'nope.log');
    const err = (fn: () => unknown): { code: string; message: string; where?: string } => {
      try {
        fn();
      } catch (e) {
        if (isCustodyError(e)) return { code: e.code, message: e.message, ...(e.where !== undefined ? { where: e.where } : {}) };
        throw e;
      }
      throw new Error('did not throw');
    };
    expect(err(() => importFiles(storeDir, [S.auth, missing], { host: 'h' }))).toMatchObject({ code: 'E_IO', message: expect.stringContaining('no such file') as unknown, where: missing });
    expect(existsSync(storeDir)).toBe(false);
    expect(err(() => importFiles(storeDir, [tmp.dir], { host: 'h' }))).toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('folder') as unknown });
    expect(err(() => importFiles(storeDir, [S.auth]))).toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('--host') as unknown });
    expect(existsSync(storeDir)).toBe(false);
  });

  it('a binary file of no known format is preserved, not read, and said so', () => {
    const storeDir = join(tmp.dir, 'store4');
    const f = join(tmp.dir, 'blob.bin');
    copyFileSync(S.utmp, f);
    const junk = Buffer.alloc(1000, 0xee);
    junk[5] = 0;
    writeFileSync(f, junk);
    const s = importFiles(storeDir, [f], { host: 'h' });
    expect(s.files[0]).toMatchObject({ format: 'binary', records: {}, failures: { 'import.unknown_binary': 1 } });
  });
});
