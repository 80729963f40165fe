/**
 * The collector's witness (a signed size + Merkle root of every store it copied, sealed or not) is
 * what protects a snapshot's unsealed tail: no agent checkpoint covers it, so after the records are
 * changed and their leaf hashes recomputed the store itself still verifies. `verifyBundle` must
 * recompute the witnessed root over the snapshot's records and name the change. Real store, real
 * collect, real SQLite edits.
 */
import Database from 'better-sqlite3';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectCase } from '../../collector/collect.js';
import { verifyBundle } from '../../collector/verify-bundle.js';
import { systemClock } from '../../src/clock.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { verifyStore } from '../../src/verify/store-verify.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import { leafHash, MerkleFrontier } from '../../src/integrity/merkle.js';

let work: string;
let bundle: string;

function snapshotOf(dir: string): string {
  const hostDir = join(dir, 'evidence', 'ws-07');
  return join(hostDir, readdirSync(hostDir)[0] as string, 'evidence.sqlite');
}

/** The store's enrollment key as the manifest states it. */
function enrollmentKey(dir: string): Uint8Array {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { hosts: Array<{ enrollment: { public_key: string } }> };
  return new Uint8Array(Buffer.from(manifest.hosts[0]?.enrollment.public_key ?? '', 'base64'));
}

/** Opens a snapshot the way an attacker would: the append-only triggers dropped first. */
function openForTamper(path: string): Database.Database {
  const db = new Database(path);
  for (const { name } of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all() as Array<{ name: string }>) db.exec(`DROP TRIGGER ${name}`);
  return db;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'custody-witness-'));
  const storeDir = join(work, 'store');
  const { store } = EvidenceStore.create(storeDir, { host: 'ws-07', bootId: 'c0ffee00-1111-2222-3333-444455556666' });
  for (let i = 0, offset = 0; i < 40; i++) {
    const text = `Nov 23 09:00:${String(i).padStart(2, '0')} ws-07 sshd[${4000 + i}]: Failed password for root from 203.0.113.7 port ${50000 + i} ssh2`;
    // Offsets as the agent records them: each line starts after the previous one and its newline (verify checks it).
    store.append('log.line', 'file:/var/log/auth.log', { path: '/var/log/auth.log', dev: '2049', ino: '77', offset, line_no: i + 1, length: Buffer.byteLength(text), text });
    offset += Buffer.byteLength(text) + 1;
    // The first commit signs a checkpoint (at 20 records); the next 20 are not due for one.
    if (i === 19) store.flush();
  }
  // No final checkpoint: seq 20..39 stay unsealed, as in a store copied from a running agent.
  store.close({ finalCheckpoint: false });
  bundle = join(work, 'bundle');
  await collectCase({ caseId: 'IR-W', stores: [storeDir], out: bundle, report: false }, { clock: systemClock, collectorHost: 'ir-laptop', version: 'test', codeSha256: '0'.repeat(64) });
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the witness over a bundle snapshot', () => {
  it('the untouched bundle: witness OK at the size collected', async () => {
    const r = await verifyBundle(bundle);
    expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(r.hosts[0]?.store?.sealed?.treeSize).toBe(20);
    expect(r.hosts[0]?.witness).toMatchObject({ ok: true });
    expect(r.hosts[0]?.witness.tree_size).toBe(40);
  });

  it('an unsealed record edited with its leaf hash recomputed: the store alone cannot tell, the witness names it', async () => {
    const copy = join(work, 'edited');
    cpSync(bundle, copy, { recursive: true });
    const db = openForTamper(snapshotOf(copy));
    const last = db.prepare(`SELECT seq, bytes FROM records WHERE kind = 'log.line' ORDER BY seq DESC LIMIT 1`).get() as { seq: number; bytes: Buffer };
    const edited = Buffer.from(last.bytes.toString('utf8').replace('203.0.113.7', '10.9.9.9'));
    db.prepare('UPDATE records SET bytes = ?, leaf_hash = ? WHERE seq = ?').run(edited, leafHash(edited), last.seq);
    db.close();

    const reader = new SqliteStoreReader(join(snapshotOf(copy), '..'));
    const alone = await verifyStore(reader, { trust: { publicKeyRaw: enrollmentKey(copy), source: 'enrollment-file' }, workers: 0 });
    reader.close();
    expect(alone.findings).toEqual([]);

    const r = await verifyBundle(copy);
    const codes = r.findings.map((f) => f.code);
    expect(codes).toContain('witness.root_mismatch');
    expect(r.findings.find((f) => f.code === 'witness.root_mismatch')?.where).toMatch(/^evidence\/ws-07\/[0-9a-f]+: seq 0\.\./);
    expect(r.hosts[0]?.witness.ok).toBe(false);
  });

  it('records removed from the end: the witness names the missing tail', async () => {
    const copy = join(work, 'truncated');
    cpSync(bundle, copy, { recursive: true });
    const db = openForTamper(snapshotOf(copy));
    const max = (db.prepare('SELECT MAX(seq) AS m FROM records').get() as { m: number }).m;
    db.prepare('DELETE FROM records WHERE seq >= ?').run(max - 4);
    db.close();
    const r = await verifyBundle(copy);
    const beyond = r.findings.find((f) => f.code === 'witness.beyond_end');
    expect(beyond?.message).toBe(`the collector witnessed ${max + 1} records, the snapshot holds ${max - 4}`);
  });

  it('verifyStore hands over the root at a requested size, the same as a frontier over the records read again', async () => {
    const reader = new SqliteStoreReader(join(snapshotOf(bundle), '..'));
    const expected = new Map<number, string>();
    const frontier = new MerkleFrontier();
    expected.set(0, Buffer.from(frontier.root()).toString('hex'));
    for (const row of reader.records()) {
      frontier.push(leafHash(row.bytes));
      expected.set(frontier.size, Buffer.from(frontier.root()).toString('hex'));
    }
    const got = new Map<number, string>();
    const sizes = [0, 1, 17, frontier.size, frontier.size + 5];
    for (const workers of [0, 2]) {
      got.clear();
      await verifyStore(reader, { trust: { publicKeyRaw: enrollmentKey(bundle), source: 'enrollment-file' }, workers, parallelAfter: 0, batchSize: 8, rootsAt: sizes, onRoot: (size, root) => got.set(size, Buffer.from(root).toString('hex')) });
      expect([...got.keys()]).toEqual([0, 1, 17, frontier.size]);
      for (const [size, root] of got) expect(root).toBe(expected.get(size));
    }
    reader.close();
  });
});
