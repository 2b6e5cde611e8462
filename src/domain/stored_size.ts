/**
 * How many bytes a value takes once Deno KV stores it. KV serialises every
 * value that is not a `Uint8Array` or `KvU64` with V8's structured
 * serialiser and refuses one over 65,536 bytes; `node:v8`'s `serialize` is
 * the same serialiser with the same header, so its length is the figure KV
 * checks (measured: a 65,530-character ASCII string is 65,536 bytes and is
 * the longest KV takes).
 *
 * @module
 */
import { serialize } from "node:v8";

/** Largest value Deno KV stores, in serialised bytes. */
export const KV_MAX_VALUE_BYTES = 65_536;

/**
 * The size of `value` as Deno KV would store it.
 *
 * @param value Any value KV can store.
 * @returns Its V8-serialised length in bytes.
 *
 * @example Measure a record before storing it
 * ```ts
 * import { KV_MAX_VALUE_BYTES, storedBytes } from "./stored_size.ts";
 * storedBytes("a".repeat(65_530)) <= KV_MAX_VALUE_BYTES; // true
 * storedBytes("é".repeat(10)); // 14 (Latin-1: one byte a character, plus a header)
 * ```
 */
export function storedBytes(value: unknown): number {
  return serialize(value).length;
}
