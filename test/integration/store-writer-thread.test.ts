/**
 * The store's writer thread: commits posted to a worker thread while the store's thread prepares
 * the next batch. The evidence must be exactly what the store writes in its own thread, nothing
 * may be lost when a commit fails there, and the thread must hand the tree back when it stops.
 *
 * This test drives the store built in dist/ (`npm test` builds first), the whole of it as users run
 * it; tests that import the sources start the same thread from dist/ (src/worker-script.ts,
 * test/integration/worker-threads-from-source.test.ts).
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStoreDir } from '../../collector/verify.js';
import type * as StoreModule from '../../src/store/evidence-store.js';
import type { Clock } from '../../src/clock.js';
import { sshdLines } from '../helpers/sshd-lines.js';

const DIST = resolve(__dirname, '../../dist');
let EvidenceStore: typeof StoreModule.EvidenceStore;
let work: string;

beforeAll(async () => {
  if (!existsSync(join(DIST, 'src/store/writer-thread-worker.js'))) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.json` (npm test does)');
  ({ EvidenceStore } = (await import(pathToFileURL(join(DIST, 'src/store/evidence-store.js')).href)) as typeof StoreModule);
  work = mkdtempSync(join(tmpdir(), 'custody-writer-thread-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

let dirs = 0;
const fresh = (): string => join(work, `s${dirs++}`);

/** A clock that moves 1 ms per reading, so two stores fed the same appends write the same records. */
function steppingClock(): Clock {
  let ms = Date.parse('2026-11-23T10:00:00Z');
  let ns = 10n ** 15n;
  return { nowMs: () => ms++, monoNs: () => (ns += 1000n) };
}

const line = sshdLines();

function rows(dir: string): { seq: number; bytes: Buffer; leaf_hash: Buffer }[] {
  const db = new Database(join(dir, 'evidence.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT seq, bytes, leaf_hash FROM records ORDER BY seq').all() as { seq: number; bytes: Buffer; leaf_hash: Buffer }[];
  } finally {
    db.close();
  }
}

const policy = { batchRecords: 64, checkpointRecords: 500, checkpointMs: 3_600_000 };

describe('the writer thread', () => {
  it('writes exactly the records the in-thread store writes, and they verify', async () => {
    const written: Record<string, string> = {};
    for (const mode of ['off', 'on'] as const) {
      const dir = fresh();
      written[mode] = dir;
      const { store } = EvidenceStore.create(dir, { host: 'web-01', bootId: 'b00t', clock: steppingClock(), policy, writerThread: mode });
      expect(store.writerThreadState).toBe(mode === 'on' ? 'active' : 'off');
      for (let i = 0; i < 5000; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
      store.rotateKey();
      for (let i = 5000; i < 6000; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
      expect(store.nextSequence).toBe(6001);
      expect(store.flush()).toBe(6001);
      expect(store.pendingCount).toBe(0);
      store.close({ finalCheckpoint: true });
      const result = await verifyStoreDir(dir);
      expect(result.findings).toEqual([]);
      expect(result.records).toBe(6001);
      expect(result.epochs).toBe(2);
      expect(result.sealed?.treeSize).toBe(6001);
    }
    const inThread = rows(written['off']!);
    const threaded = rows(written['on']!);
    expect(threaded.length).toBe(inThread.length);
    // Same bytes and leaf hashes except the key.rotate record, whose fresh key differs per store.
    const differing = threaded.filter((r, i) => !r.bytes.equals(inThread[i]!.bytes) || !r.leaf_hash.equals(inThread[i]!.leaf_hash)).map((r) => r.seq);
    expect(differing).toEqual([5000]);
  });

  it('starts during a burst, stops when idle, hands the tree back, and the store goes on', async () => {
    const dir = fresh();
    const { store } = EvidenceStore.create(dir, { host: 'web-01', policy, writerIdleMs: 200 });
    expect(store.writerThreadState).toBe('off');
    let i = 0;
    for (; i < 4000; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    expect(store.writerThreadState).not.toBe('off');
    // Give it time to take over, then more of the burst goes through it.
    const deadline = Date.now() + 10_000;
    while (store.writerThreadState !== 'active' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      for (let k = 0; k < 64; k++, i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    }
    expect(store.writerThreadState).toBe('active');
    for (const end = i + 2000; i < end; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    store.flush();
    expect(store.size).toBe(i);
    // Idle: the thread stops and the store commits in its own thread again, continuing the same tree.
    const idleBy = Date.now() + 10_000;
    while (store.writerThreadState !== 'off' && Date.now() < idleBy) await new Promise((r) => setTimeout(r, 50));
    expect(store.writerThreadState).toBe('off');
    for (const end = i + 10; i < end; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    store.close({ finalCheckpoint: true });
    const result = await verifyStoreDir(dir);
    expect(result.findings).toEqual([]);
    expect(result.records).toBe(i);
    expect(result.sealed?.treeSize).toBe(i);
    expect(rows(dir).map((r) => r.seq)).toEqual(Array.from({ length: i }, (_, k) => k));
  });

  it('keeps every record queued when commits fail in the thread (size cap), and commits them in order once it can', async () => {
    const dir = fresh();
    const { store } = EvidenceStore.create(dir, { host: 'web-01', policy, writerThread: 'on' });
    expect(store.writerThreadState).toBe('active');
    for (let i = 0; i < 300; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    store.flush();
    store.setMaxDatabaseBytes(store.databaseBytes() + 4 * 4096);
    const big = 'x'.repeat(3000);
    let thrown: unknown;
    let i = 300;
    for (; i < 3000 && thrown === undefined; i++) {
      try {
        // Each big line continues where the previous one ended (verify checks that a file's lines are contiguous).
        store.append('log.line', 'file:/var/log/auth.log', { ...line(300), offset: line(300).offset + (i - 300) * (big.length + 1), line_no: i + 1, length: big.length, text: big });
      } catch (err) {
        thrown = err;
      }
    }
    expect((thrown as { code?: string }).code).toBe('E_STORE_WRITE_FAILED');
    expect((thrown as Error).message).toMatch(/committing records \d+\.\.\d+ failed \(SQLITE_FULL\)/);
    // The record whose append threw is queued too: nothing appended is lost.
    const appended = i;
    expect(store.nextSequence).toBe(appended);
    expect(store.size + store.pendingCount).toBe(appended);
    expect(() => store.flush()).toThrow(/SQLITE_FULL/);
    expect(store.size + store.pendingCount).toBe(appended);
    store.setMaxDatabaseBytes(0);
    expect(store.flush()).toBe(appended);
    expect(store.pendingCount).toBe(0);
    store.close({ finalCheckpoint: true });
    const result = await verifyStoreDir(dir);
    expect(result.findings).toEqual([]);
    const all = rows(dir);
    expect(all.map((r) => r.seq)).toEqual(Array.from({ length: appended }, (_, k) => k));
    const lineNos = all.map((r) => (JSON.parse(r.bytes.toString('utf8')) as { payload: { line_no: number } }).payload.line_no);
    expect(lineNos).toEqual(Array.from({ length: appended }, (_, k) => k + 1));
  });

  it('commits everything in flight on close, under the final checkpoint', async () => {
    const dir = fresh();
    const { store } = EvidenceStore.create(dir, { host: 'web-01', policy, writerThread: 'on' });
    for (let i = 0; i < 3000; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    expect(store.pendingCount).toBeGreaterThan(0);
    store.close({ finalCheckpoint: true });
    const reopened = EvidenceStore.open(dir, { writerThread: 'off' });
    expect(reopened.size).toBe(3000);
    expect(reopened.lastCheckpoint?.tree_size).toBe(3000);
    reopened.close();
    const result = await verifyStoreDir(dir);
    expect(result.findings).toEqual([]);
  });
});

describe('when the writer thread dies', () => {
  it('the store reads back what was committed, queues the rest again, commits it itself, and says so', async () => {
    const dir = fresh();
    const reported: { code: string; message: string }[] = [];
    const { store } = EvidenceStore.create(dir, { host: 'web-01', policy, writerThread: 'on', onBackgroundError: (err) => reported.push({ code: err.code, message: err.message }) });
    expect(store.writerThreadState).toBe('active');
    let i = 0;
    for (; i < 2000; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    // Commits are in flight: end the thread under them (fault injection through the private field).
    (store as unknown as { writerCommits: { writer: { terminate(): void } } }).writerCommits.writer.terminate();
    for (const end = i + 500; i < end; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    expect(store.flush()).toBe(i);
    expect(store.writerThreadState).toBe('off');
    expect(reported).toHaveLength(1);
    expect(reported[0]!.code).toBe('E_STORE_WRITE_FAILED');
    expect(reported[0]!.message).toMatch(/the writer thread ended; \d+ records are queued again and will be committed in this thread/);
    store.close({ finalCheckpoint: true });
    const result = await verifyStoreDir(dir);
    expect(result.findings).toEqual([]);
    expect(rows(dir).map((r) => r.seq)).toEqual(Array.from({ length: i }, (_, k) => k));
  });
});
