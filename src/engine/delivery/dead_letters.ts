/**
 * Dead letters: listing a group's, oldest message first, and redriving them
 * (delivered again from attempt 1), one commit each so that a stale one
 * does not fail its neighbours.
 *
 * @module
 */
import { monotonicUlid } from "@std/ulid";
import { ValidationError } from "../../domain/errors.ts";
import { keys } from "../../store/keys.ts";
import { WriteSet } from "../../store/write_set.ts";
import { handleCommand } from "../command.ts";
import type { CompiledGroup } from "../groups/mod.ts";
import { carryOutDelivery } from "./effects.ts";
import type { DeliveryEnv } from "./env.ts";
import { deadLetterHead, type DeadLetterRecord } from "./records.ts";
import { readRecords } from "./received.ts";
import { appendDelivery } from "./step.ts";

/**
 * Lists a group's dead letters with a cursor for the next page.
 *
 * @example
 * ```ts
 * import { listDeadLetters } from "./dead_letters.ts";
 * declare const env: import("./env.ts").DeliveryEnv;
 * declare const group: import("../groups/mod.ts").CompiledGroup;
 * const { messages, cursor } = await listDeadLetters(env, group, { limit: 50 });
 * ```
 */
export async function listDeadLetters(
  env: DeliveryEnv,
  group: CompiledGroup,
  options: { limit?: number; cursor?: string } = {},
): Promise<{ messages: DeadLetterRecord[]; cursor?: string }> {
  const { kv } = env.deps;
  const limit = options.limit ?? 100;
  const iter = kv.list<DeadLetterRecord>({ prefix: keys.deadLetters(group.record.id) }, {
    limit,
    ...(options.cursor ? { cursor: options.cursor } : {}),
  });
  const messages: DeadLetterRecord[] = [];
  try {
    for await (const entry of iter) messages.push(entry.value);
  } catch (error) {
    if (options.cursor && error instanceof TypeError) {
      throw new ValidationError(`Cannot list dead letters: cursor ${options.cursor} is not valid`, {
        issues: [{ path: "query.cursor", message: "not a cursor of this listing" }],
      });
    }
    throw error;
  }
  const records = await readRecords(kv, messages.map((m) => m.messageId));
  for (const [i, message] of messages.entries()) {
    const tag = records.get(message.messageId)?.tag;
    if (tag !== undefined) messages[i] = { ...message, tag };
  }
  const more = messages.length === limit && iter.cursor !== "";
  return { messages, ...(more ? { cursor: iter.cursor } : {}) };
}

/**
 * Delivers dead letters again from attempt 1 (all when `messageIds` is
 * omitted); returns how many were redriven.
 *
 * @example
 * ```ts
 * import { redrive } from "./dead_letters.ts";
 * declare const env: import("./env.ts").DeliveryEnv;
 * declare const group: import("../groups/mod.ts").CompiledGroup;
 * const redriven = await redrive(env, group, ["m1"]);
 * ```
 */
export async function redrive(
  env: DeliveryEnv,
  group: CompiledGroup,
  messageIds?: readonly string[],
): Promise<number> {
  const { kv } = env.deps;
  const id = group.record.id;
  const ids: string[] = [];
  if (messageIds) ids.push(...messageIds);
  else {
    for await (const entry of kv.list<DeadLetterRecord>({ prefix: keys.deadLetters(id) })) {
      ids.push(entry.value.messageId);
    }
  }
  let redriven = 0;
  for (const messageId of new Set(ids)) {
    if (await redriveOne(env, group, messageId)) redriven++;
  }
  return redriven;
}

/** Redrives one dead letter through the command handler; false when it is not dead (any more). */
async function redriveOne(
  env: DeliveryEnv,
  group: CompiledGroup,
  messageId: string,
): Promise<boolean> {
  const { kv, clock, store, committer } = env.deps;
  const id = group.record.id;
  return await handleCommand<Deno.KvEntryMaybe<DeadLetterRecord>, boolean>(committer, {
    what: `redrive message ${messageId} for group ${group.record.name}`,
    load: () => kv.get<DeadLetterRecord>(keys.deadLetter(id, messageId)),
    decide: async (entry) => {
      const record = entry.value;
      if (!record) return { done: false };
      const head = deadLetterHead(record);
      const op = new WriteSet().check(entry);
      const steps = appendDelivery(op, store, id, head, [
        { type: "DeliveryRedriven", data: {}, at: clock() },
      ]);
      if (!steps) return { done: false };
      for (const step of steps) {
        await carryOutDelivery(op, { kv, group, leaseId: monotonicUlid }, step);
      }
      return { write: op, result: true };
    },
  });
}
