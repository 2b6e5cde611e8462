/**
 * Counters as `Deno.KvU64` sums: conflict-free, so many commits can bump the
 * same counter at once. KV sums wrap at 2^64, which makes adding
 * 2^64 - n the same as subtracting n.
 *
 * @module
 */

import type { Writes } from "./write_set.ts";

const WRAP = 1n << 64n;

/**
 * Adds `delta` (negative allowed) to the counter at `key` in `op`.
 *
 * @example
 * ```ts
 * import { adjust } from "./counters.ts";
 * using kv = await Deno.openKv(":memory:");
 * await adjust(adjust(kv.atomic(), ["c"], 5), ["c"], -2).commit();
 * ```
 */
export function adjust<W extends Writes>(op: W, key: Deno.KvKey, delta: number): W {
  if (delta === 0) return op;
  const value = BigInt(delta);
  return op.sum(key, value >= 0n ? value : WRAP + value);
}

/**
 * Reads a counter as a number; a wrapped (negative) value reads as 0.
 *
 * @example
 * ```ts
 * import { counterValue } from "./counters.ts";
 * counterValue(new Deno.KvU64(3n)); // 3
 * ```
 */
export function counterValue(value: Deno.KvU64 | null | undefined): number {
  const raw = value?.value ?? 0n;
  return raw >= 1n << 63n ? 0 : Number(raw);
}
