/**
 * The largest and smallest of many numbers. `Math.max(...values)` passes every value as an argument
 * and throws "Maximum call stack size exceeded" past about 120,000 of them (Node 20): a year of
 * hourly chart rows over a few hosts, a vault store's checkpoints, a hostile store's findings. These
 * take any number.
 */
export function maxOf(values: Iterable<number>, floor = -Infinity): number {
  let max = floor;
  for (const v of values) if (v > max || Number.isNaN(v)) max = v;
  return max;
}

export function minOf(values: Iterable<number>, ceiling = Infinity): number {
  let min = ceiling;
  for (const v of values) if (v < min || Number.isNaN(v)) min = v;
  return min;
}
