/**
 * Notices when the wall clock and the monotonic clock disagree: someone set the time, NTP stepped
 * it, or the machine was suspended (CLOCK_MONOTONIC stops during suspend on Linux, the wall clock
 * does not). Pure over the Clock it is given, so tests drive it with a fake clock.
 */
import type { Clock } from '../src/clock.js';
import type { PayloadOf } from '../src/records/schema.js';

export type ClockAnomaly = PayloadOf<'clock.anomaly'>;

/** A reading of both clocks, persisted so a restart in the same boot can compare with the last one. */
export interface ClockReading {
  bootId: string;
  wallMs: number;
  monoNs: string;
}

export function describeSkew(skewMs: number, context: string): string {
  const direction = skewMs > 0 ? 'ahead of' : 'behind';
  const hint = skewMs > 0 ? 'the clock was set forward, or the machine was suspended' : 'the clock was set back';
  return `${context}: the wall clock moved ${Math.abs(skewMs)} ms ${direction} the monotonic clock (${hint})`;
}

/** Compares two readings; returns an anomaly when they disagree by more than `thresholdMs`. */
export function compareReadings(before: { wallMs: number; monoNs: bigint }, after: { wallMs: number; monoNs: bigint }, thresholdMs: number, context: string): ClockAnomaly | undefined {
  const wallDelta = Math.round(after.wallMs - before.wallMs);
  const monoDelta = Number((after.monoNs - before.monoNs) / 1_000_000n);
  const skew = wallDelta - monoDelta;
  if (Math.abs(skew) <= thresholdMs) return undefined;
  return { wall_delta_ms: wallDelta, mono_delta_ms: monoDelta, skew_ms: skew, detail: describeSkew(skew, context) };
}

export class ClockWatch {
  private last: { wallMs: number; monoNs: bigint };

  constructor(
    private readonly clock: Clock,
    private readonly thresholdMs: number,
  ) {
    this.last = { wallMs: clock.nowMs(), monoNs: clock.monoNs() };
  }

  /** Reads both clocks; returns an anomaly when they drifted apart since the previous tick. */
  tick(): ClockAnomaly | undefined {
    const now = { wallMs: this.clock.nowMs(), monoNs: this.clock.monoNs() };
    const anomaly = compareReadings(this.last, now, this.thresholdMs, 'between two checks');
    this.last = now;
    return anomaly;
  }

  reading(bootId: string): ClockReading {
    return { bootId, wallMs: this.last.wallMs, monoNs: this.last.monoNs.toString() };
  }

  /**
   * Compares with a reading saved by an earlier run: within the same boot the monotonic clock kept
   * counting while the agent was down, so a clock change while nobody watched still shows.
   */
  sinceLastRun(previous: ClockReading | undefined, bootId: string): ClockAnomaly | undefined {
    if (!previous || bootId === '' || previous.bootId !== bootId) return undefined;
    let prevMono: bigint;
    try {
      prevMono = BigInt(previous.monoNs);
    } catch {
      return undefined;
    }
    return compareReadings({ wallMs: previous.wallMs, monoNs: prevMono }, this.last, this.thresholdMs, 'while the agent was not running');
  }
}
