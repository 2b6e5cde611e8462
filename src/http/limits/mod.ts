/**
 * Overload limits of the HTTP API: request rates, requests in progress and
 * long polls, per token and in total (see `overload.ts` for the design).
 *
 * @example
 * ```ts
 * import { DEFAULT_LIMITS, Overload } from "./mod.ts";
 * const overload = new Overload(DEFAULT_LIMITS);
 * ```
 *
 * @module
 */
export { DEFAULT_LIMITS, LIMIT_VARIABLES, type OverloadLimits, readLimits } from "./limits.ts";
export {
  admitLongPoll,
  ANONYMOUS,
  Overload,
  type OverloadCounts,
  principalName,
} from "./overload.ts";
export { type Slot, type SlotRefusal, Slots } from "./slots.ts";
export { TokenBucket } from "./token_bucket.ts";
