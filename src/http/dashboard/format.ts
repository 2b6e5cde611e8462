/**
 * How the dashboard writes numbers and times for people: short durations
 * ("1.2 s", "3 min 5 s"), ages from a clock, and clock times in UTC.
 *
 * @module
 */

/**
 * A duration in milliseconds as a short phrase.
 *
 * @example
 * ```ts
 * import { duration } from "./format.ts";
 * duration(1_250); // "1.3 s"
 * duration(185_000); // "3 min 5 s"
 * ```
 */
export function duration(ms: number): string {
  const abs = Math.max(0, ms);
  if (abs < 1_000) return `${Math.round(abs)} ms`;
  if (abs < 60_000) return `${(abs / 1_000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  const minutes = Math.floor(abs / 60_000);
  if (minutes < 60) {
    const seconds = Math.floor((abs % 60_000) / 1_000);
    return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} d`;
}

/**
 * A time in epoch ms as `YYYY-MM-DD HH:MM:SS.mmm` UTC.
 *
 * @example
 * ```ts
 * import { clockTime } from "./format.ts";
 * clockTime(0); // "1970-01-01 00:00:00.000"
 * ```
 */
export function clockTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

/**
 * A count with thousands separators.
 *
 * @example
 * ```ts
 * import { count } from "./format.ts";
 * count(12345); // "12,345"
 * ```
 */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * A rate per second with one decimal, or a dash before there are two samples.
 *
 * @example
 * ```ts
 * import { rate } from "./format.ts";
 * rate(undefined); // "–"
 * rate(2.345); // "2.3/s"
 * ```
 */
export function rate(perSecond: number | undefined): string {
  if (perSecond === undefined) return "–";
  return `${perSecond < 10 ? perSecond.toFixed(1) : Math.round(perSecond)}/s`;
}
