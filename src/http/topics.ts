/**
 * `/v1/topics`: create, read and list topics, publish normal messages (one
 * per request, or a batch with one result per message), and find messages
 * by key.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { BrokerError } from "../domain/errors.ts";
import type { MessageInput } from "../domain/message.ts";
import { MAX_BATCH_MESSAGES } from "../domain/names.ts";
import type { BatchOutcome } from "../engine/publishing/publisher.ts";
import { json, newRouter, problems, secured } from "./router.ts";
import {
  MessageSchema,
  Name,
  PublishBatchBody,
  type PublishBatchItemSchema,
  PublishBatchResultSchema,
  PublishBody,
  PublishResultSchema,
  TopicDetailSchema,
  TopicSchema,
} from "./schemas.ts";
import { presentMessage, presentPublish, presentTopic, presentTopicDetail } from "./present.ts";
import { brokerProblem, type Problem, validationProblemBody } from "./problem.ts";

const TopicParam = z.object({ topic: Name });

const putTopic = createRoute({
  method: "put",
  path: "/v1/topics/{topic}",
  operationId: "putTopic",
  ...secured,
  tags: ["topics"],
  summary: "Create a topic (idempotent)",
  request: { params: TopicParam },
  responses: {
    200: json(TopicSchema, "The topic already existed"),
    201: json(TopicSchema, "The topic was created"),
    ...problems(400),
  },
});

const listTopics = createRoute({
  method: "get",
  path: "/v1/topics",
  operationId: "listTopics",
  ...secured,
  tags: ["topics"],
  summary: "List topics",
  responses: {
    200: json(z.object({ topics: z.array(TopicSchema) }), "Every topic"),
    ...problems(),
  },
});

const getTopic = createRoute({
  method: "get",
  path: "/v1/topics/{topic}",
  operationId: "getTopic",
  ...secured,
  tags: ["topics"],
  summary: "Read a topic with its message counts",
  request: { params: TopicParam },
  responses: { 200: json(TopicDetailSchema, "The topic"), ...problems(400, 404) },
});

const publish = createRoute({
  method: "post",
  path: "/v1/topics/{topic}/messages",
  operationId: "publishMessage",
  ...secured,
  tags: ["messages"],
  summary: "Publish a normal message",
  request: {
    params: TopicParam,
    headers: z.object({ "idempotency-key": z.string().min(1).max(128).optional() }),
    body: { content: { "application/json": { schema: PublishBody } }, required: true },
  },
  responses: {
    200: json(PublishResultSchema, "A duplicate of an earlier message: nothing stored"),
    201: json(PublishResultSchema, "Stored and visible to consumer groups"),
    ...problems(400, 404, 413),
  },
});

const publishBatch = createRoute({
  method: "post",
  path: "/v1/topics/{topic}/messages/batch",
  operationId: "publishMessageBatch",
  ...secured,
  tags: ["messages"],
  summary: "Publish many normal messages, each with its own result",
  description: `Up to ${MAX_BATCH_MESSAGES} messages (and the request body limit) in one ` +
    "request, each with the fields of a single publish. The answer is 200 with one result per " +
    "message at its index: `status` 201 and its `messageId` when stored, 200 and `duplicate: " +
    "true` when its `dedupId` matched an earlier message (also one earlier in the same batch), " +
    "or the status and `problem` a single publish of it would have answered (400 for an " +
    "invalid message, 413 for one too large to store): a message that fails, fails alone and " +
    "the others are stored. Every result follows its message's commit. The request as a whole " +
    "fails, storing nothing, only when its envelope is wrong (not `{ messages: [...] }`, none " +
    `or more than ${MAX_BATCH_MESSAGES} messages, over the body limit) or the topic does not exist.`,
  request: {
    params: TopicParam,
    body: { content: { "application/json": { schema: PublishBatchBody } }, required: true },
  },
  responses: {
    200: json(PublishBatchResultSchema, "One result per message, in order"),
    ...problems(400, 404, 413),
  },
});

/** A message's own problem in a batch: a broker error as a single publish answers it. */
function itemProblem(error: unknown): Problem {
  if (error instanceof BrokerError) return brokerProblem(error);
  console.error("batch publish: a message failed", error);
  return {
    type: "https://escrow.dev/problems/internal",
    title: "Internal error",
    status: 500,
    detail: "The broker failed to store this message; it is logged.",
  };
}

/** A message's result in a batch answer. */
function presentOutcome(outcome: BatchOutcome): z.infer<typeof PublishBatchItemSchema> {
  if (!outcome.ok) {
    const problem = itemProblem(outcome.error);
    return { status: problem.status, problem };
  }
  const { result } = outcome;
  return { status: result.duplicate ? 200 : 201, ...presentPublish(result) };
}

const byKey = createRoute({
  method: "get",
  path: "/v1/topics/{topic}/messages",
  operationId: "listMessagesByKey",
  ...secured,
  tags: ["messages"],
  summary: "Find visible messages by key, newest first",
  request: {
    params: TopicParam,
    query: z.object({
      key: z.string().min(1).max(128),
      limit: z.coerce.number().int().min(1).max(1000).optional(),
    }),
  },
  responses: {
    200: json(z.object({ messages: z.array(MessageSchema) }), "Matching messages"),
    ...problems(400, 404),
  },
});

/** The topics router. */
export const topicsRouter = newRouter()
  .openapi(putTopic, async (c) => {
    const { topic } = c.req.valid("param");
    const result = await c.get("broker").topics.create(topic);
    return c.json(presentTopic(result.topic), result.created ? 201 : 200);
  })
  .openapi(listTopics, async (c) => {
    const topics = await c.get("broker").topics.list();
    return c.json({ topics: topics.map(presentTopic) }, 200);
  })
  .openapi(getTopic, async (c) => {
    const { topic } = c.req.valid("param");
    return c.json(presentTopicDetail(await c.get("broker").topics.view(topic)), 200);
  })
  .openapi(publish, async (c) => {
    const { topic } = c.req.valid("param");
    const body = c.req.valid("json");
    const idempotencyKey = c.req.valid("header")["idempotency-key"];
    const dedupId = body.dedupId ?? idempotencyKey;
    const started = performance.now();
    const result = await c.get("broker").publisher.publish(topic, {
      ...body,
      ...(dedupId !== undefined ? { dedupId } : {}),
    });
    const { metrics } = c.get("broker");
    metrics.publishDuration("message", performance.now() - started);
    if (!result.duplicate) metrics.published(topic);
    return c.json(presentPublish(result), result.duplicate ? 200 : 201);
  })
  .openapi(publishBatch, async (c) => {
    const { topic } = c.req.valid("param");
    const { messages } = c.req.valid("json");
    const started = performance.now();
    // Each message is checked on its own: an invalid one fails alone, at its index.
    const checked = messages.map(
      (message, index): { input: MessageInput } | { problem: Problem } => {
        const parsed = PublishBody.safeParse(message);
        return parsed.success
          ? { input: parsed.data }
          : { problem: validationProblemBody(parsed.error, `json.messages.${index}`) };
      },
    );
    const valid = checked.flatMap((item) => "input" in item ? [item.input] : []);
    const outcomes = await c.get("broker").publisher.publishBatch(topic, valid);
    let next = 0;
    const results = checked.map((item) =>
      "input" in item
        ? presentOutcome(outcomes[next++]!)
        : { status: item.problem.status, problem: item.problem }
    );
    const stored = results.filter((r) => r.status === 201).length;
    const duplicates = results.filter((r) => r.status === 200).length;
    const { metrics } = c.get("broker");
    metrics.publishDuration("batch", performance.now() - started);
    if (stored > 0) metrics.published(topic, stored);
    return c.json(
      { results, stored, duplicates, failed: results.length - stored - duplicates },
      200,
    );
  })
  .openapi(byKey, async (c) => {
    const { topic } = c.req.valid("param");
    const { key, limit } = c.req.valid("query");
    const messages = await c.get("broker").messages.byKey(topic, key, limit);
    return c.json({ messages: messages.map(presentMessage) }, 200);
  });
