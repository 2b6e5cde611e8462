/**
 * `/v1/topics`: create, read and list topics, publish normal messages, and
 * find messages by key.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { json, newRouter, problems, secured } from "./router.ts";
import {
  MessageSchema,
  Name,
  PublishBody,
  PublishResultSchema,
  TopicDetailSchema,
  TopicSchema,
} from "./schemas.ts";
import { presentMessage, presentPublish, presentTopic, presentTopicDetail } from "./present.ts";

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
    const result = await c.var.broker.topics.create(topic);
    return c.json(presentTopic(result.topic), result.created ? 201 : 200);
  })
  .openapi(listTopics, async (c) => {
    const topics = await c.var.broker.topics.list();
    return c.json({ topics: topics.map(presentTopic) }, 200);
  })
  .openapi(getTopic, async (c) => {
    const { topic } = c.req.valid("param");
    return c.json(presentTopicDetail(await c.var.broker.topics.view(topic)), 200);
  })
  .openapi(publish, async (c) => {
    const { topic } = c.req.valid("param");
    const body = c.req.valid("json");
    const idempotencyKey = c.req.valid("header")["idempotency-key"];
    const dedupId = body.dedupId ?? idempotencyKey;
    const started = performance.now();
    const result = await c.var.broker.publisher.publish(topic, {
      ...body,
      ...(dedupId !== undefined ? { dedupId } : {}),
    });
    const { metrics } = c.var.broker;
    metrics.publishDuration("message", performance.now() - started);
    if (!result.duplicate) metrics.published(topic);
    return c.json(presentPublish(result), result.duplicate ? 200 : 201);
  })
  .openapi(byKey, async (c) => {
    const { topic } = c.req.valid("param");
    const { key, limit } = c.req.valid("query");
    const messages = await c.var.broker.messages.byKey(topic, key, limit);
    return c.json({ messages: messages.map(presentMessage) }, 200);
  });
