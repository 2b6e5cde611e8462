/**
 * The few statistics the benchmark reports: the median of a handful of runs
 * and percentiles of many latency samples. Both ignore non-finite values, so
 * a phase that produced no figure (NaN) does not poison the others.
 *
 * @module
 */

/**
 * The median of `values`, ignoring NaN and infinities; NaN when none is left.
 *
 * @example
 * ```ts
 * import { median } from "./stats.ts";
 * console.log(median([3, 1, 2])); // 2
 * console.log(median([4, 1, 2, 3])); // 2.5
 * ```
 */
export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The `p`-th percentile (0–100, nearest rank) of values already sorted in
 * ascending order; NaN for no values.
 *
 * @example
 * ```ts
 * import { percentileOfSorted } from "./stats.ts";
 * const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
 * console.log(percentileOfSorted(sorted, 99)); // 99
 * ```
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (p < 0 || p > 100) throw new RangeError(`Cannot take a percentile: current value is ${p}`);
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** The summary of a latency distribution, in the samples' unit. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Summarises samples as count, p50, p99 and max (sorting a copy).
 *
 * @example
 * ```ts
 * import { summarizeLatencies } from "./stats.ts";
 * const summary = summarizeLatencies([5, 1, 3]);
 * console.log(summary.p50, summary.max); // 3 5
 * ```
 */
export function summarizeLatencies(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  return {
    count: sorted.length,
    p50: percentileOfSorted(sorted, 50),
    p99: percentileOfSorted(sorted, 99),
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1]!,
  };
}
