/**
 * What the delivery engine stores besides the delivery streams: leases of
 * deliveries in flight, deliveries waiting for their time, the order of
 * message groups in ordered groups, and the counters; with the small
 * functions that write them.
 *
 * @module
 */
import type { LogEntry } from "../../domain/message.ts";
import { adjust } from "../../store/counters.ts";
import { keys } from "../../store/keys.ts";
import type { WriteSet } from "../../store/write_set.ts";
import type { GroupCounter } from "../groups/groups.ts";
import type { Scheduler } from "../jobs/scheduler.ts";
import type { DeliveryHead } from "./step.ts";

/**
 * A delivery in flight, as listed in a lease: the entry one receive writes
 * for all the deliveries it starts, keyed by the end of their visibility.
 * An ack takes its deliveries out (see `acks.ts`); the others stay listed
 * until the lease ends.
 */
export interface InflightRecord {
  readonly messageId: string;
  readonly topic: string;
  readonly seq: number;
  readonly attempt: number;
  readonly messageGroup?: string;
}

/** A delivery waiting for its time: a retry, a delayed message, a redrive, an unparked one. */
export interface DueRecord {
  readonly messageId: string;
  readonly topic: string;
  /** Seq of the stream's last event (0 before the first attempt). */
  readonly seq: number;
  /** Attempts made so far. */
  readonly attempt: number;
  /** True when the delivery is `retrying` (a `DeliveryRetryDue` comes first). */
  readonly retry: boolean;
  readonly publishedAt: number;
  readonly messageGroup?: string;
  /** Body size in bytes, when known. */
  readonly bodySize?: number;
}

/** A message waiting behind its message group's current one. */
export interface OrderWaitRecord {
  readonly messageId: string;
  readonly topic: string;
  readonly publishedAt: number;
  readonly deliverAt?: number;
  /** Seq of its delivery stream's last event: 0, or the redrive's. */
  readonly seq?: number;
}

/** A dead letter as stored under `["dlq", groupId, messageId]` and listed. */
export interface DeadLetterRecord {
  readonly messageId: string;
  readonly topic: string;
  readonly tag?: string;
  readonly attempts: number;
  readonly lastError: string;
  readonly deadLetteredAt: number;
  /** Seq of the `DeliveryDeadLettered` event (the delivery stream's head while it is dead). */
  readonly seq: number;
  readonly messageGroup?: string;
}

/** The message group lock of an ordered group. */
export interface OrderLock {
  readonly messageId: string;
}

/**
 * The key of event `seq` of the delivery of `messageId` to the group incarnation `groupId`.
 *
 * @example
 * ```ts
 * import { deliveryEventKey } from "./records.ts";
 * deliveryEventKey("g1", "m1", 1); // ["ev", "dlv", "m1:g1", 1]
 * ```
 */
export function deliveryEventKey(groupId: string, messageId: string, seq: number): Deno.KvKey {
  return keys.event("dlv", keys.deliveryStreamId(messageId, groupId), seq);
}

/**
 * Adds a delivery waiting until `dueAt`, and wakes the group's long polls.
 *
 * @example
 * ```ts
 * import { putDue } from "./records.ts";
 * import { WriteSet } from "../../store/write_set.ts";
 * putDue(new WriteSet(), "ops", Date.now(), { messageId: "m1", topic: "T", seq: 0, attempt: 0,
 *   retry: false, publishedAt: 0 });
 * ```
 */
export function putDue(op: WriteSet, groupId: string, dueAt: number, record: DueRecord): void {
  op.set(keys.due(groupId, dueAt, record.messageId), record);
  op.sum(keys.groupSignal(groupId), 1n);
}

/**
 * Expiry runs at most this long after a lease ends: the leases of a group
 * that end within one such step share one expiry job.
 */
export const EXPIRY_STEP_MS = 1_000;

/**
 * Adds the expiry job of the group's leases that end at `visibleUntil`: one
 * per group and {@linkcode EXPIRY_STEP_MS}, due at the end of the step (so
 * never before the lease ends), written once by each process.
 *
 * @example
 * ```ts
 * import { scheduleExpiry } from "./records.ts";
 * import { Scheduler } from "../jobs/scheduler.ts";
 * import { WriteSet } from "../../store/write_set.ts";
 * using kv = await Deno.openKv(":memory:");
 * scheduleExpiry(new WriteSet(), new Scheduler(kv, async () => {}),
 *   { name: "ops", id: "g1" }, 30_500); // due at 31,000
 * ```
 */
export function scheduleExpiry(
  op: WriteSet,
  scheduler: Scheduler,
  group: { readonly name: string; readonly id: string },
  visibleUntil: number,
): void {
  const dueAt = Math.ceil(visibleUntil / EXPIRY_STEP_MS) * EXPIRY_STEP_MS;
  scheduler.scheduleOnce(
    op,
    { kind: "visibilityDue", group: group.name },
    dueAt,
    `visibilityDue:${group.id}:${dueAt}`,
  );
}

/**
 * Adds changes of the group's delivery counters.
 *
 * @example
 * ```ts
 * import { countDeliveries } from "./records.ts";
 * import { WriteSet } from "../../store/write_set.ts";
 * countDeliveries(new WriteSet(), "ops", { inFlight: -1, acked: 1 });
 * ```
 */
export function countDeliveries(
  op: WriteSet,
  group: string,
  deltas: Partial<Record<GroupCounter, number>>,
): void {
  for (const [counter, delta] of Object.entries(deltas)) {
    adjust(op, keys.groupCounter(group, counter), delta ?? 0);
  }
}

/**
 * A topic-log entry as a delivery not yet attempted.
 *
 * @example
 * ```ts
 * import { entryToDue } from "./records.ts";
 * entryToDue({ messageId: "m1", properties: {}, publishedAt: 0 }, "T").attempt; // 0
 * ```
 */
export function entryToDue(entry: LogEntry, topic: string): DueRecord {
  return {
    messageId: entry.messageId,
    topic,
    seq: 0,
    attempt: 0,
    retry: false,
    publishedAt: entry.publishedAt,
    ...(entry.messageGroup !== undefined ? { messageGroup: entry.messageGroup } : {}),
    ...(entry.bodySize !== undefined ? { bodySize: entry.bodySize } : {}),
  };
}

/**
 * The head a dead letter states: dead on its last attempt, at the seq of
 * the stream's last event (the dead letter, or the alert recorded after it),
 * which every writer of the next event checks the entry for.
 *
 * @example
 * ```ts
 * import { deadLetterHead } from "./records.ts";
 * deadLetterHead({ messageId: "m1", topic: "T", attempts: 16, lastError: "boom",
 *   deadLetteredAt: 0, seq: 32 }).state; // "deadLettered"
 * ```
 */
export function deadLetterHead(record: DeadLetterRecord): DeliveryHead {
  return {
    messageId: record.messageId,
    topic: record.topic,
    ...(record.messageGroup !== undefined ? { messageGroup: record.messageGroup } : {}),
    seq: record.seq,
    state: "deadLettered",
    context: { attempt: record.attempts, lastError: record.lastError },
  };
}
