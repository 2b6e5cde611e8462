/**
 * The workload shared by the orchestrator and the client processes: the
 * topic, the three tags, the five consumer groups of the fund company's
 * scenario, which tag message `i` carries and which transactions roll back.
 * Both sides compute these from the message index alone, so a consumer can
 * know how many messages it must get before any publisher has answered.
 *
 * @module
 */

/**
 * The topic every phase publishes to.
 *
 * @example
 * ```ts
 * import { TOPIC } from "./workload.ts";
 * console.log(`/v1/topics/${TOPIC}/messages`); // "/v1/topics/Accompaniment/messages"
 * ```
 */
export const TOPIC = "Accompaniment";

/**
 * The tags, uniformly spread over the messages.
 *
 * @example
 * ```ts
 * import { TAGS } from "./workload.ts";
 * console.log(TAGS.length); // 3
 * ```
 */
export const TAGS = ["Ops", "CS", "Orchestration"] as const;

/** One of {@linkcode TAGS}. */
export type Tag = typeof TAGS[number];

/** A consumer group of the benchmark: its name and its tag expression. */
export interface GroupSpec {
  readonly name: string;
  /** `*` or tags joined by `||`, as the broker's subscription takes it. */
  readonly tags: string;
}

/**
 * The five pull groups of the fan-out phases.
 *
 * @example
 * ```ts
 * import { FAN_OUT_GROUPS } from "./workload.ts";
 * console.log(FAN_OUT_GROUPS.map((g) => g.name).join(" ")); // "ops cs orchestration compliance datacenter"
 * ```
 */
export const FAN_OUT_GROUPS: readonly GroupSpec[] = [
  { name: "ops", tags: "Ops" },
  { name: "cs", tags: "CS" },
  { name: "orchestration", tags: "Orchestration" },
  { name: "compliance", tags: "Ops || Orchestration" },
  { name: "datacenter", tags: "*" },
];

/**
 * `count` groups: one `*` group, the five fan-out groups, or the five
 * repeated with numbered names (a mix of tag filters) for larger counts.
 *
 * @example
 * ```ts
 * import { groupsOfSize } from "./workload.ts";
 * console.log(groupsOfSize(1)[0]!.tags); // "*"
 * console.log(groupsOfSize(20).length); // 20
 * ```
 */
export function groupsOfSize(count: number): GroupSpec[] {
  if (count === 1) return [{ name: "datacenter", tags: "*" }];
  return Array.from({ length: count }, (_, i) => {
    const base = FAN_OUT_GROUPS[i % FAN_OUT_GROUPS.length]!;
    const round = Math.floor(i / FAN_OUT_GROUPS.length);
    return { name: round === 0 ? base.name : `${base.name}-${round}`, tags: base.tags };
  });
}

/** A 32-bit integer hash (murmur3's finaliser): spreads consecutive indexes. */
function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The tag of message `index`: uniform over {@linkcode TAGS}, the same in
 * every process.
 *
 * @example
 * ```ts
 * import { tagOf, TAGS } from "./workload.ts";
 * console.log(TAGS.includes(tagOf(7))); // true
 * ```
 */
export function tagOf(index: number): Tag {
  return TAGS[mix32(index) % TAGS.length]!;
}

/**
 * Whether transaction `index` is rolled back (10 % of them) instead of committed.
 *
 * @example
 * ```ts
 * import { rollsBack } from "./workload.ts";
 * const share = Array.from({ length: 10_000 }, (_, i) => rollsBack(i)).filter(Boolean).length;
 * console.log(share > 800 && share < 1200); // true
 * ```
 */
export function rollsBack(index: number): boolean {
  return mix32(index ^ 0x5bd1e995) % 10 === 0;
}

/**
 * Whether a tag expression (`*` or tags joined by `||`) accepts `tag`.
 *
 * @example
 * ```ts
 * import { acceptsTag } from "./workload.ts";
 * console.log(acceptsTag("Ops || Orchestration", "CS")); // false
 * console.log(acceptsTag("*", "CS")); // true
 * ```
 */
export function acceptsTag(expression: string, tag: string | undefined): boolean {
  if (expression.trim() === "*") return true;
  if (tag === undefined) return false;
  return expression.split("||").some((part) => part.trim() === tag);
}

/**
 * Splits the indexes `[0, total)` into `parts` contiguous ranges of nearly
 * equal size.
 *
 * @example
 * ```ts
 * import { splitRange } from "./workload.ts";
 * console.log(splitRange(10, 3)); // [{start:0,end:4},{start:4,end:7},{start:7,end:10}]
 * ```
 */
export function splitRange(total: number, parts: number): IndexRange[] {
  const ranges: IndexRange[] = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const end = start + Math.floor(total / parts) + (i < total % parts ? 1 : 0);
    ranges.push({ start, end });
    start = end;
  }
  return ranges;
}

/** Message indexes from `start` (inclusive) to `end` (exclusive). */
export interface IndexRange {
  readonly start: number;
  readonly end: number;
}

/** What {@linkcode senderConfigs} needs to split a load between client processes. */
export interface SenderLoad {
  readonly url: string;
  /** Messages in all. */
  readonly total: number;
  /** Client processes sharing them. */
  readonly processes: number;
  readonly inflight: number;
  readonly bodyBytes: number;
  readonly deadlineMs: number;
}

/**
 * One closed-loop configuration per client process, each with its share of
 * the message indexes: publishers of normal messages or transactional producers.
 *
 * @example
 * ```ts
 * import { senderConfigs } from "./workload.ts";
 * const configs = senderConfigs("publisher", {
 *   url: "http://127.0.0.1:8000", total: 10, processes: 2, inflight: 4, bodyBytes: 64,
 *   deadlineMs: 1_000,
 * });
 * console.log(configs.length); // 2
 * ```
 */
export function senderConfigs<R extends "publisher" | "producer">(
  role: R,
  load: SenderLoad,
): {
  role: R;
  url: string;
  topic: string;
  range: IndexRange;
  inflight: number;
  bodyBytes: number;
  deadlineMs: number;
}[] {
  return splitRange(load.total, load.processes).map((range) => ({
    role,
    url: load.url,
    topic: TOPIC,
    range,
    inflight: load.inflight,
    bodyBytes: load.bodyBytes,
    deadlineMs: load.deadlineMs,
  }));
}
