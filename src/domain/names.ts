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
/**
 * Largest message body in bytes, once decoded (4 MiB, RocketMQ's default
 * `maxMessageSize`). As base64 in JSON that is 5,592,408 characters.
 */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Most messages one batch publish (`POST /v1/topics/{topic}/messages/batch`) may carry. */
export const MAX_BATCH_MESSAGES = 1000;
/** Longest URL the broker calls (check-back, push, alert), in characters. */
export const MAX_URL_LENGTH = 2048;
/** Longest `messageGroup`, `dedupId` or `Idempotency-Key`, in characters. */
export const MAX_ID_LENGTH = 128;
/** Longest property name, in characters. */
export const MAX_PROPERTY_NAME_LENGTH = 256;
/** Longest push or alert secret, in characters. */
export const MAX_SECRET_LENGTH = 256;
/** Longest tag expression of a subscription, in characters. */
export const MAX_TAG_EXPRESSION_LENGTH = 4096;
/** Longest SQL filter of a subscription, in characters. */
export const MAX_SQL_FILTER_LENGTH = 8192;
/** Most subscriptions of one consumer group. */
export const MAX_SUBSCRIPTIONS = 32;
/**
 * Largest stored configuration of a consumer group, in bytes as Deno KV
 * stores it (V8 serialisation: a string costs one byte a character, two when
 * it has any character above U+00FF). The KV value limit is 65,536 bytes; the
 * rest is kept for the group's name, id and times.
 */
export const MAX_GROUP_CONFIG_BYTES = 60 * 1024;
/** Deepest nesting of arrays and objects in a JSON request body. */
export const MAX_JSON_DEPTH = 128;
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
