/**
 * The tests import the TypeScript sources, and worker threads run JavaScript: src/worker-script.ts
 * gives the sources the build's worker scripts, so every test that bursts into a store or verifies
 * a large one runs the same threads users do. This test fails if, from the sources, the store's
 * writer thread or the verifier's workers did not actually start and do the work (the build must be
 * current: `npm test` builds, and test/helpers/build-fresh.ts refuses a stale one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { SqliteStoreReader } from '../../src/store/store-reader.js';
import type { PipelineStats } from '../../src/verify/record-pipeline.js';
import { verifyStore } from '../../src/verify/store-verify.js';
import { workerScript } from '../../src/worker-script.js';
import { sshdLines } from '../helpers/sshd-lines.js';

const ROOT = resolve(__dirname, '../..');
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'custody-workers-from-source-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const line = sshdLines();

describe('worker threads started from the TypeScript sources', () => {
  it('are the build\'s scripts (dist/ mirrors src/), and none where there is no such script', () => {
    const from = pathToFileURL(join(ROOT, 'src/store/writer-thread.ts')).href;
    expect(fileURLToPath(workerScript('./writer-thread-worker.js', from)!)).toBe(join(ROOT, 'dist/src/store/writer-thread-worker.js'));
    expect(workerScript('./no-such-worker.js', from)).toBeUndefined();
    // From the build, next to the module that starts it.
    const built = pathToFileURL(join(ROOT, 'dist/src/verify/record-pipeline.js')).href;
    expect(fileURLToPath(workerScript('./record-check-worker.js', built)!)).toBe(join(ROOT, 'dist/src/verify/record-check-worker.js'));
  });

  it('the store\'s writer thread starts, takes a burst\'s commits, and hands the tree back', async () => {
    const dir = join(work, 'writer');
    const { store, enrollment } = EvidenceStore.create(dir, { host: 'web-01', bootId: 'b', policy: { batchRecords: 64, checkpointRecords: 500, checkpointMs: 3_600_000 } });
    // 'auto', as the agent runs it: a burst of full batches moves commits to the thread.
    let i = 0;
    while (store.writerThreadState !== 'active' && i < 64 * 400) store.append('log.line', 'file:/var/log/auth.log', line(i++));
    // 'active' only follows the thread's own "ready" message: no thread, no 'active'.
    expect(store.writerThreadState).toBe('active');
    for (const end = i + 2000; i < end; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    expect(store.flush()).toBe(i);
    store.close({ finalCheckpoint: true });
    expect(store.writerThreadState).toBe('off');
    const verified = await verifyDir(dir, enrollment.fingerprint, { workers: 0 });
    expect(verified.findings).toEqual([]);
    expect(verified.records).toBe(i);
  });

  it('the verifier\'s worker threads check the records, finding what the in-thread check finds', async () => {
    const dir = join(work, 'verify');
    const { store, enrollment } = EvidenceStore.create(dir, { host: 'web-01', bootId: 'b', writerThread: 'off', policy: { batchRecords: 256, checkpointRecords: 1000, checkpointMs: 3_600_000 } });
    for (let i = 0; i < 3000; i++) store.append('log.line', 'file:/var/log/auth.log', line(i));
    store.close({ finalCheckpoint: true });
    const inThread = await verifyDir(dir, enrollment.fingerprint, { workers: 0 });
    const inWorkers = await verifyDir(dir, enrollment.fingerprint, { workers: 2, parallelAfter: 0, batchSize: 200, shareWork: false });
    expect(inThread.stats?.checkedInWorkers).toBe(0);
    expect(inWorkers.stats?.workersStarted).toBe(2);
    // Counted only for batches whose results came back from a worker.
    expect(inWorkers.stats?.checkedInWorkers).toBe(3000);
    expect(inWorkers.ok).toBe(true);
    expect(inWorkers.findings).toEqual(inThread.findings);
  });
});

async function verifyDir(dir: string, fingerprint: string, options: { workers: number; parallelAfter?: number; batchSize?: number }) {
  const reader = new SqliteStoreReader(dir);
  let stats: PipelineStats | undefined;
  try {
    const result = await verifyStore(reader, { trust: { fingerprint, source: 'pinned' }, onPipelineStats: (s) => (stats = s), ...options });
    return { ok: result.ok, records: result.records, findings: result.findings, stats };
  } finally {
    reader.close();
  }
}
