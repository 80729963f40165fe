/**
 * The store cannot commit (SQLITE_FULL through the store's size cap, exactly as on a full disk):
 * the ingestor logs the error, stops advancing, retries with backoff, and once the condition
 * clears everything arrives exactly once.
 */
import { appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allRecords, idle, lineRecords, makeRig, reconstruct, tempDir, waitFor, type Rig } from '../helpers/ingest-harness.js';

let tmp: { dir: string; cleanup: () => void };
let rig: Rig | undefined;
/** A store left open with uncommittable records, as a dead process would leave it. */
let zombie: Rig | undefined;
beforeEach(() => {
  tmp = tempDir('full');
});
afterEach(async () => {
  try {
    await rig?.close();
  } catch {
    // the store may refuse to flush on close if a test failed while it was full
  }
  rig = undefined;
  try {
    zombie?.store.close();
  } catch {
    // it cannot commit: that is the point
  }
  zombie?.state.close();
  zombie = undefined;
  tmp.cleanup();
});

function lines(from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += `entry ${i} ${'p'.repeat(150 + (i % 50))}\n`;
  return s;
}

describe('ingest: the store cannot commit', () => {
  it('stops advancing while the store is full, retries with backoff, then records everything exactly once', async () => {
    const logs = join(tmp.dir, 'logs');
    mkdirSync(logs);
    const a = join(logs, 'a.log');
    writeFileSync(a, lines(0, 100));
    rig = await makeRig(join(tmp.dir, 'store'), { watch: [join(logs, '*.log')], retry: { initialMs: 50, maxMs: 200 } });
    await rig.start();
    await idle(rig);
    const r = rig;

    r.store.setMaxDatabaseBytes(r.store.databaseBytes());
    appendFileSync(a, lines(100, 5100));
    const firstError = await waitFor('the store error to be logged', () => r.events.find((e) => e.evt === 'ingest.store_error'));
    expect(String(firstError.err)).toMatch(/SQLITE_FULL|full/i);
    // No progress while full: the committed size stays where it is through several retries.
    const stuckAt = r.store.size;
    await waitFor('three retries', () => r.events.filter((e) => e.evt === 'ingest.store_error').length >= 4);
    expect(r.store.size).toBe(stuckAt);
    expect(stuckAt).toBeLessThan(5100);
    const status = r.ingestor.status().find((s) => s.path === a);
    expect(status?.state).toBe('error');
    expect(status?.error).toMatch(/store/);
    expect(status?.committedOffset).toBeLessThan(statSync(a).size);
    // Memory stays bounded: what is queued in the store is at most a batch plus the backpressure threshold.
    expect(r.store.pendingCount).toBeLessThanOrEqual(r.store.policy.batchRecords + 4096);

    r.store.setMaxDatabaseBytes(0);
    await idle(r, 60_000);
    expect(r.events.some((e) => e.evt === 'ingest.store_recovered')).toBe(true);
    const recs = lineRecords(allRecords(r.store));
    expect(recs).toHaveLength(5100);
    expect(reconstruct(recs).equals(readFileSync(a))).toBe(true);
    expect(recs.map((l) => l.line_no)).toEqual(Array.from({ length: 5100 }, (_, i) => i + 1));
    expect(r.ingestor.status().find((s) => s.path === a)?.state).toBe('following');
  });

  it('survives a restart while the store is full: nothing queued in memory is needed', async () => {
    const logs = join(tmp.dir, 'logs');
    mkdirSync(logs);
    const a = join(logs, 'a.log');
    writeFileSync(a, lines(0, 10));
    const storeDir = join(tmp.dir, 'store');
    rig = await makeRig(storeDir, { watch: [join(logs, '*.log')], retry: { initialMs: 50, maxMs: 200 } });
    await rig.start();
    await idle(rig);
    const r = rig;
    r.store.setMaxDatabaseBytes(r.store.databaseBytes());
    appendFileSync(a, lines(10, 3000));
    await waitFor('the store error', () => r.events.some((e) => e.evt === 'ingest.store_error'));
    await r.ingestor.stop();
    zombie = r;
    // The process dies with records still queued (they were never committed): simulate by not closing.
    rig = undefined;
    const lock = join(storeDir, 'writer.lock');
    writeFileSync(lock, '999999'); // a dead holder, as after kill -9
    const again = await makeRig(storeDir, { watch: [join(logs, '*.log')] }, { create: false });
    rig = again;
    await again.start();
    await idle(again, 60_000);
    const recs = lineRecords(allRecords(again.store));
    expect(reconstruct(recs).equals(readFileSync(a))).toBe(true);
    expect(recs).toHaveLength(3000);
  });
});
