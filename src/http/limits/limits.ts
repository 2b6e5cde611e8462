/**
 * The overload limits and how they are read from the environment. Every
 * limit is per process (see `token_bucket.ts` for what that means with
 * several instances); 0 turns a limit off.
 *
 * @module
 */

/** The limits {@linkcode overload} enforces; 0 means unlimited. */
export interface OverloadLimits {
  /** `/v1` requests in progress at once, long polls included; beyond it: 503. */
  readonly maxConcurrentRequests: number;
  /** `/v1` requests one token has in progress at once; beyond it: 429. */
  readonly maxConcurrentRequestsPerToken: number;
  /** Receives waiting (`waitSeconds > 0`) at once; beyond it: 429, answered at once. */
  readonly maxLongPolls: number;
  /** Receives one token has waiting at once; beyond it: 429. */
  readonly maxLongPollsPerToken: number;
  /** Requests a second one token may make on average (a token bucket's refill rate). */
  readonly ratePerToken: number;
  /** Requests one token may make at once after being idle (the bucket's size). */
  readonly burstPerToken: number;
}

/**
 * The defaults: far above what one client of a 2-core broker needs, so that
 * only a runaway or hostile one meets them, and sized so that 2,000 long
 * polls fit with a quarter of the total left for the requests that do work.
 * A waiting long poll retains about 27 KiB of heap (measured for
 * tests/http/long_polls_test.ts), so 3,072 cost about 80 MiB.
 */
export const DEFAULT_LIMITS: OverloadLimits = {
  maxConcurrentRequests: 4096,
  maxConcurrentRequestsPerToken: 1024,
  maxLongPolls: 3072,
  maxLongPollsPerToken: 512,
  ratePerToken: 1000,
  burstPerToken: 2000,
};

/** Each limit's environment variable. */
export const LIMIT_VARIABLES: Readonly<Record<keyof OverloadLimits, string>> = {
  maxConcurrentRequests: "ESCROW_MAX_CONCURRENT_REQUESTS",
  maxConcurrentRequestsPerToken: "ESCROW_MAX_CONCURRENT_REQUESTS_PER_TOKEN",
  maxLongPolls: "ESCROW_MAX_LONG_POLLS",
  maxLongPollsPerToken: "ESCROW_MAX_LONG_POLLS_PER_TOKEN",
  ratePerToken: "ESCROW_RATE_PER_TOKEN",
  burstPerToken: "ESCROW_BURST_PER_TOKEN",
};

/**
 * Reads the limits from their variables ({@linkcode LIMIT_VARIABLES}), each a
 * non-negative integer, {@linkcode DEFAULT_LIMITS} for those unset or empty.
 * A burst below the rate is raised to the rate (a bucket smaller than one
 * second's requests would refuse a steady client); with a rate but burst 0,
 * the burst is the rate.
 *
 * @example
 * ```ts
 * import { readLimits } from "./limits.ts";
 * const limits = readLimits({ ESCROW_RATE_PER_TOKEN: "50", ESCROW_BURST_PER_TOKEN: "100" });
 * console.log(limits.ratePerToken, limits.burstPerToken); // 50 100
 * ```
 *
 * @param env The environment.
 * @returns The limits; throws a RangeError naming a variable that is not a non-negative integer.
 */
export function readLimits(env: Readonly<Record<string, string | undefined>>): OverloadLimits {
  const read = (field: keyof OverloadLimits): number => {
    const name = LIMIT_VARIABLES[field];
    const text = env[name];
    if (text === undefined || text === "") return DEFAULT_LIMITS[field];
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
      throw new RangeError(
        `Cannot read ${name}: current value is ${text} (a non-negative integer; 0 = unlimited)`,
      );
    }
    return value;
  };
  const ratePerToken = read("ratePerToken");
  return {
    maxConcurrentRequests: read("maxConcurrentRequests"),
    maxConcurrentRequestsPerToken: read("maxConcurrentRequestsPerToken"),
    maxLongPolls: read("maxLongPolls"),
    maxLongPollsPerToken: read("maxLongPollsPerToken"),
    ratePerToken,
    burstPerToken: Math.max(read("burstPerToken"), ratePerToken),
  };
}
