/**
 * Ordered groups: the messages of one message group go one at a time, in
 * commit order. The message in progress holds its message group's lock; the
 * next ones wait under `["mg_wait", group, messageGroup, versionstamp, index]`
 * and get the lock, in that order, when it is acked or dead-lettered.
 *
 * @module
 */
import { keys } from "../../store/keys.ts";
import type { WriteSet } from "../../store/write_set.ts";
import { type DueRecord, type OrderLock, type OrderWaitRecord, putDue } from "./records.ts";

/**
 * Requeues a redriven message of an ordered group behind the message group's
 * current message, ahead of those still waiting (it is older than they are).
 *
 * @example
 * ```ts
 * import { requeueInOrder } from "./message_order.ts";
 * import { WriteSet } from "../../store/write_set.ts";
 * declare const kv: Deno.Kv;
 * await requeueInOrder(kv, new WriteSet(), "fulfil", "customer-9", {
 *   messageId: "m1", topic: "Orders", seq: 4, attempt: 0, retry: false, publishedAt: 0,
 * }, Date.now());
 * ```
 */
export async function requeueInOrder(
  kv: Deno.Kv,
  op: WriteSet,
  name: string,
  messageGroup: string,
  due: DueRecord,
  now: number,
): Promise<void> {
  const lockKey = keys.orderLock(name, messageGroup);
  const lock = await kv.get<OrderLock>(lockKey);
  op.check(lock);
  if (!lock.value) {
    op.set(lockKey, { messageId: due.messageId });
    putDue(op, name, now, due);
    return;
  }
  // "!" sorts before every versionstamp: redriven messages wait first, oldest id first.
  const wait: OrderWaitRecord = {
    messageId: due.messageId,
    topic: due.topic,
    publishedAt: 0,
    seq: due.seq,
  };
  op.set(keys.orderWait(name, messageGroup, `!${due.messageId}`, 0), wait);
  op.set(lockKey, lock.value); // makes a concurrent hand-over retry and see this waiter
}

/**
 * Hands an ordered group's message-group lock from `messageId` to the next
 * waiting message, or frees it.
 *
 * @example
 * ```ts
 * import { releaseOrder } from "./message_order.ts";
 * import { WriteSet } from "../../store/write_set.ts";
 * declare const kv: Deno.Kv;
 * await releaseOrder(kv, new WriteSet(), "fulfil", "customer-9", "m1", Date.now());
 * ```
 */
export async function releaseOrder(
  kv: Deno.Kv,
  op: WriteSet,
  name: string,
  messageGroup: string,
  messageId: string,
  now: number,
): Promise<void> {
  const lockKey = keys.orderLock(name, messageGroup);
  const lock = await kv.get<OrderLock>(lockKey);
  if (lock.value?.messageId !== messageId) return;
  op.check(lock);
  for await (
    const waiting of kv.list<OrderWaitRecord>({
      prefix: keys.orderWaits(name, messageGroup),
    }, { limit: 1 })
  ) {
    op.delete(waiting.key).set(lockKey, { messageId: waiting.value.messageId });
    putDue(op, name, Math.max(now, waiting.value.deliverAt ?? 0), {
      messageId: waiting.value.messageId,
      topic: waiting.value.topic,
      seq: waiting.value.seq ?? 0,
      attempt: 0,
      retry: false,
      publishedAt: waiting.value.publishedAt,
      messageGroup,
    });
    return;
  }
  op.delete(lockKey);
}
