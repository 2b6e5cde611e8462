/**
 * JSON with object keys sorted and undefined fields dropped, so that two
 * values that mean the same compare equal as text whatever their key order.
 *
 * @module
 */

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
 * The canonical JSON text of `value`.
 *
 * @example
 * ```ts
 * import { canonicalJson } from "./canonical_json.ts";
 * canonicalJson({ b: 2, a: 1, c: undefined }); // '{"a":1,"b":2}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}
