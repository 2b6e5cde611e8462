/**
 * Checking deliveries against what was published: per message id, that
 * every group got every message its tags accept (none lost), none it should
 * not have got (wrong tag or unknown id), and how many arrived more than once.
 *
 * @module
 */
import type { GroupDeliveries, PublisherResult } from "./protocol.ts";
import { acceptsTag, type Tag, TAGS } from "./workload.ts";

/**
 * The tag of each confirmed message, by message id, from the publishers' results.
 *
 * @example
 * ```ts
 * import { publishedTags } from "./verify.ts";
 * const tags = publishedTags([{
 *   role: "publisher", range: { start: 0, end: 2 }, ids: ["a", null], tags: "20",
 *   firstSendAt: 0, lastConfirmAt: 1, confirmed: 1, lateSends: 0,
 *   confirmMs: { count: 1, p50: 1, p99: 1, max: 1 },
 *   errors: 1, errorSamples: [], timedOut: false, cpuMicros: 0,
 * }]);
 * console.log(tags.get("a"), tags.size); // "Orchestration" 1
 * ```
 */
export function publishedTags(results: readonly PublisherResult[]): Map<string, Tag> {
  const tags = new Map<string, Tag>();
  for (const result of results) {
    result.ids.forEach((id, k) => {
      if (id !== null) tags.set(id, TAGS[Number(result.tags[k])]!);
    });
  }
  return tags;
}

/** What one group's deliveries looked like. */
export interface DeliveryCheck {
  /** Messages the group should have got. */
  readonly expected: number;
  /** Expected messages never delivered. */
  readonly lost: number;
  /** Deliveries beyond the first of a message. */
  readonly duplicates: number;
  /** Distinct delivered messages the group should not have got (wrong tag or unknown id). */
  readonly wrong: number;
}

/**
 * How many messages a tag expression accepts among `published`.
 *
 * @example
 * ```ts
 * import { expectedCount } from "./verify.ts";
 * console.log(expectedCount(new Map([["a", "Ops"], ["b", "CS"]]), "Ops")); // 1
 * ```
 */
export function expectedCount(published: ReadonlyMap<string, Tag>, tags: string): number {
  let count = 0;
  for (const tag of published.values()) if (acceptsTag(tags, tag)) count++;
  return count;
}

/**
 * Checks one group's deliveries against the published messages.
 *
 * @example
 * ```ts
 * import { checkDeliveries } from "./verify.ts";
 * const published = new Map([["a", "Ops" as const], ["b", "CS" as const]]);
 * console.log(checkDeliveries(published, "Ops", ["a", "a", "b"]));
 * // { expected: 1, lost: 0, duplicates: 1, wrong: 1 }
 * ```
 */
export function checkDeliveries(
  published: ReadonlyMap<string, Tag>,
  tags: string,
  delivered: GroupDeliveries["ids"],
): DeliveryCheck {
  const distinct = new Set(delivered);
  let expected = 0;
  let lost = 0;
  for (const [id, tag] of published) {
    if (!acceptsTag(tags, tag)) continue;
    expected++;
    if (!distinct.has(id)) lost++;
  }
  let wrong = 0;
  for (const id of distinct) {
    const tag = published.get(id);
    if (tag === undefined || !acceptsTag(tags, tag)) wrong++;
  }
  return { expected, lost, duplicates: delivered.length - distinct.size, wrong };
}
