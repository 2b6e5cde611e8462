/**
 * Names and limits of the public API: topics, groups, tags, keys and
 * properties, as documented in the README. One place, so the HTTP schemas and
 * the engine agree.
 *
 * @module
 */

/** Topic, consumer group and producer group names. */
export const NAME_PATTERN: RegExp = /^[A-Za-z0-9_-]{1,64}$/;
/** Message tags (RocketMQ allows one tag per message). */
export const TAG_PATTERN: RegExp = /^[A-Za-z0-9_.-]{1,64}$/;
/** Most `keys` one message may carry. */
export const MAX_KEYS = 32;
/** Longest single key, in characters. */
export const MAX_KEY_LENGTH = 128;
/** Most entries in `properties`. */
export const MAX_PROPERTIES = 128;
/** Largest `properties` map, counted as UTF-8 bytes of keys and values. */
export const MAX_PROPERTIES_BYTES = 16 * 1024;
/** Largest message body in bytes (decoded). */
export const MAX_BODY_BYTES = 256 * 1024;
/** Longest `delaySeconds`: 30 days, the Deno KV queue's own limit. */
export const MAX_DELAY_SECONDS = 30 * 24 * 3600;
/** How long a `dedupId` is remembered per topic. */
export const DEDUP_WINDOW_MS = 24 * 3600 * 1000;

/**
 * Size of a properties map in UTF-8 bytes (keys plus values).
 *
 * @example
 * ```ts
 * import { propertiesBytes } from "./names.ts";
 * propertiesBytes({ region: "SH" }); // 8
 * ```
 */
export function propertiesBytes(properties: Readonly<Record<string, string>>): number {
  const encoder = new TextEncoder();
  let total = 0;
  for (const [key, value] of Object.entries(properties)) {
    total += encoder.encode(key).length + encoder.encode(value).length;
  }
  return total;
}
