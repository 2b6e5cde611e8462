/**
 * The Deno KV key layout, in one place. Every key the broker writes is built
 * here, so the layout can be read (and migrated) as a whole.
 *
 * | key | value |
 * | --- | --- |
 * | `["topic", name]` | {@linkcode TopicRecord} |
 * | `["producer_group", name]` | `{ name, checkUrl, updatedAt }` |
 * | `["msg", messageId]` | message record (immutable) |
 * | `["body", messageId, i]` | body chunk `Uint8Array` ≤ 64 KiB |
 * | `["upload", messageId]` | a large body being staged in chunks, until its message commits or it is collected |
 * | `["ev", kind, id, seq]` | stored event of stream `kind/id` |
 * | `["log", topic, versionstamp]` | messages made visible by one commit, in order |
 * | `["dedup", topic, dedupId]` | first message id, expires after 24 h |
 * | `["by_key", topic, key, messageId]` | message id, for lookups by key |
 * | `["tx_state", state, transactionId]` | `null`: transactions by current state |
 * | `["tx_group", producerGroup, transactionId]` | `null`: transactions by producer group |
 * | `["count", topic, counter]` | `Deno.KvU64` |
 * | `["job", dueAt, jobId]` | a durable timer or background job |
 * | `["job_signal"]` | bumped when a job is written, to wake sweepers |
 * | `["job_failed", jobId]` | a job whose attempts are spent, with its last error |
 * | `["topic_head", topic]` | `Deno.KvU64` bumped by every commit that adds to the topic log |
 * | `["group", name]` | consumer group configuration |
 * | `["groups_version"]` | `Deno.KvU64` bumped when any group changes |
 * | `["group_signal", group]` | `Deno.KvU64` bumped when work becomes ready outside the topic log |
 * | `["cursor", group, topic]` | the group's position in the topic log |
 * | `["lease", group, visibleUntil, leaseId]` | the deliveries one receive started and not yet acked, until their visibility ends |
 * | `["ack", group, visibleUntil, leaseId, ackId]` | the `DeliveryAcked` events of one ack call's handles of one lease |
 * | `["att", group, topic, versionstamp, index]` | the first `DeliveryAttempted` events of the deliveries one receive round started from a topic's log, at the log position of the last |
 * | `["due", group, dueAt, messageId]` | a delivery waiting for its time (retry, delay, redrive) |
 * | `["dlq", group, messageId]` | a dead letter |
 * | `["mg_lock", group, messageGroup]` | the message of an ordered group's message group in progress |
 * | `["mg_wait", group, messageGroup, versionstamp, index]` | messages waiting behind it, in order |
 * | `["gcount", group, counter]` | `Deno.KvU64` delivery counters |
 * | `["receipt_keys"]` | the secrets receipt handles are signed with (current and previous) |
 *
 * Every per-group key (cursor, lease, ack, att, due, dlq, mg_lock, mg_wait, gcount,
 * group_signal) and every delivery stream id names the group by its
 * incarnation id (`GroupRecord.id`), not its name: deleting a group deletes
 * its record, and everything under the old id is unreachable at once.
 *
 * @module
 */

/** Kinds of event streams. */
export type StreamKind = "tx" | "msg" | "dlv";

/**
 * Key builders for every entry the broker stores.
 *
 * @example
 * ```ts
 * import { keys } from "./keys.ts";
 * keys.topic("Trade"); // ["topic", "Trade"]
 * ```
 */
export const keys = {
  topic: (name: string): Deno.KvKey => ["topic", name],
  topics: (): Deno.KvKey => ["topic"],
  producerGroup: (name: string): Deno.KvKey => ["producer_group", name],
  message: (id: string): Deno.KvKey => ["msg", id],
  bodyChunk: (id: string, index: number): Deno.KvKey => ["body", id, index],
  bodyChunks: (id: string): Deno.KvKey => ["body", id],
  upload: (messageId: string): Deno.KvKey => ["upload", messageId],
  uploads: (): Deno.KvKey => ["upload"],
  event: (kind: StreamKind, id: string, seq: number): Deno.KvKey => ["ev", kind, id, seq],
  stream: (kind: StreamKind, id: string): Deno.KvKey => ["ev", kind, id],
  topicLog: (topic: string): Deno.KvKey => ["log", topic],
  dedup: (topic: string, dedupId: string): Deno.KvKey => ["dedup", topic, dedupId],
  byKey: (topic: string, key: string, messageId: string): Deno.KvKey => [
    "by_key",
    topic,
    key,
    messageId,
  ],
  byKeyPrefix: (topic: string, key: string): Deno.KvKey => ["by_key", topic, key],
  txByState: (state: string, transactionId: string): Deno.KvKey => [
    "tx_state",
    state,
    transactionId,
  ],
  txByStatePrefix: (state: string): Deno.KvKey => ["tx_state", state],
  txStates: (): Deno.KvKey => ["tx_state"],
  txByGroup: (group: string, transactionId: string): Deno.KvKey => [
    "tx_group",
    group,
    transactionId,
  ],
  txByGroupPrefix: (group: string): Deno.KvKey => ["tx_group", group],
  counter: (topic: string, name: string): Deno.KvKey => ["count", topic, name],
  job: (dueAt: number, jobId: string): Deno.KvKey => ["job", dueAt, jobId],
  jobs: (): Deno.KvKey => ["job"],
  jobSignal: (): Deno.KvKey => ["job_signal"],
  failedJob: (jobId: string): Deno.KvKey => ["job_failed", jobId],
  failedJobs: (): Deno.KvKey => ["job_failed"],
  topicHead: (topic: string): Deno.KvKey => ["topic_head", topic],
  /** Entries with `tag` ("" for none) ever appended to the topic's log (a KV sum). */
  tagCount: (topic: string, tag: string): Deno.KvKey => ["tag_count", topic, tag],
  tagCounts: (topic: string): Deno.KvKey => ["tag_count", topic],
  group: (name: string): Deno.KvKey => ["group", name],
  groups: (): Deno.KvKey => ["group"],
  groupsVersion: (): Deno.KvKey => ["groups_version"],
  groupSignal: (group: string): Deno.KvKey => ["group_signal", group],
  cursor: (group: string, topic: string): Deno.KvKey => ["cursor", group, topic],
  cursors: (group: string): Deno.KvKey => ["cursor", group],
  lease: (group: string, visibleUntil: number, leaseId: string): Deno.KvKey => [
    "lease",
    group,
    visibleUntil,
    leaseId,
  ],
  leases: (group: string): Deno.KvKey => ["lease", group],
  /** The leases that end at `visibleUntil` (a handle names its delivery's by that time). */
  leasesAt: (group: string, visibleUntil: number): Deno.KvKey => ["lease", group, visibleUntil],
  ack: (group: string, visibleUntil: number, leaseId: string, ackId: string): Deno.KvKey => [
    "ack",
    group,
    visibleUntil,
    leaseId,
    ackId,
  ],
  acks: (group: string): Deno.KvKey => ["ack", group],
  /** The ack records of the leases that end at `visibleUntil`. */
  acksAt: (group: string, visibleUntil: number): Deno.KvKey => ["ack", group, visibleUntil],
  /** The first attempts one round started from `topic`'s log, the last at `versionstamp`/`index`. */
  attempts: (group: string, topic: string, versionstamp: string, index: number): Deno.KvKey => [
    "att",
    group,
    topic,
    versionstamp,
    index,
  ],
  /** Every first-attempts record of the group (`topic` given: of that topic's log). */
  attemptsOf: (group: string, topic?: string): Deno.KvKey =>
    topic === undefined ? ["att", group] : ["att", group, topic],
  due: (group: string, dueAt: number, messageId: string): Deno.KvKey => [
    "due",
    group,
    dueAt,
    messageId,
  ],
  dues: (group: string): Deno.KvKey => ["due", group],
  deadLetter: (group: string, messageId: string): Deno.KvKey => ["dlq", group, messageId],
  deadLetters: (group: string): Deno.KvKey => ["dlq", group],
  orderLock: (group: string, messageGroup: string): Deno.KvKey => [
    "mg_lock",
    group,
    messageGroup,
  ],
  orderLocks: (group: string): Deno.KvKey => ["mg_lock", group],
  orderWait: (
    group: string,
    messageGroup: string,
    versionstamp: string,
    index: number,
  ): Deno.KvKey => ["mg_wait", group, messageGroup, versionstamp, index],
  orderWaits: (group: string, messageGroup?: string): Deno.KvKey =>
    messageGroup === undefined ? ["mg_wait", group] : ["mg_wait", group, messageGroup],
  groupCounter: (group: string, name: string): Deno.KvKey => ["gcount", group, name],
  groupCounters: (group: string): Deno.KvKey => ["gcount", group],
  /** A delivery stream's id: message first, so one message's deliveries sort together. */
  deliveryStreamId: (messageId: string, groupId: string): string => `${messageId}:${groupId}`,
  receiptKeys: (): Deno.KvKey => ["receipt_keys"],
} as const;
