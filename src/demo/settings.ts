/**
 * What the demo shortens so that it ends in seconds, next to the broker's
 * defaults, and the sentences that say so. The figures are computed from the
 * same constants and the same retry function the broker uses, so the
 * narration cannot drift from what the broker would really do.
 *
 * @module
 */
import {
  DEFAULT_MAX_RETRIES,
  DEFAULT_RETRY_DELAYS_SECONDS,
  nextRetry,
  type RetryPolicy,
} from "../domain/retry_policy.ts";
import {
  DEFAULT_CHECK_AFTER_SECONDS,
  DEFAULT_CHECK_INTERVAL_SECONDS,
  DEFAULT_MAX_CHECKS,
} from "../engine/transactions/transactions.ts";

/** When and how often the broker asks a producer about a silent transaction. */
export interface CheckBackSettings {
  readonly checkAfterSeconds: number;
  readonly checkIntervalSeconds: number;
  readonly maxChecks: number;
}

/** The retry ladder a consumer group gets when it sets none. */
export const DEFAULT_RETRIES: RetryPolicy = {
  maxRetries: DEFAULT_MAX_RETRIES,
  retryDelaysSeconds: DEFAULT_RETRY_DELAYS_SECONDS,
};

/** The check-back a transaction gets when its producer sets none. */
export const DEFAULT_CHECK_BACK: CheckBackSettings = {
  checkAfterSeconds: DEFAULT_CHECK_AFTER_SECONDS,
  checkIntervalSeconds: DEFAULT_CHECK_INTERVAL_SECONDS,
  maxChecks: DEFAULT_MAX_CHECKS,
};

/** The Discount Purchase's fund-purchase group: a dead letter within a second. */
export const DEMO_RETRIES: RetryPolicy = { maxRetries: 3, retryDelaysSeconds: [0.2] };

/** The Discount Purchase's wallet: a crashed local transaction is checked within a second. */
export const DEMO_CHECK_BACK: CheckBackSettings = {
  checkAfterSeconds: 0.5,
  checkIntervalSeconds: 0.5,
  maxChecks: DEFAULT_MAX_CHECKS,
};

/**
 * The delays a policy waits before each of its retries, in seconds (the last
 * configured delay repeats), as {@linkcode nextRetry} decides them.
 *
 * @example
 * ```ts
 * import { retryDelays } from "./settings.ts";
 * retryDelays({ maxRetries: 3, retryDelaysSeconds: [0.2] }); // [0.2, 0.2, 0.2]
 * ```
 */
export function retryDelays(policy: RetryPolicy): number[] {
  const delays: number[] = [];
  for (let attempt = 1; attempt <= policy.maxRetries; attempt++) {
    const decision = nextRetry(policy, attempt);
    if (decision.retry) delays.push(decision.delayMs / 1000);
  }
  return delays;
}

/**
 * A duration as a person reads it: tenths of a second below a minute, whole
 * seconds below an hour, "≈ h min" (rounded to the minute) above.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./settings.ts";
 * formatDuration(0.6); // "0.6 s"
 * formatDuration(17_140); // "≈ 4 h 46 min"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds * 10) / 10} s`;
  if (seconds < 3600) {
    const min = Math.floor(seconds / 60);
    const s = Math.round(seconds - min * 60);
    return s === 0 ? `${min} min` : `${min} min ${s} s`;
  }
  const minutes = Math.round(seconds / 60);
  const h = Math.floor(minutes / 60);
  const min = minutes % 60;
  const exact = seconds % 60 === 0;
  return `${exact ? "" : "≈ "}${h} h${min === 0 ? "" : ` ${min} min`}`;
}

/**
 * A retry ladder in words: how many retries, how far apart, how long in all.
 *
 * @example
 * ```ts
 * import { DEFAULT_RETRIES, describeRetries } from "./settings.ts";
 * describeRetries(DEFAULT_RETRIES); // "16 retries from 10 s to 2 h, ≈ 4 h 46 min in all"
 * ```
 */
export function describeRetries(policy: RetryPolicy): string {
  const delays = retryDelays(policy);
  if (delays.length === 0) return "no retries (the first failure dead-letters)";
  const total = delays.reduce((sum, d) => sum + d, 0);
  const first = delays[0]!;
  const last = delays[delays.length - 1]!;
  const count = `${delays.length} ${delays.length === 1 ? "retry" : "retries"}`;
  const spacing = delays.every((d) => d === first)
    ? `${formatDuration(first)} apart`
    : `from ${formatDuration(first)} to ${formatDuration(last)}`;
  return `${count} ${spacing}, ${formatDuration(total)} in all`;
}

/**
 * Check-back settings in words.
 *
 * @example
 * ```ts
 * import { DEFAULT_CHECK_BACK, describeCheckBack } from "./settings.ts";
 * describeCheckBack(DEFAULT_CHECK_BACK); // "first after 6 s, then every 30 s, at most 15 checks"
 * ```
 */
export function describeCheckBack(settings: CheckBackSettings): string {
  return `first after ${formatDuration(settings.checkAfterSeconds)}, then every ${
    formatDuration(settings.checkIntervalSeconds)
  }, at most ${settings.maxChecks} checks`;
}

/**
 * The lines that open a scenario running on the demo's shortened settings:
 * what is shortened, to what, and what the broker does by default.
 *
 * @example
 * ```ts
 * import { shortenedSettingsLines } from "./settings.ts";
 * for (const line of shortenedSettingsLines()) console.log(line);
 * ```
 */
export function shortenedSettingsLines(): string[] {
  return [
    "timings are shortened so that this scenario ends in seconds (the defaults are what the " +
    "broker uses when a group or a producer sets none):",
    `  consumer retries (group fund-purchase): ${describeRetries(DEMO_RETRIES)}`,
    `    default: ${describeRetries(DEFAULT_RETRIES)}`,
    `  check-back (producer group wallet): ${describeCheckBack(DEMO_CHECK_BACK)}`,
    `    default: ${describeCheckBack(DEFAULT_CHECK_BACK)}`,
  ];
}
