/**
 * `verify --vault` against a real vault (Ceph RGW): a store written the way the agent writes it
 * (runs with agent.start and its policy, heartbeats, two key rotations, sealed stops, a TSA-stamped
 * checkpoint, a preserved file), shipped with the agent's shipper; then
 * - the untouched store and its vault copy have zero findings, and so does the vault alone;
 * - the rollback with every local trace erased (later checkpoints, their key rotations and
 *   heartbeats deleted, records renumbered, sqlite_sequence reset, key folder removed), which the
 *   store's own verification cannot see (rollback-matrix.test.ts, attack 6), is named by --vault:
 *   the vault checkpoints the store lacks, the first seq it no longer agrees on, the records that
 *   differ;
 * - the tail cut without renumbering (attack 8 of the matrix) is named as a store behind the vault;
 * - a second version of a write-once object (the vault refuses deleting or rewriting the first) is
 *   named, and the oldest version is still what is verified;
 * - with the store deleted, the vault alone verifies every record.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shipStore } from '../../agent/ship/shipper.js';
import { verifyStoreWithVault, verifyVaultHost } from '../../collector/verify-vault.js';
import { verifyStoreDir } from '../../collector/verify.js';
import { openVault, vaultInit } from '../../collector/vault.js';
import { requestTimeStamp } from '../../src/net/tsa-http.js';
import { decodeCanonical } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { checkpointKey } from '../../src/vault/layout.js';
import type { VaultClient } from '../../src/vault/s3.js';
import { formatStoreVerification } from '../../src/verify/format.js';
import { STORE_FINDINGS } from '../../src/verify/store-findings.js';
import type { StoreVerification } from '../../src/verify/store-verify.js';
import { skipWithoutRgw, useRgw } from '../helpers/rgw.js';
import { deleteAndRenumber, deleteCheckpointsAfterFirst, hideDeletedCheckpoints, openAsAttacker } from '../helpers/store-attacks.js';
import { startTestTsa, type TestTsa } from '../helpers/tsa-server.js';
import { scriptedAgent } from '../helpers/scripted-agent.js';

const POLICY = { batchRecords: 10, batchMs: 250, checkpointRecords: 20, checkpointMs: 60_000, epochMs: 3_600_000 };
const RECORDED_POLICY = { batch_records: 10, batch_ms: 250, checkpoint_records: 20, checkpoint_ms: 60_000, epoch_ms: 3_600_000, heartbeat_ms: 30_000 };

const { clock, tick, agentRun } = scriptedAgent(RECORDED_POLICY);

describe.skipIf(skipWithoutRgw())('verify --vault against a real vault', () => {
  const rgw = useRgw();
  let work: string;
  let pristine: string;
  let fingerprint: string;
  let tsa: TestTsa;
  let client: VaultClient;
  const url = `s3://verify-${process.pid}/fleet`;
  let facts: { records: number; checkpoints: { id: number; tree_size: number }[]; rotations: number[]; stops: number[]; heartbeats: number[] };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'custody-vault-verify-'));
    pristine = join(work, 'pristine');
    tsa = await startTestTsa();
    const created = EvidenceStore.create(pristine, { host: 'web-01', bootId: 'boot-1', clock, policy: POLICY });
    fingerprint = created.enrollment.fingerprint;
    const content = Buffer.from('rotated auth log\n'.repeat(40));
    const sha = created.store.putBlob(content);
    created.store.append('log.file', 'file:/var/log/auth.log', { path: '/var/log/auth.log.1', size: content.length, mtime: '2026-11-23T00:00:00.000000Z', sha256: sha, reason: 'rotated', content: 'stored' });
    const stamped = created.store.checkpoint();
    const stamp = await requestTimeStamp(tsa.url, new TextEncoder().encode(stamped.note));
    created.store.attachTimestamp(stamped.id, tsa.url, stamp.info.genTime, stamp.tokenDer);
    agentRun(created.store, { lines: 60, rotateAfter: 39, stop: true });
    tick(3_600_000);
    const second = EvidenceStore.open(pristine, { bootId: 'boot-1', clock, policy: POLICY });
    agentRun(second, { lines: 60, rotateAfter: 39, stop: true });

    await vaultInit({ url, retention: '1d', env: rgw.env });
    client = openVault({ url, env: rgw.env });
    const state = new StateStore(pristine);
    await shipStore(pristine, client, state);
    state.close();

    const reader = new SqliteStoreReader(pristine);
    const all = [...reader.records()];
    const seqsOf = (pred: (r: EvidenceRecord) => boolean): number[] => all.filter((r) => pred(decodeCanonical(r.bytes) as EvidenceRecord)).map((r) => r.seq);
    facts = {
      records: all.length,
      checkpoints: reader.checkpoints().map((c) => ({ id: c.id, tree_size: c.tree_size })),
      rotations: seqsOf((r) => r.kind === 'key.rotate'),
      stops: seqsOf((r) => r.kind === 'agent.stop'),
      heartbeats: seqsOf((r) => r.kind === 'agent.heartbeat'),
    };
    reader.close();
  }, 120_000);
  afterAll(async () => {
    client?.destroy();
    await tsa?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const access = () => ({ url, env: rgw.env });
  const codes = (r: StoreVerification): string[] => r.findings.map((f) => f.code);
  let copies = 0;
  function copyOfStore(mutate?: (db: ReturnType<typeof openAsAttacker>) => void): string {
    const dir = join(work, `copy-${++copies}`);
    cpSync(pristine, dir, { recursive: true });
    if (mutate) {
      const db = openAsAttacker(dir);
      mutate(db);
      db.close();
      rmSync(join(dir, 'keys'), { recursive: true, force: true });
    }
    return dir;
  }

  it('an untouched store and its vault copy: zero findings, every vault checkpoint checked', async () => {
    const r = await verifyStoreWithVault(copyOfStore(), access(), { key: fingerprint, tsaCa: [tsa.caCertPath] });
    expect(r.findings).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.vault?.checkpoints).toBe(facts.checkpoints.length);
    expect(r.vault?.newest?.treeSize).toBe(facts.records);
    expect(r.vault?.recordsEnd).toBe(facts.records);
    expect(formatStoreVerification(r)).toMatch(/^vault: +s3:\/\/verify-/m);
  });

  it('the rollback with every local trace erased: the store alone sees no error; --vault names the checkpoints, the seq and the records', async () => {
    const first = facts.checkpoints[0]!.tree_size;
    const dir = copyOfStore((db) => {
      deleteCheckpointsAfterFirst(db);
      hideDeletedCheckpoints(db);
      deleteAndRenumber(db, new Set([...facts.rotations, ...facts.stops, ...facts.heartbeats]));
    });
    const alone = await verifyStoreDir(dir, { key: fingerprint, tsaCa: [tsa.caCertPath] });
    expect(alone.findings.filter((f) => f.severity === 'error')).toEqual([]);

    const r = await verifyStoreWithVault(dir, access(), { key: fingerprint, tsaCa: [tsa.caCertPath] });
    for (const f of r.findings) expect(f.severity, f.code).toBe(STORE_FINDINGS[f.code].severity);
    expect(r.ok).toBe(false);
    // Every checkpoint after the first is in the vault and not in the store.
    expect(r.findings.filter((f) => f.code === 'vault.checkpoint_missing').map((f) => f.where.checkpoint)).toEqual(facts.checkpoints.slice(1).map((c) => c.id));
    // The store no longer reaches the vault's newest seal: the deleted records are missing at the end.
    const removed = facts.rotations.length + facts.stops.length + facts.heartbeats.length;
    expect(r.findings.find((f) => f.code === 'vault.store_behind')?.where.seqRange).toEqual([facts.records - removed, facts.records - 1]);
    // The first vault checkpoint it disagrees with is the first one past the first record removed,
    // and the range it names runs from the last seal it agrees with to that checkpoint.
    const firstRemoved = Math.min(...facts.rotations, ...facts.stops, ...facts.heartbeats);
    const lastAgreeing = Math.max(...facts.checkpoints.filter((c) => c.tree_size <= firstRemoved).map((c) => c.tree_size));
    const firstDisagreeing = facts.checkpoints.find((c) => c.tree_size > firstRemoved)!;
    expect(lastAgreeing).toBeGreaterThanOrEqual(first);
    const inconsistent = r.findings.filter((f) => f.code === 'vault.store_inconsistent');
    expect(inconsistent[0]!.where).toMatchObject({ checkpoint: firstDisagreeing.id, seqRange: [lastAgreeing, firstDisagreeing.tree_size - 1] });
    // The records differ from the first one deleted onward (every later one was renumbered).
    const mismatch = r.findings.filter((f) => f.code === 'vault.record_mismatch');
    expect(mismatch[0]!.where.seqRange?.[0] ?? mismatch[0]!.where.seq).toBe(firstRemoved);
    expect(formatStoreVerification(r)).toMatch(/^result: +INVALID/m);
  });

  it('the tail cut back to a plausible short one (no renumbering): the store is behind the vault', async () => {
    const first = facts.checkpoints[0]!.tree_size;
    const dir = copyOfStore((db) => {
      deleteCheckpointsAfterFirst(db);
      hideDeletedCheckpoints(db);
      db.prepare('DELETE FROM records WHERE seq >= ?').run(first + 5);
      db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'records'`).run(first + 4);
    });
    const alone = await verifyStoreDir(dir, { key: fingerprint, tsaCa: [tsa.caCertPath] });
    expect(alone.findings).toEqual([]);
    const r = await verifyStoreWithVault(dir, access(), { key: fingerprint, tsaCa: [tsa.caCertPath] });
    expect(new Set(codes(r))).toEqual(new Set(['vault.checkpoint_missing', 'vault.store_behind']));
    expect(r.findings.find((f) => f.code === 'vault.store_behind')?.where.seqRange).toEqual([first + 5, facts.records - 1]);
  });

  it('with the store deleted, the vault alone verifies every record: zero findings', async () => {
    const [r, ...more] = await verifyVaultHost(access(), { host: 'web-01', key: fingerprint, tsaCa: [tsa.caCertPath] });
    expect(more).toEqual([]);
    expect(r!.findings).toEqual([]);
    expect(r!.records).toBe(facts.records);
    expect(r!.sealed?.treeSize).toBe(facts.records);
    expect(r!.tsa.verified).toBe(1);
    expect(r!.epochs).toBe(3);
    expect(formatStoreVerification(r!)).toMatch(/the store is not here; verified from/);
  });

  it('a second version of a write-once checkpoint is named; the oldest version is still the one verified', async () => {
    const reader = new SqliteStoreReader(pristine);
    const storeId = reader.meta().get('store_id')!;
    reader.close();
    const target = facts.checkpoints[1]!;
    const key = checkpointKey(client.vault.prefix, 'web-01', storeId, target.tree_size, target.id);
    const forged = Buffer.from('not the note the agent signed\n');
    await client.s3.send(new PutObjectCommand({ Bucket: client.bucket, Key: key, Body: forged, ContentMD5: createHash('md5').update(forged).digest('base64') }));
    const r = await verifyStoreWithVault(copyOfStore(), access(), { key: fingerprint, tsaCa: [tsa.caCertPath] });
    expect(codes(r)).toEqual(['vault.second_version']);
    expect(r.findings[0]!.where.vaultObject).toBe(key);
    const [alone] = await verifyVaultHost(access(), { host: 'web-01', key: fingerprint });
    expect(alone!.findings.filter((f) => f.severity === 'error').map((f) => f.code)).toEqual(['vault.second_version']);
    expect(alone!.records).toBe(facts.records);

    // The same bytes again (what two shippers racing between put-once's HEAD and PUT leave on RGW): a warning.
    const again = facts.checkpoints[2]!;
    const againKey = checkpointKey(client.vault.prefix, 'web-01', storeId, again.tree_size, again.id);
    const same = (await client.get(againKey)).body;
    await client.s3.send(new PutObjectCommand({ Bucket: client.bucket, Key: againKey, Body: same, ContentMD5: createHash('md5').update(same).digest('base64') }));
    const r2 = await verifyStoreWithVault(copyOfStore(), access(), { key: fingerprint, tsaCa: [tsa.caCertPath] });
    expect(r2.findings.map((f) => [f.code, f.where.vaultObject]).sort()).toEqual([['vault.duplicate_version', againKey], ['vault.second_version', key]].sort());
    expect(r2.findings.find((f) => f.code === 'vault.duplicate_version')!.severity).toBe('warning');
  });

  it('a store its agent never shipped: vault.store_not_shipped, not a silent pass', async () => {
    const other = join(work, 'never-shipped');
    const { store } = EvidenceStore.create(other, { host: 'db-01', bootId: 'boot-1', clock, policy: POLICY });
    store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '1', ino: '1', offset: 0, line_no: 1, length: 1, text: 'x' });
    store.close({ finalCheckpoint: true });
    const r = await verifyStoreWithVault(other, access());
    expect(codes(r)).toEqual(['vault.store_not_shipped']);
    expect(r.ok).toBe(false);
  });
});
