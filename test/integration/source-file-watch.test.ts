/**
 * The watch of sensitive folders with real chokidar on real files: every file.change names the
 * preserved observation it was read from, and carries the size, mtime and SHA-256 after the change.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileWatchSource, watchPath } from '../../agent/sources/file-watch.js';
import { systemClock } from '../../src/clock.js';
import type { EvidenceRecord } from '../../src/records/schema.js';
import { EvidenceStore } from '../../src/store/evidence-store.js';
import { StateStore } from '../../src/store/state-store.js';
import { allRecords, lineRecords, memoryLogger, tempDir } from '../helpers/ingest-harness.js';

const tmp = tempDir('watch');
afterAll(() => tmp.cleanup());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until<T>(check: () => T | undefined | false): Promise<T> {
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    await sleep(50);
  }
}

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

function setup(name: string, options: { maxHashBytes?: number; maxQueued?: number } = {}): { folder: string; store: EvidenceStore; state: StateStore; src: FileWatchSource; changes: () => EvidenceRecord[] } {
  const folder = join(tmp.dir, `${name}-data`);
  mkdirSync(folder, { recursive: true });
  const storeDir = join(tmp.dir, `${name}-store`);
  const store = EvidenceStore.create(storeDir, { host: 'test-host' }).store;
  const state = new StateStore(storeDir);
  const { logger } = memoryLogger();
  const src = new FileWatchSource({ store, state, logger, clock: systemClock }, { paths: [folder], maxHashBytes: options.maxHashBytes ?? 1 << 30, renameWindowMs: 500, ...(options.maxQueued ? { maxQueued: options.maxQueued } : {}) }, new Map());
  const changes = (): EvidenceRecord[] => {
    store.flush();
    return allRecords(store).filter((r) => r.kind === 'file.change');
  };
  return { folder, store, state, src, changes };
}

describe('watched folders (real chokidar)', () => {
  it('records create, modify, rename and delete with hashes after the change, each derived from the preserved observation', async () => {
    const { folder, store, state, src, changes } = setup('w1');
    writeFileSync(join(folder, 'existing.csv'), 'there before the agent\n');
    await src.start();
    const a = join(folder, 'customers.csv');
    writeFileSync(a, 'id,name\n1,alice\n');
    await until(() => changes().length === 1);
    writeFileSync(a, 'id,name\n1,alice\n2,bob\n');
    await until(() => changes().length === 2);
    const b = join(folder, 'exfil.csv');
    renameSync(a, b);
    await until(() => changes().some((c) => c.payload['operation'] === 'rename'));
    rmSync(b);
    await until(() => changes().some((c) => c.payload['operation'] === 'delete'));
    await src.stop();

    const ops = changes().map((c) => [c.payload['operation'], c.payload['path'], c.payload['previous_path']]);
    expect(ops).toEqual([
      ['create', a, undefined],
      ['modify', a, undefined],
      ['rename', b, a],
      ['delete', b, undefined],
    ]);
    const [create, modify, rename] = changes();
    expect(create?.payload).toMatchObject({ size: 16, sha256: sha('id,name\n1,alice\n'), parser: 'agent.watch@1' });
    expect(modify?.payload).toMatchObject({ size: 22, sha256: sha('id,name\n1,alice\n2,bob\n') });
    expect(rename?.payload['sha256']).toBe(sha('id,name\n1,alice\n2,bob\n'));
    // Every derived record names preserved observation lines, which say what was seen.
    const lines = lineRecords(allRecords(store), { path: watchPath(folder) });
    for (const c of changes()) {
      const from = c.payload['derived_from'] as number[];
      for (const seq of from) expect(lines.some((l) => l.seq === seq)).toBe(true);
    }
    const obs = JSON.parse(lines.find((l) => l.seq === (create?.payload['derived_from'] as number[])[0])?.bytes.toString() ?? '{}') as Record<string, unknown>;
    expect(obs).toMatchObject({ path: a, exists: true, size: 16, sha256: sha('id,name\n1,alice\n'), type: 'file' });
    // The file that was there before the start is a baseline, not a change.
    expect(changes().some((c) => c.payload['path'] === join(folder, 'existing.csv'))).toBe(false);
    store.close();
    state.close();
  });

  it('records a file larger than maxHashBytes with size and mtime but no hash, and says why', async () => {
    const { folder, store, state, src, changes } = setup('w2', { maxHashBytes: 10 });
    await src.start();
    writeFileSync(join(folder, 'big.bin'), Buffer.alloc(100, 1));
    await until(() => changes().length === 1);
    await src.stop();
    const c = changes()[0];
    expect(c?.payload).toMatchObject({ operation: 'create', size: 100 });
    expect(c?.payload['sha256']).toBeUndefined();
    expect((c?.payload['extra'] as Record<string, string>)['note']).toMatch(/larger than maxHashBytes/);
    store.close();
    state.close();
  });

  it('under a burst beyond its queue, accounts for every file: recorded, or counted in a watch_overflow gap', async () => {
    const { folder, store, state, src, changes } = setup('w3', { maxQueued: 5 });
    await src.start();
    const n = 60;
    for (let i = 0; i < n; i++) writeFileSync(join(folder, `f${i}.txt`), `file ${i}\n`);
    const accounted = (): number => {
      const created = new Set(changes().map((c) => c.payload['path']));
      const dropped = allRecords(store)
        .filter((r) => r.kind === 'agent.gap' && r.payload['reason'] === 'watch_overflow')
        .reduce((sum, g) => sum + Number(/^(\d+) file events/.exec(String(g.payload['detail']))?.[1] ?? 0), 0);
      return created.size + dropped;
    };
    await until(() => accounted() >= n);
    await src.stop();
    expect(accounted()).toBe(n);
    store.close();
    state.close();
  });
});
