/**
 * The clock, passed in rather than read, so tests about time can drive it and everything else
 * stays deterministic. `monoNs` is CLOCK_MONOTONIC (since boot on Linux): with `boot_id` it lets a
 * verifier see clock jumps and reboots that the wall clock would hide.
 */
export interface Clock {
  /** Wall clock, milliseconds since the Unix epoch. */
  nowMs(): number;
  /** Monotonic clock in nanoseconds. */
  monoNs(): bigint;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monoNs: () => process.hrtime.bigint(),
};
