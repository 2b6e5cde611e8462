/**
 * Stores message records and their bodies. A body small enough stays inside
 * its record; a larger one is split into chunks of at most 64 KiB, written in
 * the same atomic operation as the record (256 KiB is at most 4 chunks, well
 * within the 800 KiB a commit may carry).
 *
 * @module
 */
import type { EncodedBody } from "../domain/body.ts";
import type { MessageRecord } from "../domain/message.ts";
import { keys } from "./keys.ts";
import type { Writes } from "./write_set.ts";

/** Bodies up to this size are kept inside the message record. */
export const INLINE_BODY_LIMIT = 40 * 1024;
/** Size of one stored body chunk: Deno KV's value limit for bytes. */
export const BODY_CHUNK_SIZE = 64 * 1024;

/** A record without the body fields, which {@linkcode writeMessage} fills in. */
export type MessageFields = Omit<
  MessageRecord,
  "bodyEncoding" | "inlineBody" | "bodyChunks" | "bodySize"
>;

/**
 * Adds the writes of a message and its body to `op`; returns the record.
 *
 * @example
 * ```ts
 * import { writeMessage } from "./message_store.ts";
 * using kv = await Deno.openKv(":memory:");
 * const op = kv.atomic();
 * writeMessage(op, { messageId: "m1", topic: "T", keys: [], properties: {}, storedAt: 0 },
 *   { encoding: "none", bytes: new Uint8Array() });
 * await op.commit();
 * ```
 */
export function writeMessage(
  op: Writes,
  fields: MessageFields,
  body: EncodedBody,
): MessageRecord {
  const inline = body.bytes.length <= INLINE_BODY_LIMIT;
  const chunks = inline ? 0 : Math.ceil(body.bytes.length / BODY_CHUNK_SIZE);
  const record: MessageRecord = {
    ...fields,
    bodyEncoding: body.encoding,
    bodySize: body.bytes.length,
    bodyChunks: chunks,
    ...(inline ? { inlineBody: body.bytes } : {}),
  };
  op.set(keys.message(fields.messageId), record);
  for (let i = 0; i < chunks; i++) {
    const part = body.bytes.subarray(i * BODY_CHUNK_SIZE, (i + 1) * BODY_CHUNK_SIZE);
    op.set(keys.bodyChunk(fields.messageId, i), part);
  }
  return record;
}

/**
 * Reads a message record, or undefined when there is none.
 *
 * @example
 * ```ts
 * import { readMessage } from "./message_store.ts";
 * using kv = await Deno.openKv(":memory:");
 * console.log(await readMessage(kv, "missing")); // undefined
 * ```
 */
export async function readMessage(
  kv: Deno.Kv,
  messageId: string,
): Promise<MessageRecord | undefined> {
  const entry = await kv.get<MessageRecord>(keys.message(messageId));
  return entry.value ?? undefined;
}

/**
 * Reads the body bytes of a record, from the record or its chunks.
 *
 * @example
 * ```ts
 * import { readBody, readMessage } from "./message_store.ts";
 * using kv = await Deno.openKv(":memory:");
 * const record = await readMessage(kv, "m1");
 * if (record) console.log((await readBody(kv, record)).length);
 * ```
 */
export async function readBody(kv: Deno.Kv, record: MessageRecord): Promise<Uint8Array> {
  if (record.inlineBody) return record.inlineBody;
  if (record.bodyChunks === 0) return new Uint8Array();
  const bytes = new Uint8Array(record.bodySize);
  let offset = 0;
  for await (const entry of kv.list<Uint8Array>({ prefix: keys.bodyChunks(record.messageId) })) {
    bytes.set(entry.value, offset);
    offset += entry.value.length;
  }
  return bytes;
}
