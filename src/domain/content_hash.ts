/**
 * A stable fingerprint of a request, to tell a client's retry (same content)
 * from a clash (same id, other content).
 *
 * @module
 */
import { encodeHex } from "@std/encoding/hex";

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

/**
 * SHA-256 (hex) of `value`'s JSON with object keys sorted and undefined
 * fields dropped, so key order does not change the hash.
 *
 * @example
 * ```ts
 * import { contentHash } from "./content_hash.ts";
 * (await contentHash({ a: 1, b: 2 })) === (await contentHash({ b: 2, a: 1 })); // true
 * ```
 */
export async function contentHash(value: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(canonical(value)));
  return encodeHex(await crypto.subtle.digest("SHA-256", bytes));
}
