/**
 * Turning started deliveries into what the consumer gets: the message's
 * fields and body, read from the message record, and a signed receipt
 * handle naming the delivery's head.
 *
 * @module
 */
import { decodeBody } from "../../domain/body.ts";
import type { MessageEvent } from "../../domain/events.ts";
import type { MessageRecord } from "../../domain/message.ts";
import type { ReceivedMessage } from "../../domain/wire.ts";
import { keys } from "../../store/keys.ts";
import { readBody } from "../../store/message_store.ts";
import type { RecentRecords } from "../../store/recent_records.ts";
import type { CompiledGroup } from "../groups/mod.ts";
import type { DeliveryEnv } from "./env.ts";
import type { Started } from "./receive.ts";

/**
 * Reads message records: those this process committed lately from
 * `recent`, the others from KV, ten keys per read (Deno KV's limit), all
 * reads at once.
 *
 * @example
 * ```ts
 * import { readRecords } from "./received.ts";
 * using kv = await Deno.openKv(":memory:");
 * (await readRecords(kv, ["m1"])).size; // 0
 * ```
 */
export async function readRecords(
  kv: Deno.Kv,
  ids: readonly string[],
  recent?: RecentRecords,
): Promise<Map<string, MessageRecord>> {
  const records = new Map<string, MessageRecord>();
  const missing: string[] = [];
  for (const id of ids) {
    const known = recent?.get(id);
    if (known) records.set(id, known);
    else missing.push(id);
  }
  const chunks: Promise<void>[] = [];
  for (let i = 0; i < missing.length; i += 10) {
    const chunk = missing.slice(i, i + 10).map((id) => keys.message(id));
    chunks.push(
      kv.getMany<MessageRecord[]>(chunk).then((entries) => {
        for (const entry of entries) {
          if (entry.value) records.set(entry.value.messageId, entry.value);
        }
      }),
    );
  }
  await Promise.all(chunks);
  return records;
}

/**
 * The messages of started deliveries, each with a receipt handle signed for
 * its head.
 *
 * @example
 * ```ts
 * import { toReceived } from "./received.ts";
 * declare const env: import("./env.ts").DeliveryEnv;
 * declare const group: import("../groups/mod.ts").CompiledGroup;
 * declare const started: import("./receive.ts").Started[];
 * const messages = await toReceived(env, group, started);
 * ```
 */
export async function toReceived(
  env: DeliveryEnv,
  group: CompiledGroup,
  started: readonly Started[],
): Promise<ReceivedMessage[]> {
  const { kv, recent } = env.deps;
  const records = await readRecords(kv, started.map((s) => s.head.messageId), recent);
  const texts = await env.receiptKeys.signAll(started.map(({ head }) => ({
    group: group.record.name,
    groupId: group.record.id,
    messageId: head.messageId,
    topic: head.topic,
    seq: head.seq,
    attempt: head.context.attempt,
    visibleUntil: head.context.visibleUntil ?? 0,
    ...(head.messageGroup !== undefined ? { messageGroup: head.messageGroup } : {}),
  })));
  return await Promise.all(started.map(async ({ head, publishedAt }, i) => {
    const record = records.get(head.messageId);
    if (!record) throw new TypeError(`Cannot deliver: message ${head.messageId} is missing`);
    const [bytes, visibleAt] = await Promise.all([
      readBody(kv, record),
      publishedAt ||
      (record.transactionId !== undefined ? publishedAtOf(kv, record.messageId) : record.storedAt),
    ]);
    return {
      messageId: record.messageId,
      receiptHandle: texts[i]!,
      topic: record.topic,
      keys: record.keys,
      properties: record.properties,
      publishedAt: visibleAt,
      attempt: head.context.attempt,
      ...decodeBody(record.bodyEncoding, bytes),
      ...(record.tag !== undefined ? { tag: record.tag } : {}),
      ...(record.transactionId !== undefined ? { transactionId: record.transactionId } : {}),
      ...(record.messageGroup !== undefined ? { messageGroup: record.messageGroup } : {}),
    };
  }));
}

/** When a transactional message became visible (retries do not carry it). */
async function publishedAtOf(kv: Deno.Kv, messageId: string): Promise<number> {
  const entry = await kv.get<MessageEvent>(keys.event("msg", messageId, 1));
  return entry.value?.at ?? 0;
}
