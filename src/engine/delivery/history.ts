/**
 * A delivery's whole history, read back: the first attempt its round's
 * first-attempts record holds when its stream has no event 1 (see
 * `first_attempts.ts`), the events stored in its stream, and the acked
 * event an ack record holds when they leave it in flight (see `acks.ts`).
 * Every reader of a delivery's events (settling after a conflict, the
 * message view, the inspector) reads them here, so each sees the same
 * history whichever record holds an event.
 *
 * @module
 */
import type { DeliveryEvent } from "../../domain/events.ts";
import { keys } from "../../store/keys.ts";
import { withRecordedAck } from "./acks.ts";
import { logVersionstamp, recordedAttempt } from "./first_attempts.ts";
import type { DeliveryOf } from "./step.ts";

export type { DeliveryOf } from "./step.ts";

/**
 * A delivery's history from its stored events (as listed, with their keys);
 * `versionstamp` gives the message's position in its topic's log when a
 * first-attempts record has to be looked up (called at most once).
 *
 * @example
 * ```ts
 * import { deliveryHistory } from "./history.ts";
 * using kv = await Deno.openKv(":memory:");
 * (await deliveryHistory(kv, "g1", { messageId: "m1", topic: "T" }, [],
 *   () => Promise.resolve(undefined))).length; // 0
 * ```
 */
export async function deliveryHistory(
  kv: Deno.Kv,
  groupId: string,
  of: DeliveryOf,
  stored: readonly Deno.KvEntry<DeliveryEvent>[],
  versionstamp: () => Promise<string | undefined>,
): Promise<DeliveryEvent[]> {
  const events = stored.map((entry) => entry.value);
  if (stored[0]?.key[3] !== 1) {
    const first = await recordedAttempt(kv, groupId, of, await versionstamp());
    if (first) events.unshift(first);
  }
  return await withRecordedAck(kv, groupId, of, events);
}

/**
 * Reads the whole history of the delivery of `of` to the group incarnation `groupId`.
 *
 * @example
 * ```ts
 * import { readDelivery } from "./history.ts";
 * using kv = await Deno.openKv(":memory:");
 * (await readDelivery(kv, "g1", { messageId: "m1", topic: "T" })).length; // 0
 * ```
 */
export async function readDelivery(
  kv: Deno.Kv,
  groupId: string,
  of: DeliveryOf,
): Promise<DeliveryEvent[]> {
  const stored = await Array.fromAsync(
    kv.list<DeliveryEvent>({
      prefix: keys.stream("dlv", keys.deliveryStreamId(of.messageId, groupId)),
    }),
  );
  return await deliveryHistory(kv, groupId, of, stored, () => logVersionstamp(kv, of.messageId));
}

/**
 * Memoises an async lookup, so that many readers share one call (the
 * message view reads one message's position once for all its groups).
 *
 * @example
 * ```ts
 * import { once } from "./history.ts";
 * let calls = 0;
 * const lookup = once(() => Promise.resolve(++calls));
 * await lookup(); await lookup(); // calls === 1
 * ```
 */
export function once<T>(lookup: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => pending ??= lookup();
}
