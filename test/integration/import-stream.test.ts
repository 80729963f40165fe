/**
 * The streamed half of `custody import` on real stores: putBlobStreaming writes exactly the rows
 * putBlob writes (the same 1 MiB chunks under the same SHA-256, whatever pieces the content comes
 * in), refuses content that changed since it was hashed with nothing stored, and a multi-MiB text
 * file imported through the stream gives the records parseContent reads from the whole file, and
 * a store that verifies.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles } from '../../collector/import.js';
import { parseContent } from '../../collector/import-content.js';
import { verifyStoreDir } from '../../collector/verify.js';
import { isCustodyError } from '../../src/errors.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { allRecords, tempDir } from '../helpers/ingest-harness.js';

const MiB = 1 << 20;
const FIX = join(import.meta.dirname, '..', 'fixtures');
let tmp: { dir: string; cleanup: () => void };
let n = 0;
beforeAll(() => {
  tmp = tempDir('import-stream');
});
afterAll(() => tmp.cleanup());

function blobRows(dir: string): Array<{ sha256: string; chunk: number; data: string }> {
  const reader = new SqliteStoreReader(dir);
  try {
    return [...reader.blobChunks()].map((r) => ({ sha256: r.sha256, chunk: r.chunk, data: createHash('sha256').update(r.data).digest('hex') }));
  } finally {
    reader.close();
  }
}

function pieces(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

describe('putBlobStreaming', () => {
  it('stores the same chunk rows as putBlob, for sizes around the chunk size and any piece size', () => {
    const contents = [0, 1, MiB - 1, MiB, MiB + 1, 2 * MiB + 12345].map((size) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 7919 + size) % 256)));
    const shas = contents.map((bytes) => createHash('sha256').update(bytes).digest('hex'));
    const whole = join(tmp.dir, `whole-${n++}`);
    const a = EvidenceStore.create(whole, { host: 'h1' }).store;
    contents.forEach((bytes, i) => expect(a.putBlob(bytes)).toBe(shas[i]));
    a.close();
    for (const pieceSize of [1000, MiB, 3 * MiB]) {
      const streamed = join(tmp.dir, `streamed-${n++}`);
      const b = EvidenceStore.create(streamed, { host: 'h1' }).store;
      contents.forEach((bytes, i) => {
        expect(b.putBlobStreaming(shas[i]!, () => pieces(bytes, pieceSize))).toBe(bytes.length);
        // Stored once: a second put of the same content stores nothing.
        expect(b.putBlobStreaming(shas[i]!, () => pieces(bytes, pieceSize))).toBe(0);
        expect(Buffer.concat([...b.blobChunks(shas[i]!)]).equals(bytes)).toBe(true);
      });
      b.close();
      expect(blobRows(streamed)).toEqual(blobRows(whole));
    }
  });

  it('content that changed since it was hashed: E_IO, and nothing of it stored', () => {
    const dir = join(tmp.dir, `changed-${n++}`);
    const store = EvidenceStore.create(dir, { host: 'h1' }).store;
    const hashed = Buffer.alloc(3 * MiB, 0x61);
    const now = Buffer.from(hashed);
    now[2 * MiB + 5] = 0x62;
    const sha = createHash('sha256').update(hashed).digest('hex');
    let err: unknown;
    try {
      store.putBlobStreaming(sha, () => pieces(now, MiB));
    } catch (e) {
      err = e;
    }
    expect(isCustodyError(err) && err.code).toBe('E_IO');
    expect([...store.blobChunks(sha)]).toEqual([]);
    store.close();
    expect(blobRows(dir)).toEqual([]);
  });
});

describe('custody import of a multi-MiB text file, streamed', () => {
  it('the records parseContent reads from the whole file, the file preserved byte-exact, the store verifies', async () => {
    // Real audit events and access-log lines repeated past several 1 MiB chunks, so that events
    // and lines straddle chunk boundaries.
    const audit = readFileSync(join(FIX, 'constructed/audit-execve-argv.log'));
    const access = readFileSync(join(FIX, 'plaso/test_data/apache_access.log'));
    const parts: Buffer[] = [];
    let size = 0;
    while (size < 3 * MiB + 777) {
      for (const p of [audit, access]) {
        parts.push(p);
        size += p.length;
      }
    }
    const bytes = Buffer.concat(parts);
    const file = join(tmp.dir, 'big.log');
    writeFileSync(file, bytes);
    const storeDir = join(tmp.dir, `store-${n++}`);
    const summary = importFiles(storeDir, [file], { host: 'h1' });
    expect(summary.complete).toBe(true);
    const f = summary.files[0]!;
    expect(f.format).toBe('text');
    expect(f.size).toBe(bytes.length);
    expect(f.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));

    const store = EvidenceStore.open(storeDir);
    const records = allRecords(store);
    expect(Buffer.concat([...store.blobChunks(f.sha256)]).equals(bytes)).toBe(true);
    store.close();
    const derived = records.filter((r) => r.seq > f.seq && r.kind !== 'import.derived' && r.kind !== 'agent.gap');
    const expected = parseContent(bytes, file, f.seq, f.mtime);
    expect(derived.length).toBeGreaterThan(1000);
    expect(derived.map((r) => ({ kind: r.kind, payload: r.payload }))).toEqual(expected.out.records.map((r) => ({ kind: r.kind, payload: JSON.parse(JSON.stringify(r.payload)) })));
    const result = await verifyStoreDir(storeDir);
    expect(result.findings).toEqual([]);
    expect(result.ok).toBe(true);
  });
});
