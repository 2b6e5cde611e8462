/**
 * A token bucket per key: each key may spend `burst` requests at once and
 * then `ratePerSecond` a second. Chosen over a fixed window (what
 * `hono-rate-limiter` counts) because a window lets a client send twice its
 * limit across a window boundary, and a bank's traffic comes in bursts that a
 * bucket absorbs without raising the steady rate.
 *
 * The buckets live in this process's memory: with several broker instances
 * behind a load balancer each keeps its own, so a token may reach N times
 * its rate over N instances (divide the rate by N, or limit at the balancer).
 *
 * @module
 */

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, in ms of the bucket's clock. */
  at: number;
}

/** Buckets kept before the full ones (idle long enough to refill) are dropped. */
const PRUNE_AT = 10_000;

/**
 * Token buckets by key, refilled continuously from an injected clock.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./token_bucket.ts";
 * let now = 0;
 * const buckets = new TokenBucket({ ratePerSecond: 1, burst: 2, clock: () => now });
 * console.log(buckets.take("wallet")); // 0 (allowed)
 * console.log(buckets.take("wallet")); // 0
 * console.log(buckets.take("wallet")); // 1000 (ms until a token is back)
 * now += 1_000;
 * console.log(buckets.take("wallet")); // 0
 * ```
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: () => number;
  readonly #buckets = new Map<string, Bucket>();

  /**
   * Creates the buckets.
   *
   * @param options `ratePerSecond` (> 0), `burst` (≥ 1), and `clock` in ms
   * (default `performance.now`, which wall-clock changes do not move).
   */
  constructor(options: { ratePerSecond: number; burst: number; clock?: () => number }) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) {
      throw new RangeError(
        `Cannot create a token bucket: current rate is ${options.ratePerSecond}/s, burst ${options.burst} (rate > 0, burst ≥ 1)`,
      );
    }
    this.#rate = options.ratePerSecond;
    this.#burst = options.burst;
    this.#clock = options.clock ?? (() => performance.now());
  }

  /** How many keys have a bucket now (full buckets are dropped over time). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Spends one token of `key` when it has one.
   *
   * @param key Whose bucket (a principal's name).
   * @returns 0 when the request may go ahead, otherwise how many ms until
   * the bucket has a token again (nothing is spent then).
   */
  take(key: string): number {
    const now = this.#clock();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= PRUNE_AT) this.#prune(now);
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(
      this.#burst,
      bucket.tokens + Math.max(0, now - bucket.at) * this.#rate / 1000,
    );
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) * 1000 / this.#rate);
  }

  /** Drops the buckets that have refilled: a new one starts full anyway. */
  #prune(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * this.#rate / 1000 >= this.#burst) {
        this.#buckets.delete(key);
      }
    }
  }
}
