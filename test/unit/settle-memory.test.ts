import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MemorySettler, SETTLE_MIN_GROWTH_BYTES } from '../../agent/settle-memory.js';

const MiB = 1024 * 1024;

/** A settler over a heap size the test sets, counting its collections (each brings the heap to `floor`). */
function harness(floor = 10 * MiB) {
  const h = { heap: floor, collections: 0 };
  const settler = new MemorySettler(
    () => {
      h.collections += 1;
      h.heap = floor;
    },
    () => h.heap,
  );
  return { h, settler };
}

describe('MemorySettler', () => {
  it('collects only on a quiet tick, never while the work count still moves', () => {
    const { h, settler } = harness();
    h.heap += 40 * MiB;
    expect(settler.tick(1)).toBeUndefined(); // the first tick has nothing to compare with
    expect(settler.tick(500)).toBeUndefined(); // a burst
    expect(settler.tick(1200)).toBeUndefined();
    expect(h.collections).toBe(0);
    expect(settler.tick(1200)).toEqual({ before: 50 * MiB, after: 10 * MiB });
    expect(h.collections).toBe(1);
  });

  it('does not collect again while idle: the heap must grow by the threshold since the last settle', () => {
    const { h, settler } = harness();
    h.heap += 5 * MiB;
    settler.tick(7);
    expect(settler.tick(7)).toBeDefined();
    for (let i = 0; i < 20; i++) {
      h.heap += 64 * 1024; // heartbeats, status writes
      settler.tick(7);
    }
    expect(h.collections).toBe(1);
    h.heap += SETTLE_MIN_GROWTH_BYTES;
    expect(settler.tick(7)).toBeDefined();
    expect(h.collections).toBe(2);
  });

  it("treats the start as a burst: the first quiet tick collects the start-up's garbage", () => {
    const { h, settler } = harness();
    settler.tick(0);
    expect(settler.tick(0)).toEqual({ before: 10 * MiB, after: 10 * MiB });
    h.heap += SETTLE_MIN_GROWTH_BYTES - 1;
    expect(settler.tick(0)).toBeUndefined();
    expect(h.collections).toBe(1);
  });

  it("in a real node with --expose-gc, a quiet tick after a burst gives the burst's garbage back", () => {
    const module = join(fileURLToPath(import.meta.url), '..', '..', '..', 'dist', 'agent', 'settle-memory.js');
    const script = `
      const { processMemorySettler } = await import(${JSON.stringify(module)});
      const settler = processMemorySettler();
      if (!settler) throw new Error('no settler with --expose-gc');
      settler.tick(0);
      // Objects on V8's heap, kept alive until the end of the burst (long enough to be promoted to
      // the old generation, where only a full collection frees them): what a burst leaves behind.
      let keep = [];
      for (let i = 0; i < 100; i++) keep.push(Array.from({ length: 5000 }, (_, j) => ({ i, j })));
      keep = undefined;
      console.log(JSON.stringify(settler.tick(0) ?? null));
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const settled = JSON.parse(r.stdout) as { before: number; after: number } | null;
    expect(settled).not.toBeNull();
    // Half a million small objects (about 40 MB) made garbage; a full collection frees nearly all of it.
    expect(settled!.before - settled!.after).toBeGreaterThan(20 * MiB);

    const without = spawnSync(process.execPath, ['--input-type=module', '-e', `const { processMemorySettler } = await import(${JSON.stringify(module)}); console.log(processMemorySettler() === undefined)`], { encoding: 'utf8' });
    expect(without.stdout.trim()).toBe('true');
  });
});
