/**
 * Gives a burst's memory back once the agent goes quiet (the footprint goals of issues 3, 12 and
 * 14: RSS ≤ 80 MB idle and at a steady 1,000 lines/s).
 *
 * After a burst (the first read of the watched files, a vault round, the AWS SDK compiled at start)
 * V8 keeps the garbage until its memory reducer runs a full GC, about 8 s after the last one. That
 * plateau was the idle agent's highest RSS with a vault (BENCHMARKS.md, "With a vault"). When node
 * runs with --expose-gc (the installed service does, agent/install.ts), a full collection on the
 * first quiet tick after a burst releases it at once (two of them: processMemorySettler says why).
 * Without the flag the agent does not settle at all.
 *
 * - Quiet: the work count (records appended, vault rounds) did not move since the last tick, so
 *   the collection does not run in the middle of a burst that is still making garbage.
 * - Worth it: the heap (V8's used heap plus the array buffers outside it) grew by at least
 *   `minGrowthBytes` since the last settle, so an idle agent's heartbeats do not each cost a full
 *   GC (a few milliseconds on a heap this size).
 */
import { getHeapStatistics } from 'node:v8';

export const SETTLE_MIN_GROWTH_BYTES = 2 * 1024 * 1024;

export class MemorySettler {
  private lastWork: number | undefined;
  private settledAt = 0;

  constructor(
    private readonly collect: () => void,
    private readonly heapBytes: () => number,
    private readonly minGrowthBytes = SETTLE_MIN_GROWTH_BYTES,
  ) {}

  /**
   * Called on every maintenance tick with how much work has been done so far (any count that only
   * grows). Returns the heap bytes before and after when it collected, else undefined.
   */
  tick(work: number): { before: number; after: number } | undefined {
    const quiet = this.lastWork === work;
    this.lastWork = work;
    if (!quiet) return undefined;
    const before = this.heapBytes();
    if (before - this.settledAt < this.minGrowthBytes) return undefined;
    this.collect();
    this.settledAt = this.heapBytes();
    return { before, after: this.settledAt };
  }
}

/** The process's settler, or undefined when node was not started with --expose-gc. */
export function processMemorySettler(): MemorySettler | undefined {
  const gc: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof gc !== 'function') return undefined;
  return new MemorySettler(
    // Twice: the first full collection finds the dead Buffers (SQLite rows, request bodies) and
    // runs their finalizers; only the second frees their memory outside V8's heap. Measured with
    // the idle bench and a vault: at most 78.1-78.4 MB with two, 78.8-81.4 MB with one.
    () => {
      (gc as () => void)();
      (gc as () => void)();
    },
    () => {
      const heap = getHeapStatistics();
      return heap.used_heap_size + heap.external_memory;
    },
  );
}
