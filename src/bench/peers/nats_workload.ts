/**
 * The benchmark's workload in NATS JetStream's terms, shared by the
 * orchestrator and the NATS client processes: one file-backed stream over the
 * subjects `acc.<tag>`, and for each consumer group the durable pull
 * consumers that serve it. NATS 2.9 gives a consumer a single filter subject,
 * so a group whose tag expression names several tags (compliance = Ops ||
 * Orchestration) is served by one durable per tag, whose deliveries count as
 * the group's; this delivers exactly the messages the group should get, as
 * Escrow does, rather than making NATS deliver and skip the others.
 *
 * @module
 */
import type { PublisherConfig } from "../protocol.ts";
import type { GroupSpec, Tag } from "../workload.ts";

/**
 * The stream every NATS phase publishes to.
 *
 * @example
 * ```ts
 * import { NATS_STREAM } from "./nats_workload.ts";
 * console.log(NATS_STREAM); // "ACC"
 * ```
 */
export const NATS_STREAM = "ACC";

/** The subject prefix of the stream; a message's tag is the last token. */
const SUBJECT_PREFIX = "acc.";

/**
 * The subject a message of `tag` is published on.
 *
 * @example
 * ```ts
 * import { subjectOf } from "./nats_workload.ts";
 * console.log(subjectOf("Ops")); // "acc.Ops"
 * ```
 */
export function subjectOf(tag: Tag): string {
  return `${SUBJECT_PREFIX}${tag}`;
}

/**
 * The tag a subject of the stream carries (`undefined` for a subject outside it).
 *
 * @example
 * ```ts
 * import { tagOfSubject } from "./nats_workload.ts";
 * console.log(tagOfSubject("acc.CS"), tagOfSubject("other.CS")); // "CS" undefined
 * ```
 */
export function tagOfSubject(subject: string): string | undefined {
  return subject.startsWith(SUBJECT_PREFIX) ? subject.slice(SUBJECT_PREFIX.length) : undefined;
}

/** One durable pull consumer: its name and its single filter subject. */
export interface NatsDurable {
  readonly durable: string;
  readonly filterSubject: string;
}

/**
 * The durables that serve `group`: one on `acc.>` for `*`, one on
 * `acc.<tag>` named after the group for a single tag, and one per tag named
 * `<group>-<tag>` for an expression of several tags.
 *
 * @example
 * ```ts
 * import { natsDurablesOf } from "./nats_workload.ts";
 * console.log(natsDurablesOf({ name: "compliance", tags: "Ops || Orchestration" }));
 * // [{ durable: "compliance-Ops", filterSubject: "acc.Ops" },
 * //  { durable: "compliance-Orchestration", filterSubject: "acc.Orchestration" }]
 * ```
 */
export function natsDurablesOf(group: GroupSpec): NatsDurable[] {
  if (group.tags.trim() === "*") {
    return [{ durable: group.name, filterSubject: `${SUBJECT_PREFIX}>` }];
  }
  const tags = group.tags.split("||").map((part) => part.trim()).filter(Boolean);
  if (tags.length === 0) {
    throw new RangeError(`Cannot map group ${group.name}: current tags are "${group.tags}"`);
  }
  if (tags.length === 1) {
    return [{ durable: group.name, filterSubject: `${SUBJECT_PREFIX}${tags[0]}` }];
  }
  return tags.map((tag) => ({
    durable: `${group.name}-${tag}`,
    filterSubject: `${SUBJECT_PREFIX}${tag}`,
  }));
}

/**
 * The payload of message `index`: the same JSON body Escrow's publishers send
 * (index, send time in epoch ms, padding to the body size).
 *
 * @example
 * ```ts
 * import { natsPayload } from "./nats_workload.ts";
 * console.log(JSON.parse(natsPayload(7, 1.7e12, "xx")).seq); // 7
 * ```
 */
export function natsPayload(index: number, sentAt: number, padding: string): string {
  return `{"seq":${index},"sentAt":${sentAt},"pad":"${padding}"}`;
}

/**
 * A NATS publisher's configuration: Escrow's publisher configuration (its
 * `url` a `nats://` address) plus whether each publish carries a
 * `Nats-Msg-Id` for JetStream's de-duplication (the peer of a transaction).
 */
export interface NatsPublisherConfig extends PublisherConfig {
  readonly dedup: boolean;
}
