/**
 * Consumer retries as plain data plus one pure function: after failed
 * attempt k a message is redelivered after `retryDelaysSeconds[k-1]` (the
 * last entry repeats) until `maxRetries` retries are spent; the next failure
 * dead-letters it. The defaults are RocketMQ's: 16 retries from 10 s to 2 h,
 * about 4 h 46 min in all.
 *
 * @module
 */

/** RocketMQ's retry ladder (delay levels 3 to 18), in seconds. */
export const DEFAULT_RETRY_DELAYS_SECONDS: readonly number[] = [
  10,
  30,
  60,
  120,
  180,
  240,
  300,
  360,
  420,
  480,
  540,
  600,
  1200,
  1800,
  3600,
  7200,
];

/** RocketMQ's `maxReconsumeTimes` for concurrent consumers. */
export const DEFAULT_MAX_RETRIES = 16;

/** How a group retries. */
export interface RetryPolicy {
  readonly maxRetries: number;
  readonly retryDelaysSeconds: readonly number[];
}

/** What follows a failed attempt. */
export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false };

/**
 * Decides what follows failed attempt `attempt` (1-based).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_RETRIES, DEFAULT_RETRY_DELAYS_SECONDS, nextRetry } from "./retry_policy.ts";
 * const policy = { maxRetries: DEFAULT_MAX_RETRIES, retryDelaysSeconds: DEFAULT_RETRY_DELAYS_SECONDS };
 * nextRetry(policy, 1); // { retry: true, delayMs: 10000 }
 * nextRetry(policy, 17); // { retry: false }
 * ```
 */
export function nextRetry(policy: RetryPolicy, attempt: number): RetryDecision {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(
      `Cannot plan a retry: attempt must be 1 or more, current value is ${attempt}`,
    );
  }
  if (attempt > policy.maxRetries) return { retry: false };
  const delays = policy.retryDelaysSeconds;
  const seconds = delays[Math.min(attempt - 1, delays.length - 1)] ?? 0;
  return { retry: true, delayMs: Math.round(seconds * 1000) };
}
