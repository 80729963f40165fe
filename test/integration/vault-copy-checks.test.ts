/**
 * The pure checks of a vault copy (src/verify/vault-copy.ts) without a vault: a real store's objects
 * built exactly as the shipper names and encodes them (agent/ship/plan.ts), then altered the ways a
 * holder of the agent's S3 keys or a broken shipper could: a segment's record changed, a forged
 * checkpoint note, another enrollment key, a store whose record differs from the shipped one.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { framedFrom, segmentObject } from '../../agent/ship/plan.js';
import { formatCheckpointBody, signNote } from '../../src/integrity/checkpoint.js';
import { generateEd25519, epochKeyName } from '../../src/integrity/keys.js';
import { HASH_SIZE, leafHash, MerkleFrontier } from '../../src/integrity/merkle.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { ENROLLMENT_FILE } from '../../src/store/keyfiles.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { checkpointKey, enrollmentKey, keyCertificateKey, parseObjectKey, type VaultObject } from '../../src/vault/layout.js';
import type { VaultStoreCopy } from '../../src/vault/read.js';
import { analyseVaultCopy, compareWithVault, type LocalStoreFacts } from '../../src/verify/vault-copy.js';

let work: string;
let copy: VaultStoreCopy;
let local: LocalStoreFacts;
let publicKeyRaw: Uint8Array;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-vault-copy-'));
  const dir = join(work, 'store');
  const created = EvidenceStore.create(dir, { host: 'web-01', bootId: 'b', policy: { batchRecords: 5, checkpointRecords: 7, checkpointMs: 3_600_000 } });
  publicKeyRaw = new Uint8Array(Buffer.from(created.enrollment.public_key, 'base64'));
  for (let i = 0; i < 30; i++) {
    created.store.append('log.line', 'file:/x', { path: '/x', dev: '1', ino: '1', offset: i * 3, line_no: i + 1, length: 2, text: `l${i}` });
    if (i === 12) created.store.rotateKey();
  }
  created.store.close({ finalCheckpoint: true });
  const reader = new SqliteStoreReader(dir);
  const meta = reader.meta();
  const storeId = meta.get('store_id')!;
  const records = [...reader.records()];
  const checkpoints = reader.checkpoints();
  reader.close();
  copy = {
    host: 'web-01',
    storeId,
    enrollment: { key: enrollmentKey('', 'web-01', storeId), versionId: 'v', bytes: new Uint8Array(readFileSync(join(dir, ENROLLMENT_FILE))) },
    certificates: records
      .filter((r) => r.kind === 'key.rotate')
      .map((r) => {
        const epoch = (JSON.parse(Buffer.from(r.bytes).toString()) as { payload: { epoch: number } }).payload.epoch;
        return { key: keyCertificateKey('', 'web-01', storeId, epoch), versionId: 'v', bytes: r.bytes, epoch };
      }),
    checkpoints: checkpoints.map((c) => ({ key: checkpointKey('', 'web-01', storeId, c.tree_size, c.id), versionId: 'v', bytes: new TextEncoder().encode(c.note), treeSize: c.tree_size, checkpointId: c.id, receivedAt: undefined })),
    tsaTokens: [],
    segments: [],
    blobs: [],
    multipleVersions: [],
    unrecognised: [],
    skippedSegments: [],
  };
  let frontier = new MerkleFrontier().toState();
  let start = 0;
  for (const size of [...new Set(checkpoints.map((c) => c.tree_size))].sort((a, b) => a - b)) {
    if (size <= start) continue;
    const seg = segmentObject('', 'web-01', storeId, frontier, framedFrom(records.slice(start, size).map((r) => ({ bytes: r.bytes, observedAt: r.observed_at }))));
    // The observed-at range as read.ts reads it: from the segment's name.
    const named = parseObjectKey('', seg.key) as Extract<VaultObject, { type: 'segment' }>;
    copy.segments.push({ key: seg.key, versionId: 'v', bytes: seg.body, start, end: size, minObserved: named.minObserved, maxObserved: named.maxObserved });
    frontier = seg.after;
    start = size;
  }
  local = { records: records.length, leaves: new Uint8Array(Buffer.concat(records.map((r) => leafHash(r.bytes)))), checkpoints: checkpoints.map((c) => ({ id: c.id, tree_size: c.tree_size, note: c.note })) };
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a vault copy checked on its own and against the store', () => {
  it('the honest copy: no finding, every record, every checkpoint (two key epochs)', () => {
    const a = analyseVaultCopy(copy, { publicKeyRaw });
    expect(a.findings).toEqual([]);
    expect(a.recordsEnd).toBe(local.records);
    expect(a.checkpoints.map((c) => c.checkpointId)).toEqual(local.checkpoints.map((c) => c.id));
    expect(new Set(a.checkpoints.map((c) => c.epoch))).toEqual(new Set([0, 1]));
    expect(compareWithVault(local, a)).toEqual([]);
  });

  it('a record changed inside a segment: vault.segment_invalid, and the records after it are not used', () => {
    const seg = copy.segments[1]!;
    const bytes = Buffer.from(seg.bytes);
    const at = bytes.indexOf('"text":"l');
    bytes[at + 9] = bytes[at + 9] === 0x39 ? 0x38 : bytes[at + 9]! + 1;
    const a = analyseVaultCopy({ ...copy, segments: copy.segments.map((s) => (s === seg ? { ...s, bytes: new Uint8Array(bytes) } : s)) }, { publicKeyRaw });
    // The checkpoints after it are still checked against a store, and the warning says their records are not in the vault as verified segments.
    expect(a.findings.map((f) => [f.code, f.where.seqRange])).toEqual([
      ['vault.segment_invalid', [seg.start, seg.end - 1]],
      ['vault.records_pending', [seg.start, local.records - 1]],
    ]);
    expect(a.recordsEnd).toBe(seg.start);
  });

  it('a checkpoint note forged with a key not in the chain: vault.copy_invalid, never used against the store', () => {
    const forger = generateEd25519();
    const last = copy.checkpoints[copy.checkpoints.length - 1]!;
    const text = formatCheckpointBody({ origin: `custody/${copy.storeId}`, treeSize: last.treeSize + 5, rootHash: new Uint8Array(HASH_SIZE), extensions: [] });
    const note = signNote(text, { name: epochKeyName(copy.storeId, 1), ...forger });
    const forged = { ...last, bytes: new TextEncoder().encode(note), treeSize: last.treeSize + 5, checkpointId: last.checkpointId + 1, key: checkpointKey('', 'web-01', copy.storeId, last.treeSize + 5, last.checkpointId + 1) };
    const a = analyseVaultCopy({ ...copy, checkpoints: [...copy.checkpoints, forged] }, { publicKeyRaw });
    expect(a.findings.map((f) => f.code)).toEqual(['vault.copy_invalid']);
    expect(compareWithVault(local, a)).toEqual([]);
  });

  it('another enrollment key than the one pinned: nothing in the copy is trusted', () => {
    const a = analyseVaultCopy(copy, { publicKeyRaw: generateEd25519().publicKeyRaw });
    expect(a.findings.map((f) => f.code)).toEqual(['vault.copy_invalid']);
    expect(a.checkpoints).toEqual([]);
  });

  it('a store record that differs from the shipped one: vault.record_mismatch at its seq, vault.store_inconsistent from the last seal before it', () => {
    const a = analyseVaultCopy(copy, { publicKeyRaw });
    const leaves = new Uint8Array(local.leaves);
    leaves[17 * HASH_SIZE] = (leaves[17 * HASH_SIZE] as number) ^ 1;
    const findings = compareWithVault({ ...local, leaves }, a);
    expect(findings.filter((f) => f.code === 'vault.record_mismatch').map((f) => f.where)).toEqual([{ seq: 17 }]);
    const before = Math.max(...local.checkpoints.filter((c) => c.tree_size <= 17).map((c) => c.tree_size));
    const first = findings.find((f) => f.code === 'vault.store_inconsistent')!;
    expect(first.where.seqRange![0]).toBe(before);
  });
});
