/**
 * Turns engine views (times in epoch ms) into API JSON (times as ISO 8601),
 * typed by the response schemas so the two cannot drift apart.
 *
 * @module
 */
import type { z } from "@hono/zod-openapi";
import type { StoredEvent } from "../domain/events.ts";
import { redactUrls, withoutCredentials } from "../outbound/redact.ts";
import type { DeliveryView, MessageView } from "../engine/history/messages.ts";
import type { PublishResult } from "../engine/publishing/publisher.ts";
import type { GroupRecord } from "../engine/groups/groups.ts";
import type { ProducerGroupRecord, TopicRecord, TopicView } from "../engine/publishing/topics.ts";
import type { TransactionView } from "../engine/transactions/transactions.ts";
import type {
  DeliverySchema,
  EventSchema,
  GroupSchema,
  MessageSchema,
  ProducerGroupSchema,
  PublishResultSchema,
  TopicDetailSchema,
  TopicSchema,
  TransactionResultSchema,
  TransactionSchema,
} from "./schemas.ts";

/**
 * Epoch milliseconds as an ISO 8601 string.
 *
 * @example
 * ```ts
 * import { iso } from "./present.ts";
 * iso(0); // "1970-01-01T00:00:00.000Z"
 * ```
 */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** An event for the API. */
export function presentEvent(event: StoredEvent): z.infer<typeof EventSchema> {
  // A URL stored before credentials in URLs were refused is shown without them.
  return { type: event.type, at: iso(event.at), data: redactUrls(event.data) };
}

/** A topic for the API. */
export function presentTopic(topic: TopicRecord): z.infer<typeof TopicSchema> {
  return { name: topic.name, createdAt: iso(topic.createdAt) };
}

/** A topic with its counts for the API. */
export function presentTopicDetail(topic: TopicView): z.infer<typeof TopicDetailSchema> {
  return { ...presentTopic(topic), counts: topic.counts };
}

/** A publish result for the API. */
export function presentPublish(result: PublishResult): z.infer<typeof PublishResultSchema> {
  return { ...result, publishedAt: iso(result.publishedAt) };
}

/** A transaction's short form. */
export function presentTransactionResult(
  view: TransactionView,
): z.infer<typeof TransactionResultSchema> {
  return { transactionId: view.transactionId, messageId: view.messageId, state: view.state };
}

/** A transaction for the API, with or without its history. */
export function presentTransaction(
  view: TransactionView,
  withHistory = true,
): z.infer<typeof TransactionSchema> {
  const { history, createdAt, decidedAt, ...rest } = view;
  return {
    ...rest,
    createdAt: iso(createdAt),
    ...(decidedAt !== undefined ? { decidedAt: iso(decidedAt) } : {}),
    ...(withHistory ? { history: history.map(presentEvent) } : {}),
  };
}

/** A message for the API. */
export function presentMessage(view: MessageView): z.infer<typeof MessageSchema> {
  const { storedAt, publishedAt, transaction, history, keys, properties, deliveries, ...rest } =
    view;
  return {
    ...rest,
    keys: [...keys],
    properties: { ...properties },
    storedAt: iso(storedAt),
    ...(publishedAt !== undefined ? { publishedAt: iso(publishedAt) } : {}),
    ...(transaction ? { transaction: presentTransaction(transaction) } : {}),
    history: history.map(presentEvent),
    deliveries: deliveries.map(presentDelivery),
  };
}

/** A delivery for the API. */
export function presentDelivery(view: DeliveryView): z.infer<typeof DeliverySchema> {
  const { attempts, ackedAt, deadLetteredAt, history, ...rest } = view;
  return {
    ...rest,
    attempts: attempts.map((a) => ({ ...a, at: iso(a.at) })),
    ...(ackedAt !== undefined ? { ackedAt: iso(ackedAt) } : {}),
    ...(deadLetteredAt !== undefined ? { deadLetteredAt: iso(deadLetteredAt) } : {}),
    history: history.map(presentEvent),
  };
}

/** A producer group for the API; its secret is never shown. */
export function presentProducerGroup(
  group: ProducerGroupRecord,
): z.infer<typeof ProducerGroupSchema> {
  return {
    name: group.name,
    ...(group.checkUrl !== undefined ? { checkUrl: withoutCredentials(group.checkUrl) } : {}),
    hasSecret: group.secret !== undefined,
    updatedAt: iso(group.updatedAt),
  };
}

/** A consumer group for the API; the push secret is never shown. */
export function presentGroup(group: GroupRecord): z.infer<typeof GroupSchema> {
  // The incarnation id is the engine's: the API names a group by its name.
  const {
    delivery,
    createdAt,
    updatedAt,
    subscriptions,
    retryDelaysSeconds,
    id: _,
    alertSecret,
    ...rest
  } = group;
  return {
    ...rest,
    ...(group.alertUrl !== undefined
      ? { alertUrl: withoutCredentials(group.alertUrl), hasAlertSecret: alertSecret !== undefined }
      : {}),
    subscriptions: subscriptions.map((s) => ({ ...s })),
    retryDelaysSeconds: [...retryDelaysSeconds],
    delivery: delivery.mode === "push"
      ? {
        mode: "push",
        url: withoutCredentials(delivery.url),
        hasSecret: delivery.secret !== undefined,
        timeoutSeconds: delivery.timeoutSeconds,
        maxConcurrency: delivery.maxConcurrency,
      }
      : { mode: "pull" },
    createdAt: iso(createdAt),
    updatedAt: iso(updatedAt),
  };
}
