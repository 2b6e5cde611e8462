/**
 * Acks without a stored value per delivery. The handles of one ack call that
 * one lease lists are acked by one record, the `DeliveryAcked` event of each,
 * written in the commit that takes them out of that lease (checked), so a
 * delivery's stream is its stored events followed, when they leave it in
 * flight, by the acked event an ack record holds for its head.
 *
 * A delivery at an in-flight head (seq `s`) is live while the lease written
 * with the event at `s` still lists it and its stream has no event `s + 1`.
 * Every writer of the event after an in-flight head checks both: an ack
 * record's commit checks the lease (which it rewrites) and that `s + 1` is
 * free; an explicit append checks `s + 1` (as every append does) and the
 * lease. So of an ack and a nack, an expiry or a visibility change of one
 * head, exactly one commits, as when both were stream appends.
 *
 * @module
 */
import type { DeliveryAcked, DeliveryEvent } from "../../domain/events.ts";
import { keys } from "../../store/keys.ts";
import type { WriteSet } from "../../store/write_set.ts";
import type { InflightRecord } from "./records.ts";
import { type DeliveryHead, type DeliveryOf, replayDelivery } from "./step.ts";

/** One acked delivery in an ack record: its head before the ack. */
export interface AckedItem {
  readonly messageId: string;
  /** Seq of the head acked; the acked event is `seq + 1`. */
  readonly seq: number;
  readonly attempt: number;
}

/** An ack record, under `["ack", groupId, visibleUntil, leaseId, ackId]`. */
export interface AckRecord {
  /** When the ack committed's decision was made (the acked events' `at`). */
  readonly at: number;
  readonly items: readonly AckedItem[];
}

/** A lease entry as read. */
export type LeaseEntry = Deno.KvEntry<InflightRecord[]>;

/**
 * Whether a lease lists the delivery at `head` (same message, same seq).
 *
 * @example
 * ```ts
 * import { listsHead } from "./acks.ts";
 * listsHead([{ messageId: "m1", topic: "T", seq: 1, attempt: 1 }], { messageId: "m1", seq: 1 });
 * // true
 * ```
 */
export function listsHead(
  lease: readonly Pick<InflightRecord, "messageId" | "seq">[],
  head: Pick<DeliveryHead, "messageId" | "seq">,
): boolean {
  return lease.some((item) => item.messageId === head.messageId && item.seq === head.seq);
}

/**
 * A delivery head's identity in a lease (message and seq), for set lookups
 * over leases of up to 100 deliveries.
 *
 * @example
 * ```ts
 * import { headKey } from "./acks.ts";
 * headKey({ messageId: "m1", seq: 1 }); // "1:m1"
 * ```
 */
export function headKey(head: Pick<InflightRecord, "messageId" | "seq">): string {
  return `${head.seq}:${head.messageId}`;
}

/**
 * The leases of the group that end at any of `times`, by end time (one list each).
 *
 * @example
 * ```ts
 * import { leasesAt } from "./acks.ts";
 * using kv = await Deno.openKv(":memory:");
 * (await leasesAt(kv, "g1", [30_000])).get(30_000)?.length; // 0
 * ```
 */
export async function leasesAt(
  kv: Deno.Kv,
  groupId: string,
  times: Iterable<number>,
): Promise<Map<number, LeaseEntry[]>> {
  const distinct = [...new Set(times)];
  const lists = await Promise.all(
    distinct.map((at) =>
      Array.fromAsync(kv.list<InflightRecord[]>({ prefix: keys.leasesAt(groupId, at) }))
    ),
  );
  return new Map(distinct.map((at, i) => [at, lists[i]!]));
}

/**
 * The lease that lists the in-flight delivery at `head`, if one does.
 *
 * @example
 * ```ts
 * import { findLease } from "./acks.ts";
 * using kv = await Deno.openKv(":memory:");
 * await findLease(kv, "g1", { messageId: "m1", topic: "T", seq: 1, state: "inFlight",
 *   context: { attempt: 1, visibleUntil: 30_000 } }); // undefined
 * ```
 */
export async function findLease(
  kv: Deno.Kv,
  groupId: string,
  head: DeliveryHead,
): Promise<LeaseEntry | undefined> {
  const until = head.context.visibleUntil;
  if (head.state !== "inFlight" || until === undefined) return undefined;
  const leases = (await leasesAt(kv, groupId, [until])).get(until) ?? [];
  return leases.find((lease) => listsHead(lease.value, head));
}

/**
 * Adds the ack record of `acked` (all listed by `lease`) and takes them out
 * of the lease: rewritten with the others, or deleted when none is left.
 * The caller checks the lease in the same commit.
 *
 * @example
 * ```ts
 * import { putAck } from "./acks.ts";
 * import { WriteSet } from "../../store/write_set.ts";
 * const lease = { key: ["lease", "g1", 30_000, "L1"], versionstamp: "01",
 *   value: [{ messageId: "m1", topic: "T", seq: 1, attempt: 1 }] };
 * putAck(new WriteSet(), lease, [{ messageId: "m1", seq: 1, attempt: 1 }], { at: 0, ackId: "A1" });
 * ```
 */
export function putAck(
  op: WriteSet,
  lease: LeaseEntry,
  acked: readonly AckedItem[],
  options: { readonly at: number; readonly ackId: string },
): void {
  const [, groupId, until, leaseId] = lease.key as [string, string, number, string];
  const record: AckRecord = { at: options.at, items: acked };
  op.set(keys.ack(groupId, until, leaseId, options.ackId), record);
  const gone = new Set(acked.map(headKey));
  const left = lease.value.filter((item) => !gone.has(headKey(item)));
  if (left.length > 0) op.set(lease.key, left);
  else op.delete(lease.key);
}

/**
 * The acked event an ack record holds for the in-flight delivery at `head`, if any.
 *
 * @example
 * ```ts
 * import { recordedAck } from "./acks.ts";
 * using kv = await Deno.openKv(":memory:");
 * await recordedAck(kv, "g1", { messageId: "m1", topic: "T", seq: 1, state: "inFlight",
 *   context: { attempt: 1, visibleUntil: 30_000 } }); // undefined
 * ```
 */
export async function recordedAck(
  kv: Deno.Kv,
  groupId: string,
  head: DeliveryHead,
): Promise<DeliveryAcked | undefined> {
  const until = head.context.visibleUntil;
  if (head.state !== "inFlight" || until === undefined) return undefined;
  for await (const entry of kv.list<AckRecord>({ prefix: keys.acksAt(groupId, until) })) {
    const item = entry.value.items.find((i) =>
      i.messageId === head.messageId && i.seq === head.seq
    );
    if (item) return { type: "DeliveryAcked", data: { attempt: item.attempt }, at: entry.value.at };
  }
  return undefined;
}

/**
 * A delivery's events: those stored in its stream, then the acked event an
 * ack record holds when they leave it in flight.
 *
 * @example
 * ```ts
 * import { withRecordedAck } from "./acks.ts";
 * using kv = await Deno.openKv(":memory:");
 * (await withRecordedAck(kv, "g1", { messageId: "m1", topic: "T" }, [])).length; // 0
 * ```
 */
export async function withRecordedAck(
  kv: Deno.Kv,
  groupId: string,
  of: DeliveryOf,
  events: readonly DeliveryEvent[],
): Promise<DeliveryEvent[]> {
  const head = replayDelivery(of, events);
  const acked = await recordedAck(kv, groupId, head);
  return acked ? [...events, acked] : [...events];
}
