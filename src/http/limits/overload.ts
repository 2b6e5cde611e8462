/**
 * Overload protection for `/v1`: no client can take what the others need.
 * It runs after authentication, so every limit is kept per principal (the
 * token's name; `anonymous` on an open broker), and before any body is
 * read, so a refused request costs a map lookup and stores nothing.
 *
 * - **Rate**: a token bucket per principal ({@linkcode TokenBucket}); over
 *   it, 429 with `Retry-After` (the seconds until a token is back).
 * - **Requests in progress**, in total and per principal
 *   ({@linkcode Slots}); over the total, 503, over a principal's share, 429,
 *   both with `Retry-After: 1`. Deno.serve has no connection cap and no hook
 *   at accept time, so requests in progress are counted here instead of
 *   connections: each holds a connection while it runs, and that is what
 *   costs memory, CPU and KV; an idle keep-alive connection costs a socket
 *   (bound it with the load balancer or `ulimit -n`).
 * - **Long polls** (receives with `waitSeconds > 0`), in total and per
 *   principal, admitted by the receive route with {@linkcode admitLongPoll}
 *   before it does any work; over the cap, 429 with `Retry-After: 1` at once.
 *   A 429 rather than an empty answer: an empty answer tells a consumer
 *   "nothing ready, ask again", and a fleet of consumers would ask again at
 *   once, in a loop; a 429 tells it to wait, and the SDK's consumer does.
 *
 * On an open broker every client is the one principal `anonymous`: the
 * per-token limits would only be a second, lower total, so there only the
 * totals apply.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { OverloadedError, TooManyRequestsError } from "../../domain/errors.ts";
import { LIMIT_VARIABLES, type OverloadLimits } from "./limits.ts";
import { type Slot, Slots } from "./slots.ts";
import { TokenBucket } from "./token_bucket.ts";

/** The principal of a request without a token (an open broker). */
export const ANONYMOUS = "anonymous";

/** What the middleware left for the route of one request. */
interface Admission {
  readonly overload: Overload;
  readonly who: string;
}

const admissions = new WeakMap<Context, Admission>();

const NOTHING_HELD: Disposable = { [Symbol.dispose]() {} };

/**
 * The name of the request's principal, as the authentication middleware set
 * it (`c.get("principal").name`), or {@linkcode ANONYMOUS}.
 *
 * @example
 * ```ts
 * import { principalName } from "./overload.ts";
 * declare const c: import("hono").Context;
 * const who = principalName(c); // "anonymous" without authentication
 * ```
 */
export function principalName(c: Context): string {
  const principal = c.get("principal" as never) as { name?: unknown } | undefined;
  return typeof principal?.name === "string" && principal.name !== "" ? principal.name : ANONYMOUS;
}

/** Counts of an {@linkcode Overload}, for tests and diagnostics. */
export interface OverloadCounts {
  /** `/v1` requests in progress. */
  readonly requests: number;
  /** Receives waiting. */
  readonly longPolls: number;
}

/**
 * The state behind the limits of one app: buckets and counters.
 *
 * @example
 * ```ts
 * import { Overload } from "./overload.ts";
 * import { DEFAULT_LIMITS } from "./limits.ts";
 * import { Hono } from "hono";
 * const overload = new Overload(DEFAULT_LIMITS);
 * const app = new Hono();
 * app.use("/v1/*", overload.middleware());
 * console.log(overload.counts); // { requests: 0, longPolls: 0 }
 * ```
 */
export class Overload {
  readonly #limits: OverloadLimits;
  readonly #rate: TokenBucket | undefined;
  readonly #requests: Slots;
  readonly #longPolls: Slots;

  /**
   * Creates the state for `limits`.
   *
   * @param limits The limits (0 = unlimited).
   * @param options `clock` of the rate buckets, in ms. @default {performance.now}
   */
  constructor(limits: OverloadLimits, options: { clock?: () => number } = {}) {
    this.#limits = limits;
    this.#rate = limits.ratePerToken > 0
      ? new TokenBucket({
        ratePerSecond: limits.ratePerToken,
        burst: Math.max(limits.burstPerToken, limits.ratePerToken),
        ...(options.clock ? { clock: options.clock } : {}),
      })
      : undefined;
    this.#requests = new Slots({
      total: limits.maxConcurrentRequests,
      perKey: limits.maxConcurrentRequestsPerToken,
    });
    this.#longPolls = new Slots({
      total: limits.maxLongPolls,
      perKey: limits.maxLongPollsPerToken,
    });
  }

  /** Requests and long polls in progress now. */
  get counts(): OverloadCounts {
    return { requests: this.#requests.inUse, longPolls: this.#longPolls.inUse };
  }

  /**
   * The middleware: the rate, then a slot for the request in progress,
   * given back when the route has answered. Mount it after authentication.
   *
   * @returns A Hono middleware that refuses with 429 or 503 (problem+json, `Retry-After`).
   */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      const who = principalName(c);
      const shared = who === ANONYMOUS;
      if (this.#rate && !shared) {
        const waitMs = this.#rate.take(who);
        if (waitMs > 0) {
          throw new TooManyRequestsError(
            `Cannot accept request: token ${who} is over its rate of ${this.#limits.ratePerToken} requests/s`,
            waitMs / 1000,
            { limit: LIMIT_VARIABLES.ratePerToken },
          );
        }
      }
      const slot = this.#requests.take(who, { shared });
      if (slot === "total") {
        throw new OverloadedError(
          `Cannot accept request: the broker has reached its limit of requests in progress (${this.#limits.maxConcurrentRequests})`,
          1,
          { limit: LIMIT_VARIABLES.maxConcurrentRequests },
        );
      }
      if (slot === "key") {
        throw new TooManyRequestsError(
          `Cannot accept request: token ${who} has reached its limit of requests in progress (${this.#limits.maxConcurrentRequestsPerToken})`,
          1,
          { limit: LIMIT_VARIABLES.maxConcurrentRequestsPerToken },
        );
      }
      admissions.set(c, { overload: this, who });
      try {
        await next();
      } finally {
        slot.release();
      }
    };
  }

  /**
   * A long-poll slot for `who`; throws a 429 {@linkcode TooManyRequestsError}
   * when the total or `who`'s share is taken.
   *
   * @param who The principal's name.
   * @returns The slot; dispose it when the receive has answered.
   */
  admitLongPoll(who: string): Slot {
    const slot = this.#longPolls.take(who, { shared: who === ANONYMOUS });
    if (slot === "total") {
      throw new TooManyRequestsError(
        `Cannot wait for messages: the broker has reached its limit of waiting long polls (${this.#limits.maxLongPolls}); receive without waitSeconds or retry later`,
        1,
        { limit: LIMIT_VARIABLES.maxLongPolls },
      );
    }
    if (slot === "key") {
      throw new TooManyRequestsError(
        `Cannot wait for messages: token ${who} has reached its limit of waiting long polls (${this.#limits.maxLongPollsPerToken})`,
        1,
        { limit: LIMIT_VARIABLES.maxLongPollsPerToken },
      );
    }
    return slot;
  }
}

/**
 * Admits a receive that will wait `waitSeconds` (a long poll) under the
 * limits of the app's {@linkcode Overload}; a receive that does not wait, or
 * an app without limits, takes nothing. Call it before doing any work.
 *
 * @example
 * ```ts
 * import { admitLongPoll } from "./overload.ts";
 * declare const c: import("hono").Context;
 * using _poll = admitLongPoll(c, 20); // throws a 429 when no long poll is free
 * ```
 *
 * @param c The request's context.
 * @param waitSeconds The receive's `waitSeconds`.
 * @returns What to dispose when the receive has answered.
 */
export function admitLongPoll(c: Context, waitSeconds: number): Disposable {
  const admission = admissions.get(c);
  if (!admission || !(waitSeconds > 0)) return NOTHING_HELD;
  return admission.overload.admitLongPoll(admission.who);
}
