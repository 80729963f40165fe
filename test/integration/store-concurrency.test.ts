/**
 * Every write path of the store at once, on a real SQLite file (issue 15): the writer thread forced
 * on and committing on its own connection, the store's thread writing blobs on its connection in
 * between, checkpoints and key rotations, while another process takes collector snapshots, reads
 * the agent status and reads the store. Before commits began with BEGIN IMMEDIATE, the writer
 * thread's commit failed with SQLITE_BUSY whenever a blob was written between its read and its
 * write (every one of 30 runs of a smaller version of this).
 *
 * Worker threads run compiled JavaScript, so this drives the store built in dist/ (`npm test` builds first).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyStoreDir } from '../../collector/verify.js';
import type { CustodyError } from '../../src/errors.js';
import type * as StoreModule from '../../src/store/evidence-store.js';
import Database from 'better-sqlite3';
import { decodeCanonical } from '../../src/records/canonical.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { tempDir } from '../helpers/ingest-harness.js';

const DIST = resolve(__dirname, '../../dist');
/** A guard against a hang, not a speed target (a busy 2-core machine runs this slowly). */
const HANG_GUARD_MS = 600_000;
let EvidenceStore: typeof StoreModule.EvidenceStore;
let tmp: { dir: string; cleanup: () => void };

beforeAll(async () => {
  if (!existsSync(join(DIST, 'src/store/writer-thread-worker.js'))) throw new Error('dist/ is not built: run `npx tsc -p tsconfig.json` (npm test does)');
  ({ EvidenceStore } = (await import(pathToFileURL(join(DIST, 'src/store/evidence-store.js')).href)) as typeof StoreModule);
  tmp = tempDir('store-concurrency');
});
afterAll(() => tmp.cleanup());

interface ReaderResult {
  snapshots: Array<{ dir: string; records: number; sealedSize: number }>;
  statusReads: number;
  verifications: number;
  reads: number;
  errors: string[];
}

/** Starts the reading process; `stop()` closes its input and resolves with what it did. */
function startReader(storeDir: string, snapshotsDir: string): { ready: Promise<void>; stop: () => Promise<ReaderResult> } {
  const child = spawn(process.execPath, [join(__dirname, '../helpers/store-reader-child.mjs'), storeDir, snapshotsDir], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let readyResolve: () => void = () => undefined;
  const ready = new Promise<void>((r) => (readyResolve = r));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.startsWith('ready\n')) readyResolve();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    ready,
    stop: async () => {
      child.stdin.end();
      const code = await exited;
      expect(code).toBe(0);
      const last = out.trim().split('\n').at(-1)!;
      return JSON.parse(last) as ReaderResult;
    },
  };
}

describe('the store under every concurrent path at once', () => {
  it('300 rounds of appends, blobs, checkpoints and key rotations while another process snapshots and reads: no failed commit, every record once, it verifies', async () => {
    const dir = join(tmp.dir, 'store');
    const errors: CustodyError[] = [];
    const { store } = EvidenceStore.create(dir, {
      host: 'busy-01',
      writerThread: 'on',
      policy: { batchRecords: 64, batchMs: 20, checkpointRecords: 500, checkpointMs: 3_600_000, epochMs: 3_600_000 },
      onBackgroundError: (err) => errors.push(err),
    });
    expect(store.writerThreadState).toBe('active');
    const reader = startReader(dir, join(tmp.dir, 'snapshots'));
    await reader.ready;

    const blobs: string[] = [];
    let n = 0;
    const rounds = 300;
    let readerResult: ReaderResult;
    try {
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < 150; i++) store.append('agent.heartbeat', 'test', { uptime_ms: n++ });
        // A blob on the store's own connection while the writer thread commits on its own.
        const content = Buffer.from(`round ${round} `.repeat(4096 + round));
        blobs.push(store.putBlob(content));
        expect(blobs.at(-1)).toBe(createHash('sha256').update(content).digest('hex'));
        if (round % 7 === 3) store.checkpoint();
        if (round % 60 === 59) store.rotateKey();
        // Let the reading process and the writer thread's replies in now and then.
        if (round % 10 === 0) await new Promise((r) => setImmediate(r));
      }
      store.close({ finalCheckpoint: true });
    } finally {
      readerResult = await reader.stop();
    }

    expect(errors.map((e) => `${e.code}: ${e.message}`)).toEqual([]);
    expect(readerResult.errors).toEqual([]);
    expect(readerResult.snapshots.length).toBeGreaterThan(3);
    expect(readerResult.statusReads).toBeGreaterThan(3);
    expect(readerResult.verifications).toBeGreaterThan(0);

    // Every heartbeat exactly once, in order; the key rotations between them; seq gapless.
    const db = new Database(join(dir, 'evidence.sqlite'), { readonly: true });
    const rows = db.prepare('SELECT bytes FROM records ORDER BY seq').pluck().all() as Buffer[];
    const blobCount = db.prepare('SELECT COUNT(DISTINCT sha256) FROM blobs').pluck().get() as number;
    db.close();
    const records = rows.map((b) => decodeCanonical(b) as EvidenceRecord);
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i));
    const beats = records.filter((r) => r.kind === 'agent.heartbeat').map((r) => (r.payload as { uptime_ms: number }).uptime_ms);
    expect(beats).toEqual(Array.from({ length: rounds * 150 }, (_, i) => i));
    expect(records.filter((r) => r.kind === 'key.rotate')).toHaveLength(5);

    const verification = await verifyStoreDir(dir);
    expect(verification.findings).toEqual([]);
    expect(verification.ok).toBe(true);
    expect(blobCount).toBe(new Set(blobs).size);

    // What the collector took while all this went on is consistent too: the last snapshot and one from the middle.
    const snaps = readerResult.snapshots;
    for (const snap of [snaps[Math.floor(snaps.length / 2)]!, snaps.at(-1)!]) {
      const v = await verifyStoreDir(snap.dir);
      expect(v.findings.filter((f) => f.severity === 'error')).toEqual([]);
      expect(v.ok).toBe(true);
      expect(v.records).toBe(snap.records);
    }
  }, HANG_GUARD_MS);

  it('a commit that meets another process holding the write lock longer than SQLite\'s busy timeout waits for it, and succeeds', async () => {
    const dir = join(tmp.dir, 'held');
    const { store } = EvidenceStore.create(dir, { host: 'held-01', writerThread: 'off' });
    for (let i = 0; i < 10; i++) store.append('agent.heartbeat', 'test', { uptime_ms: i });
    store.flush();
    // Another process takes the write lock and keeps it for 7 s (SQLite's own wait is 5 s per attempt).
    const holder = spawn(
      process.execPath,
      ['-e', `const D=require('better-sqlite3');const db=new D(process.argv[1]);db.exec('BEGIN IMMEDIATE');process.stdout.write('held\\n');setTimeout(()=>{db.exec('COMMIT');db.close();},7000);`, join(dir, 'evidence.sqlite')],
      { stdio: ['ignore', 'pipe', 'inherit'], cwd: resolve(__dirname, '../..') },
    );
    await new Promise<void>((r) => holder.stdout.once('data', () => r()));
    for (let i = 10; i < 20; i++) store.append('agent.heartbeat', 'test', { uptime_ms: i });
    const putBlobWhileHeld = store.putBlob(Buffer.from('held blob'));
    expect(store.flush()).toBe(20);
    store.close({ finalCheckpoint: true });
    expect(await new Promise((r) => holder.on('exit', r))).toBe(0);
    expect(putBlobWhileHeld).toBe(createHash('sha256').update('held blob').digest('hex'));
    const v = await verifyStoreDir(dir);
    expect(v.ok).toBe(true);
    expect(v.records).toBe(20);
  }, HANG_GUARD_MS);
});
