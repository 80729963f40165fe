import { describe, expect, it } from 'vitest';
import { ClockWatch } from '../../agent/clock-watch.js';
import type { Clock } from '../../src/clock.js';

/** A clock the test moves by hand: wall and monotonic separately. */
function fakeClock(): Clock & { advance(wallMs: number, monoMs: number): void } {
  let wall = Date.parse('2026-11-23T10:00:00Z');
  let mono = 5_000_000_000n;
  return {
    nowMs: () => wall,
    monoNs: () => mono,
    advance(wallMs, monoMs) {
      wall += wallMs;
      mono += BigInt(monoMs) * 1_000_000n;
    },
  };
}

describe('clock watch', () => {
  it('is quiet while both clocks advance together, and reports a jump either way beyond the threshold', () => {
    const clock = fakeClock();
    const watch = new ClockWatch(clock, 2000);
    clock.advance(1000, 1000);
    expect(watch.tick()).toBeUndefined();
    clock.advance(1000, 2500); // within threshold
    expect(watch.tick()).toBeUndefined();
    clock.advance(3_600_000 + 1000, 1000); // someone set the clock an hour forward
    expect(watch.tick()).toMatchObject({ wall_delta_ms: 3_601_000, mono_delta_ms: 1000, skew_ms: 3_600_000 });
    clock.advance(-60_000 + 1000, 1000); // and a minute back
    const back = watch.tick();
    expect(back).toMatchObject({ skew_ms: -60_000 });
    expect(back?.detail).toContain('set back');
  });

  it('compares with the reading of an earlier run in the same boot only', () => {
    const clock = fakeClock();
    const first = new ClockWatch(clock, 2000);
    const saved = first.reading('boot-a');
    clock.advance(10_000 + 120_000, 10_000); // wall moved 2 min more than monotonic while stopped
    const second = new ClockWatch(clock, 2000);
    expect(second.sinceLastRun(saved, 'boot-a')).toMatchObject({ skew_ms: 120_000 });
    expect(second.sinceLastRun(saved, 'boot-b')).toBeUndefined();
    expect(second.sinceLastRun(undefined, 'boot-a')).toBeUndefined();
  });
});
