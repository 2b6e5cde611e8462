/**
 * The request and response schemas of the HTTP API (zod, through
 * `@hono/zod-openapi`): they validate every request and produce the OpenAPI
 * document at `/openapi.json`.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import {
  MAX_DELAY_SECONDS,
  MAX_KEY_LENGTH,
  MAX_KEYS,
  MAX_PROPERTIES,
  MAX_PROPERTIES_BYTES,
  NAME_PATTERN,
  propertiesBytes,
  TAG_PATTERN,
} from "../domain/names.ts";

/** A topic, consumer group or producer group name. */
export const Name = z.string().regex(NAME_PATTERN, {
  message: "must match ^[A-Za-z0-9_-]{1,64}$",
}).openapi({ example: "Accompaniment" });

/** A message tag. */
export const Tag = z.string().regex(TAG_PATTERN, {
  message: "must match ^[A-Za-z0-9_.-]{1,64}$",
}).openapi({ example: "Ops" });

/** A transaction id chosen by the client. */
export const TransactionId = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, {
  message: "must match ^[A-Za-z0-9_.:-]{1,128}$",
});

/** An http(s) URL the broker calls. */
export const HttpUrl = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" });

/** Seconds as a non-negative number; fractions allowed. */
const seconds = (max: number) => z.number().min(0).max(max);

/** The fields every message shares. */
export const MessageFields = z.object({
  body: z.unknown().optional().openapi({ description: "Any JSON value" }),
  bodyBase64: z.base64({ message: "must be base64" }).optional(),
  tag: Tag.optional(),
  keys: z.array(z.string().min(1).max(MAX_KEY_LENGTH)).max(MAX_KEYS).optional(),
  properties: z.record(z.string().min(1).max(256), z.string())
    .refine((p) => Object.keys(p).length <= MAX_PROPERTIES, {
      message: `at most ${MAX_PROPERTIES} properties`,
    })
    .refine((p) => propertiesBytes(p) <= MAX_PROPERTIES_BYTES, {
      message: `at most ${MAX_PROPERTIES_BYTES} bytes of properties`,
    })
    .optional(),
  delaySeconds: seconds(MAX_DELAY_SECONDS).optional(),
  messageGroup: z.string().min(1).max(128).optional(),
  dedupId: z.string().min(1).max(128).optional(),
});

/** Body of `POST /v1/topics/{topic}/messages`. */
export const PublishBody = MessageFields.strict().openapi("PublishRequest");

/** Body of `POST /v1/topics/{topic}/transactions`. */
export const PrepareBody = MessageFields.extend({
  transactionId: TransactionId.optional(),
  producerGroup: Name.optional(),
  checkUrl: HttpUrl.optional(),
  checkAfterSeconds: seconds(24 * 3600).optional(),
  checkIntervalSeconds: z.number().gt(0).max(24 * 3600).optional(),
  maxChecks: z.number().int().min(1).max(1000).optional(),
}).strict().openapi("PrepareRequest");

/** Body of `PUT /v1/producer-groups/{group}`. */
export const ProducerGroupBody = z.object({ checkUrl: HttpUrl }).strict();

/** States of a transaction. */
export const TransactionStateSchema = z.enum([
  "prepared",
  "executing",
  "checking",
  "committed",
  "rolledBack",
]);

/** Query of `GET /v1/transactions`. */
export const TransactionQuery = z.object({
  state: TransactionStateSchema.optional(),
  producerGroup: Name.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

/** A stored event as shown by the API. */
export const EventSchema = z.object({
  type: z.string(),
  at: z.string(),
  data: z.unknown(),
}).openapi("Event");

/** A topic. */
export const TopicSchema = z.object({
  name: z.string(),
  createdAt: z.string(),
}).openapi("Topic");

/** A topic with counts. */
export const TopicDetailSchema = TopicSchema.extend({
  counts: z.record(z.string(), z.number()),
}).openapi("TopicDetail");

/** Result of publishing. */
export const PublishResultSchema = z.object({
  messageId: z.string(),
  topic: z.string(),
  tag: z.string().optional(),
  publishedAt: z.string(),
  duplicate: z.boolean(),
}).openapi("PublishResult");

/** Short form of a transaction. */
export const TransactionResultSchema = z.object({
  transactionId: z.string(),
  messageId: z.string(),
  state: TransactionStateSchema,
}).openapi("TransactionResult");

/** A transaction with its history. */
export const TransactionSchema = z.object({
  transactionId: z.string(),
  messageId: z.string(),
  topic: z.string(),
  tag: z.string().optional(),
  producerGroup: z.string().optional(),
  state: TransactionStateSchema,
  checks: z.number(),
  createdAt: z.string(),
  decidedAt: z.string().optional(),
  reason: z.enum(["producer", "checkBack", "checksExhausted"]).optional(),
  history: z.array(EventSchema).optional(),
}).openapi("Transaction");

/** One consumer group's delivery of a message. */
export const DeliverySchema = z.object({
  group: z.string(),
  state: z.enum(["pending", "inFlight", "retrying", "acked", "deadLettered"]),
  attempts: z.array(z.object({
    attempt: z.number(),
    at: z.string(),
    error: z.string().optional(),
  })),
  ackedAt: z.string().optional(),
  deadLetteredAt: z.string().optional(),
  history: z.array(EventSchema),
}).openapi("Delivery");

/** A message with its body, transaction and history. */
export const MessageSchema = z.object({
  messageId: z.string(),
  topic: z.string(),
  tag: z.string().optional(),
  keys: z.array(z.string()),
  properties: z.record(z.string(), z.string()),
  body: z.unknown().optional(),
  bodyBase64: z.string().optional(),
  storedAt: z.string(),
  publishedAt: z.string().optional(),
  delaySeconds: z.number().optional(),
  messageGroup: z.string().optional(),
  dedupId: z.string().optional(),
  transactionId: z.string().optional(),
  transaction: TransactionSchema.optional(),
  history: z.array(EventSchema),
  deliveries: z.array(DeliverySchema),
}).openapi("Message");

/** A producer group. */
export const ProducerGroupSchema = z.object({
  name: z.string(),
  checkUrl: z.string(),
  updatedAt: z.string(),
}).openapi("ProducerGroup");

/** An RFC 9457 problem details body. */
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
}).passthrough().openapi("Problem");

/** One subscription of a consumer group. */
export const SubscriptionSchema = z.object({
  topic: Name,
  tags: z.string().max(4096).optional().openapi({ example: "Ops || Orchestration" }),
  sql: z.string().min(1).max(8192).optional().openapi({
    example: "amount > 100 AND region = 'SH'",
  }),
}).strict();

/** Body of `PUT /v1/groups/{group}`. */
export const GroupBody = z.object({
  subscriptions: z.array(SubscriptionSchema).min(1).max(32),
  delivery: z.discriminatedUnion("mode", [
    z.object({ mode: z.literal("pull") }).strict(),
    z.object({
      mode: z.literal("push"),
      url: HttpUrl,
      secret: z.string().min(1).max(256).optional(),
      timeoutSeconds: z.number().gt(0).max(300).optional(),
      maxConcurrency: z.number().int().min(1).max(256).optional(),
    }).strict(),
  ]).optional(),
  maxRetries: z.number().int().min(0).max(64).optional(),
  retryDelaysSeconds: z.array(z.number().min(0).max(86_400)).min(1).max(64).optional(),
  visibilityTimeoutSeconds: z.number().gt(0).max(43_200).optional(),
  ordered: z.boolean().optional(),
  alertUrl: HttpUrl.optional().openapi({
    description: "Receives a signed POST for every message the group dead-letters",
  }),
  alertSecret: z.string().min(1).max(256).optional().openapi({
    description: "Signs the alerts (Escrow-Signature); the push secret when unset",
  }),
}).strict().openapi("GroupRequest");

/** A consumer group as shown (the push and alert secrets are never shown). */
export const GroupSchema = z.object({
  name: z.string(),
  subscriptions: z.array(z.object({
    topic: z.string(),
    tags: z.string().optional(),
    sql: z.string().optional(),
  })),
  delivery: z.object({
    mode: z.enum(["pull", "push"]),
    url: z.string().optional(),
    hasSecret: z.boolean().optional(),
    timeoutSeconds: z.number().optional(),
    maxConcurrency: z.number().optional(),
  }),
  maxRetries: z.number(),
  retryDelaysSeconds: z.array(z.number()),
  visibilityTimeoutSeconds: z.number(),
  ordered: z.boolean(),
  alertUrl: z.string().optional(),
  hasAlertSecret: z.boolean().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi("Group");

/** A consumer group with its delivery counts. */
export const GroupDetailSchema = GroupSchema.extend({
  backlog: z.number(),
  inFlight: z.number(),
  retrying: z.number(),
  deadLettered: z.number(),
  acked: z.number(),
}).openapi("GroupDetail");

/** Body of `POST /v1/groups/{group}/receive`. */
export const ReceiveBody = z.object({
  max: z.number().int().min(1).max(256).optional(),
  waitSeconds: z.number().min(0).max(30).optional(),
  visibilityTimeoutSeconds: z.number().gt(0).max(43_200).optional(),
}).strict();

/** A delivered message. */
export const ReceivedMessageSchema = z.object({
  messageId: z.string(),
  receiptHandle: z.string().optional(),
  topic: z.string(),
  tag: z.string().optional(),
  keys: z.array(z.string()),
  properties: z.record(z.string(), z.string()),
  body: z.unknown().optional(),
  bodyBase64: z.string().optional(),
  publishedAt: z.string(),
  attempt: z.number(),
  transactionId: z.string().optional(),
  messageGroup: z.string().optional(),
}).openapi("ReceivedMessage");

/** Receipt handles to settle. */
const ReceiptHandles = z.array(z.string().min(1).max(2048)).min(1).max(1000);

/** Body of `POST /v1/groups/{group}/ack`. */
export const AckBody = z.object({ receiptHandles: ReceiptHandles }).strict();

/** Body of `POST /v1/groups/{group}/nack`. */
export const NackBody = z.object({
  receiptHandles: ReceiptHandles,
  delaySeconds: z.number().min(0).max(86_400).optional(),
  reason: z.string().min(1).max(1024).optional(),
}).strict();

/** Handles that could not be settled. */
export const FailedHandles = z.array(z.object({ receiptHandle: z.string(), reason: z.string() }));

/** Body of `POST /v1/groups/{group}/visibility`. */
export const VisibilityBody = z.object({
  receiptHandle: z.string().min(1).max(2048),
  visibilityTimeoutSeconds: z.number().gt(0).max(43_200),
}).strict();

/** A dead letter as listed. */
export const DeadLetterSchema = z.object({
  messageId: z.string(),
  topic: z.string(),
  tag: z.string().optional(),
  attempts: z.number(),
  lastError: z.string(),
  deadLetteredAt: z.string(),
}).openapi("DeadLetter");

/** Body of `POST /v1/groups/{group}/dead-letters/redrive`. */
export const RedriveBody = z.object({
  messageIds: z.array(z.string().min(1).max(128)).max(1000).optional(),
}).strict();

/** States of a stored job that `GET /v1/jobs` lists. */
export const JobStateSchema = z.enum(["pending", "failed"]);

/** Query of `GET /v1/jobs`. */
export const JobQuery = z.object({
  state: JobStateSchema.optional().openapi({ description: "Which jobs (default pending)" }),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().min(1).max(1024).optional(),
});

/** A job id in a path. */
export const JobIdParam = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, { message: "must match ^[A-Za-z0-9_-]{1,128}$" }),
});

/** A durable job as listed. */
export const JobSchema = z.object({
  id: z.string(),
  kind: z.string(),
  job: z.record(z.string(), z.unknown()).openapi({ description: "The job's payload" }),
  runs: z.number(),
  lastError: z.string().optional(),
  dueAt: z.string().optional(),
  failedAt: z.string().optional(),
}).openapi("Job");

/** A page of jobs. */
export const JobPageSchema = z.object({
  jobs: z.array(JobSchema),
  cursor: z.string().optional(),
}).openapi("JobPage");
