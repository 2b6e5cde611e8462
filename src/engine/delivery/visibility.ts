/**
 * Visibility: a consumer asking for more time on a delivery (a new handle,
 * the old one spent), and expiry: failing the deliveries whose visibility
 * timeout passed while still in flight. A lease lists the deliveries one
 * receive started and not yet acked, keyed by the end of their visibility;
 * expiry skips those whose stream moved on since, and the checks on the
 * lease and on the next event settle any race with a late ack.
 *
 * @module
 */
import { monotonicUlid } from "@std/ulid";
import { keys } from "../../store/keys.ts";
import { WriteSet } from "../../store/write_set.ts";
import type { CompiledGroup } from "../groups/mod.ts";
import { findLease } from "./acks.ts";
import { carryOutDelivery } from "./effects.ts";
import type { DeliveryEnv } from "./env.ts";
import type { InflightRecord } from "./records.ts";
import { deliveryEventKey, scheduleExpiry } from "./records.ts";
import { readHandles, settleHeads, type Settling } from "./settle.ts";
import { appendDelivery } from "./step.ts";

/** Most lease entries one expiry pass reads at a time. */
const LEASES_PER_READ = 20;
/** Most lease reads of one expiry call (it schedules another for the rest). */
const EXPIRY_ROUNDS = 100;

/**
 * Moves the end of a delivery's visibility to now + `seconds` and returns a
 * new handle; the old one stops working.
 *
 * @example
 * ```ts
 * import { changeVisibility } from "./visibility.ts";
 * declare const env: import("./env.ts").DeliveryEnv;
 * declare const group: import("../groups/mod.ts").CompiledGroup;
 * const result = await changeVisibility(env, group, "handle", 60);
 * ```
 */
export async function changeVisibility(
  env: DeliveryEnv,
  group: CompiledGroup,
  text: string,
  seconds: number,
): Promise<{ receiptHandle: string; visibleUntil: number } | { failed: string }> {
  const { kv, clock, scheduler, committer, store } = env.deps;
  const { valid, failed } = await readHandles(env, group, [text]);
  const item = valid[0];
  if (!item) return { failed: failed[0]?.reason ?? "receipt handle is malformed" };
  const lease = await findLease(kv, group.record.id, item.head);
  if (!lease) return { failed: "receipt handle already used or superseded: the delivery moved on" };
  const now = clock();
  const visibleUntil = now + seconds * 1000;
  // The lease lists the head until an ack record takes it out (see acks.ts).
  const op = new WriteSet().check(lease);
  const steps = appendDelivery(op, store, group.record.id, item.head, [{
    type: "DeliveryVisibilityExtended",
    data: { attempt: item.head.context.attempt, visibleUntil },
    at: now,
  }]);
  if (!steps) {
    return { failed: `receipt handle cannot extend a delivery that is ${item.head.state}` };
  }
  for (const step of steps) await carryOutDelivery(op, { kv, group, leaseId: monotonicUlid }, step);
  scheduleExpiry(op, scheduler, group.record, visibleUntil);
  if (!(await committer.commit(op))) {
    return { failed: "receipt handle already used or superseded: the delivery moved on" };
  }
  const receiptHandle = await env.receiptKeys.sign({
    ...item.handle,
    seq: item.head.seq + 1,
    visibleUntil,
  });
  return { receiptHandle, visibleUntil };
}

/**
 * Fails every delivery of the group whose visibility timeout has passed and
 * that is still in flight; returns how many.
 *
 * @example
 * ```ts
 * import { expire } from "./visibility.ts";
 * declare const env: import("./env.ts").DeliveryEnv;
 * declare const group: import("../groups/mod.ts").CompiledGroup;
 * const failed = await expire(env, group);
 * ```
 */
export async function expire(env: DeliveryEnv, group: CompiledGroup): Promise<number> {
  const { kv, clock, committer } = env.deps;
  const id = group.record.id;
  let failed = 0;
  for (let round = 0; round < EXPIRY_ROUNDS; round++) {
    const now = clock();
    const leases = await Array.fromAsync(kv.list<InflightRecord[]>({
      start: keys.leases(id),
      end: [...keys.leases(id), now + 1],
    }, { limit: LEASES_PER_READ }));
    if (leases.length === 0) break;
    for (const lease of leases) {
      const visibleUntil = lease.key[2] as number;
      const items = lease.value;
      const moved: (string | null)[] = [];
      for (let i = 0; i < items.length; i += 10) {
        const chunk = items.slice(i, i + 10)
          .map((item) => deliveryEventKey(id, item.messageId, item.seq + 1));
        moved.push(...(await kv.getMany(chunk)).map((entry) => entry.versionstamp));
      }
      const expired: Settling[] = items.filter((_, i) => moved[i] === null).map((item) => ({
        text: item.messageId,
        head: {
          messageId: item.messageId,
          topic: item.topic,
          ...(item.messageGroup !== undefined ? { messageGroup: item.messageGroup } : {}),
          seq: item.seq,
          state: "inFlight",
          context: { attempt: item.attempt, visibleUntil },
        },
      }));
      if (expired.length > 0) {
        failed += (await settleHeads(env, group, expired, {
          kind: "fail",
          error: "visibility timeout",
        })).settled;
      }
      await committer.commit(new WriteSet().delete(lease.key));
    }
    if (round === EXPIRY_ROUNDS - 1) {
      // Bounded: the rest is another job's (leases that end together share one job).
      const op = new WriteSet();
      env.deps.scheduler.schedule(op, { kind: "visibilityDue", group: group.record.name }, now);
      await committer.commit(op);
    }
  }
  return failed;
}
