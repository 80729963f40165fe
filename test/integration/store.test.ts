import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStoreDir } from '../../collector/verify.js';
import { CustodyError } from '../../src/errors.js';
import { decodeCanonical } from '../../src/records/canonical.js';
import { EvidenceStore, EVIDENCE_FILE } from '../../src/store/evidence-store.js';
import { snapshotStore } from '../../src/store/snapshot.js';
import { StateStore } from '../../src/store/state-store.js';
import type { Clock } from '../../src/clock.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-store-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
const fresh = () => join(work, `s${++n}`);
const lineAt = (i: number) => ({ path: '/var/log/syslog', dev: '1', ino: '2', offset: i * 10, line_no: i + 1, length: 6, text: `line ${i}`.slice(0, 6) });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof CustodyError ? err.code : `foreign: ${(err as Error).message}`;
  }
}

describe('the store enforces its own invariants', () => {
  it('refuses UPDATE and DELETE on every evidence table at the database level', () => {
    const dir = fresh();
    const { store } = EvidenceStore.create(dir, { host: 'h1' });
    store.append('log.line', 's', lineAt(0));
    store.checkpoint();
    store.close();
    const db = new Database(join(dir, EVIDENCE_FILE));
    for (const sql of [
      'UPDATE records SET kind = 1',
      'DELETE FROM records',
      'UPDATE checkpoints SET tree_size = 0',
      'DELETE FROM checkpoints',
      `UPDATE meta SET value = 'x'`,
      'DELETE FROM meta',
    ]) {
      expect(() => db.exec(sql), sql).toThrow(/append-only evidence/);
    }
    // A checkpoint may not shrink the tree or cover records that do not exist.
    expect(() => db.prepare('INSERT INTO checkpoints(tree_size, epoch, created_at, note) VALUES (0, 0, ?, ?)').run('t', 'n')).toThrow(/shrink/);
    expect(() => db.prepare('INSERT INTO checkpoints(tree_size, epoch, created_at, note) VALUES (99, 0, ?, ?)').run('t', 'n')).toThrow(/do not exist/);
    db.close();
  });

  it('refuses to commit a batch that does not continue the table (another writer changed it)', () => {
    const dir = fresh();
    const { store } = EvidenceStore.create(dir, { host: 'h1' });
    store.append('log.line', 's', lineAt(0));
    store.flush();
    store.append('log.line', 's', lineAt(1));
    const intruder = new Database(join(dir, EVIDENCE_FILE));
    intruder.prepare('INSERT INTO records(seq, kind, observed_at, leaf_hash, bytes) VALUES (1, ?, ?, ?, ?)').run('x', 'y', Buffer.alloc(32), Buffer.alloc(1));
    intruder.close();
    expect(codeOf(() => store.flush())).toBe('E_STORE_CORRUPT');
    expect(store.pendingCount).toBe(1); // nothing queued is dropped
    expect(codeOf(() => store.close())).toBe('E_STORE_CORRUPT'); // closing says so too, and releases the store
  });

  it('validates records at the door and assigns gapless seq', () => {
    const { store } = EvidenceStore.create(fresh(), { host: 'h1' });
    expect(store.append('log.line', 's', lineAt(0))).toBe(0);
    expect(codeOf(() => store.append('log.line', 's', { ...lineAt(1), dev: 5 } as never))).toBe('E_RECORD_INVALID');
    expect(codeOf(() => store.append('log.line', 's', { ...lineAt(1), text: '\ud800' }))).toBe('E_CANONICAL_INVALID');
    expect(store.append('log.line', 's', lineAt(1))).toBe(1);
    store.close();
  });

  it('commits in batches by count and by time, and checkpoints by policy', async () => {
    const { store } = EvidenceStore.create(fresh(), { host: 'h1', policy: { batchRecords: 10, batchMs: 30, checkpointRecords: 25, checkpointMs: 3_600_000 } });
    for (let i = 0; i < 9; i++) store.append('log.line', 's', lineAt(i));
    expect(store.size).toBe(0);
    store.append('log.line', 's', lineAt(9));
    expect(store.size).toBe(10); // the batch filled
    expect(store.lastCheckpoint?.tree_size).toBe(10); // the first checkpoint comes as soon as there is anything
    for (let i = 10; i < 13; i++) store.append('log.line', 's', lineAt(i));
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (store.size === 13) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
    for (let i = 13; i < 33; i++) store.append('log.line', 's', lineAt(i));
    expect(store.size).toBe(33);
    expect(store.lastCheckpoint?.tree_size).toBe(10); // 23 committed since the last: under 25
    for (let i = 33; i < 43; i++) store.append('log.line', 's', lineAt(i));
    expect(store.lastCheckpoint?.tree_size).toBe(43); // 33 since the last: over 25
    store.close();
  });

  it('takes a single-writer lock and takes over one left by a dead process', () => {
    const dir = fresh();
    const { store } = EvidenceStore.create(dir, { host: 'h1' });
    expect(codeOf(() => EvidenceStore.open(dir))).toBeUndefined(); // same process: the lock names us
    store.close();
    const again = EvidenceStore.open(dir);
    again.close();
    expect(codeOf(() => EvidenceStore.open(join(work, 'nope')))).toBe('E_STORE_NOT_FOUND');
    expect(codeOf(() => EvidenceStore.create(dir, { host: 'h1' }))).toBe('E_STORE_EXISTS');
  });

  it('keeps the signing key at mode 0600 in a 0700 folder and erases retired keys', () => {
    const dir = fresh();
    const { store } = EvidenceStore.create(dir, { host: 'h1' });
    expect(statSync(join(dir, 'keys')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'keys', 'epoch-0.key')).mode & 0o777).toBe(0o600);
    store.append('log.line', 's', lineAt(0));
    store.rotateKey();
    store.rotateKey();
    expect(readdirSync(join(dir, 'keys'))).toEqual(['epoch-2.key']);
    expect(store.epoch).toBe(2);
    store.close({ finalCheckpoint: true });
  });

  it('rotates keys when the epoch is due, even with no new evidence', async () => {
    let now = Date.UTC(2026, 10, 23);
    const clock: Clock = { nowMs: () => now, monoNs: () => BigInt(now) * 1_000_000n };
    const dir = fresh();
    const { store } = EvidenceStore.create(dir, { host: 'h1', clock, policy: { epochMs: 60_000 } });
    expect(store.epochDue()).toBe(false);
    now += 60_000;
    expect(store.epochDue()).toBe(true);
    store.rotateKey();
    expect(store.epochDue()).toBe(false);
    store.close();
    const result = await verifyStoreDir(dir);
    expect(result.findings).toEqual([]);
    expect(result.epochs).toBe(2);
    expect(result.sealed?.treeSize).toBe(1); // the key.rotate record itself grows and seals the tree
  });

  it('keeps queued records when a commit fails and commits them once it can (store size cap)', () => {
    const dir = fresh();
    const { store } = EvidenceStore.create(dir, { host: 'h1', policy: { batchRecords: 1_000_000, checkpointRecords: 1_000_000 } });
    store.setMaxDatabaseBytes(store.databaseBytes() + 8 * 4096);
    const big = 'x'.repeat(3000);
    for (let i = 0; i < 200; i++) store.append('log.line', 's', { ...lineAt(i), length: big.length, text: big });
    expect(codeOf(() => store.flush())).toBe('E_STORE_WRITE_FAILED');
    expect(store.pendingCount).toBe(200);
    expect(store.size).toBe(0);
    store.setMaxDatabaseBytes(0);
    store.flush();
    expect(store.size).toBe(200);
    expect(store.pendingCount).toBe(0);
    store.close({ finalCheckpoint: true });
  });

  it('keeps mutable agent state in a separate database', () => {
    const dir = fresh();
    const { store } = EvidenceStore.create(dir, { host: 'h1' });
    const state = new StateStore(dir);
    state.set('cursor:/var/log/syslog', { offset: 10 });
    state.set('cursor:/var/log/syslog', { offset: 20 });
    expect(state.entries('cursor:')).toEqual([['cursor:/var/log/syslog', { offset: 20 }]]);
    state.close();
    store.close();
    const db = new Database(join(dir, EVIDENCE_FILE), { readonly: true });
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE name = 'kv'`).get()).toBeUndefined();
    db.close();
  });
});

function startWriter(dir: string, rotateEvery = 700): ChildProcess & { lastSeq: () => number } {
  const child = spawn(process.execPath, [join(__dirname, '..', 'helpers', 'store-writer-child.mjs'), dir, String(rotateEvery)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let last = -1;
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    for (const m of chunk.matchAll(/seq (\d+)/g)) last = Number(m[1]);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.on('exit', (code, signal) => {
    if (signal !== 'SIGKILL' && stderr) console.error(`writer exited ${code} ${signal}: ${stderr}`);
  });
  return Object.assign(child, { lastSeq: () => last });
}

async function waitFor(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('crashes and snapshots', () => {
  it('has zero findings after kill -9 at random instants, mid-batch and mid-rotation, and resumes', async () => {
    const dir = fresh();
    EvidenceStore.create(dir, { host: 'h1' }).store.close();
    let previous = 0;
    for (let round = 0; round < 12; round++) {
      const child = startWriter(dir, 300 + round * 37);
      await waitFor(() => child.lastSeq() > previous + 200 + Math.floor(Math.random() * 1500), `writer progress in round ${round}`);
      // Let it run a random extra moment so the kill lands anywhere in the write path.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const result = await verifyStoreDir(dir);
      expect(result.findings, `round ${round}`).toEqual([]);
      expect(result.records).toBeGreaterThanOrEqual(previous);
      previous = result.records;
    }
    // A clean reopen continues the same chain.
    const store = EvidenceStore.open(dir);
    expect(store.nextSequence).toBe(previous);
    store.append('agent.heartbeat', 'test', { uptime_ms: 1 });
    store.close({ finalCheckpoint: true });
    const final = await verifyStoreDir(dir);
    expect(final.findings).toEqual([]);
    expect(final.unsealed).toBeUndefined();
    expect(final.epochs).toBeGreaterThan(3);
  });

  it('takes consistent snapshots while a writer in another process keeps appending', async () => {
    const dir = fresh();
    EvidenceStore.create(dir, { host: 'h1' }).store.close();
    const child = startWriter(dir, 0);
    try {
      let lastCount = -1;
      for (let i = 0; i < 6; i++) {
        await waitFor(() => child.lastSeq() > (i + 1) * 2000, 'writer progress');
        const snap = snapshotStore(dir, join(work, `snap-${n}-${i}`));
        const result = await verifyStoreDir(snap.dir);
        expect(result.findings, `snapshot ${i}`).toEqual([]);
        expect(result.records).toBe(snap.records);
        expect(snap.records).toBeGreaterThan(lastCount);
        lastCount = snap.records;
        // Nothing but evidence and the public enrollment key is copied.
        expect(readdirSync(snap.dir).sort()).toEqual(['enrollment.pub', EVIDENCE_FILE]);
      }
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('reads back exactly the canonical bytes it stored', () => {
    const dir = fresh();
    const { store } = EvidenceStore.create(dir, { host: 'h1' });
    store.append('log.line', 's', { ...lineAt(0), text: undefined, raw_b64: Buffer.from([0xff, 0, 0xfe]).toString('base64'), length: 3 });
    store.flush();
    const [row] = [...store.records()];
    const record = decodeCanonical(row!.bytes) as { payload: { raw_b64: string } };
    expect(Buffer.from(record.payload.raw_b64, 'base64')).toEqual(Buffer.from([0xff, 0, 0xfe]));
    store.close();
  });
});
