/**
 * What a search box entry means: a message id, a transaction id, or else a
 * key looked up in every topic.
 *
 * @module
 */
import { NotFoundError } from "../../domain/errors.ts";
import type { Broker } from "../../engine/broker.ts";
import type { MessageView } from "../../engine/history/messages.ts";

/** Messages listed per topic for a key. */
export const KEY_RESULTS_PER_TOPIC = 20;

/** Longest search text taken (ids and keys are far shorter). */
export const MAX_QUERY_LENGTH = 200;

/** A search's answer: one message to open, or the messages carrying a key. */
export type SearchResult =
  | { readonly kind: "message"; readonly messageId: string }
  | { readonly kind: "key"; readonly messages: readonly MessageView[] };

async function orUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/**
 * Finds what `query` names.
 *
 * @example
 * ```ts
 * import { search } from "./search.ts";
 * declare const broker: import("../../engine/broker.ts").Broker;
 * const result = await search(broker, "order-1");
 * ```
 */
export async function search(broker: Broker, query: string): Promise<SearchResult> {
  const q = query.trim().slice(0, MAX_QUERY_LENGTH);
  if (!q) return { kind: "key", messages: [] };
  const message = await orUndefined(broker.messages.get(q));
  if (message) return { kind: "message", messageId: message.messageId };
  const transaction = await orUndefined(broker.transactions.get(q));
  if (transaction) return { kind: "message", messageId: transaction.messageId };
  const topics = await broker.topics.list();
  const found = await Promise.all(
    topics.map((t) => orUndefined(broker.messages.byKey(t.name, q, KEY_RESULTS_PER_TOPIC))),
  );
  const messages = found.flat().filter((m): m is MessageView => m !== undefined)
    .sort((a, b) => b.storedAt - a.storedAt);
  return { kind: "key", messages };
}
