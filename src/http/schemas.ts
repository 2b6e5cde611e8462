/**
 * The request and response schemas of the HTTP API (zod, through
 * `@hono/zod-openapi`): they validate every request and produce the OpenAPI
 * document at `/openapi.json`.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { ValidationError } from "../domain/errors.ts";
import {
  MAX_BATCH_MESSAGES,
  MAX_DELAY_SECONDS,
  MAX_GROUP_CONFIG_BYTES,
  MAX_ID_LENGTH,
  MAX_JSON_DEPTH,
  MAX_KEY_LENGTH,
  MAX_KEYS,
  MAX_PROPERTIES,
  MAX_PROPERTIES_BYTES,
  MAX_PROPERTY_NAME_LENGTH,
  MAX_SECRET_LENGTH,
  MAX_SQL_FILTER_LENGTH,
  MAX_SUBSCRIPTIONS,
  MAX_TAG_EXPRESSION_LENGTH,
  MAX_URL_LENGTH,
  NAME_PATTERN,
  propertiesBytes,
  TAG_PATTERN,
} from "../domain/names.ts";
import { storedBytes } from "../domain/stored_size.ts";
import { compileSubscription } from "../domain/subscription.ts";
import { normalizeGroup } from "../engine/groups/groups.ts";

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

/** An http(s) URL the broker calls, at most {@linkcode MAX_URL_LENGTH} characters. */
export const HttpUrl = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" })
  .max(MAX_URL_LENGTH, { message: `must be at most ${MAX_URL_LENGTH} characters` });

/** A client-chosen id (`messageGroup`, `dedupId`). */
const ClientId = z.string().min(1).max(MAX_ID_LENGTH);

/** A push or alert secret. */
const Secret = z.string().min(1).max(MAX_SECRET_LENGTH);

/** A page cursor as a listing gave it out: base64url, at most 1,024 characters. */
export const PageCursor = z.string().max(1024).regex(/^[A-Za-z0-9_-]+={0,2}$/, {
  message: "must be a cursor from the previous page",
}).openapi({ description: "The `cursor` of the previous page, as given" });

/** Refuses a message that sets both `body` and `bodyBase64`, naming the second. */
function oneBody(
  message: { body?: unknown; bodyBase64?: string | undefined },
  ctx: z.RefinementCtx,
) {
  if (message.body !== undefined && message.bodyBase64 !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["bodyBase64"],
      message: "give either body or bodyBase64, not both",
    });
  }
}

/** Seconds as a non-negative number; fractions allowed. */
const seconds = (max: number) => z.number().min(0).max(max);

/** The fields every message shares. */
export const MessageFields = z.object({
  body: z.unknown().optional().openapi({
    description: "Any JSON value, kept as sent: numbers finite, integers within ±(2^53 − 1), " +
      `no __proto__, constructor or prototype key, nested at most ${MAX_JSON_DEPTH} deep`,
  }),
  bodyBase64: z.base64({ message: "must be base64" }).optional(),
  tag: Tag.optional(),
  keys: z.array(z.string().min(1).max(MAX_KEY_LENGTH)).max(MAX_KEYS).optional(),
  properties: z.record(
    z.string().min(1).max(MAX_PROPERTY_NAME_LENGTH),
    z.string().max(MAX_PROPERTIES_BYTES),
  )
    .refine((p) => Object.keys(p).length <= MAX_PROPERTIES, {
      message: `at most ${MAX_PROPERTIES} properties`,
    })
    .refine((p) => propertiesBytes(p) <= MAX_PROPERTIES_BYTES, {
      message: `at most ${MAX_PROPERTIES_BYTES} bytes of properties`,
    })
    .optional(),
  delaySeconds: seconds(MAX_DELAY_SECONDS).optional(),
  messageGroup: ClientId.optional(),
  dedupId: ClientId.optional(),
});

/** Body of `POST /v1/topics/{topic}/messages`. */
export const PublishBody = MessageFields.strict().superRefine(oneBody).openapi("PublishRequest");

/** Body of `POST /v1/topics/{topic}/transactions`. */
export const PrepareBody = MessageFields.extend({
  transactionId: TransactionId.optional(),
  producerGroup: Name.optional(),
  checkUrl: HttpUrl.optional(),
  checkAfterSeconds: seconds(24 * 3600).optional(),
  checkIntervalSeconds: z.number().gt(0).max(24 * 3600).optional(),
  maxChecks: z.number().int().min(1).max(1000).optional(),
}).strict().superRefine(oneBody).openapi("PrepareRequest");

/** Body of `PUT /v1/producer-groups/{group}`. */
export const ProducerGroupBody = z.object({
  checkUrl: HttpUrl.optional(),
  secret: z.string().min(1).max(256).optional().openapi({
    description: "Signs the group's check-back calls (Escrow-Signature); never shown",
  }),
}).strict();

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
  checkUrl: z.string().optional(),
  hasSecret: z.boolean(),
  updatedAt: z.string(),
}).openapi("ProducerGroup");

/** An RFC 9457 problem details body. */
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
}).passthrough().openapi("Problem");

/**
 * Body of `POST /v1/topics/{topic}/messages/batch`. Only the envelope is
 * validated with the request (a bad one is a 400 and stores nothing); each
 * message is validated on its own against `PublishRequest`, and one that
 * fails gets its own problem in the results while the others are stored.
 */
export const PublishBatchBody = z.object({
  messages: z.array(
    z.unknown().openapi({
      allOf: [{ $ref: "#/components/schemas/PublishRequest" }],
      description: "A message, as the body of a single publish (validated on its own)",
    } as never),
  ).min(1).max(MAX_BATCH_MESSAGES),
}).strict().openapi("PublishBatchRequest");

/** One message's answer in a batch publish, at the message's own index. */
export const PublishBatchItemSchema = z.union([
  PublishResultSchema.extend({
    status: z.union([z.literal(201), z.literal(200)]).openapi({
      description: "201 stored, 200 a duplicate of an earlier message (nothing stored)",
    }),
  }),
  z.object({
    status: z.number().int().openapi({
      description: "The status a single publish of this message would have had",
    }),
    problem: ProblemSchema,
  }),
]).openapi("PublishBatchItem");

/** Answer of a batch publish: one result per message, in order, and counts. */
export const PublishBatchResultSchema = z.object({
  results: z.array(PublishBatchItemSchema),
  stored: z.number().int(),
  duplicates: z.number().int(),
  failed: z.number().int(),
}).openapi("PublishBatchResult");

/** One subscription of a consumer group: a tag expression or an SQL filter that compiles. */
export const SubscriptionSchema = z.object({
  topic: Name,
  tags: z.string().max(MAX_TAG_EXPRESSION_LENGTH).optional().openapi({
    example: "Ops || Orchestration",
  }),
  sql: z.string().min(1).max(MAX_SQL_FILTER_LENGTH).optional().openapi({
    example: "amount > 100 AND region = 'SH'",
  }),
}).strict().superRefine((spec, ctx) => {
  if (spec.tags !== undefined && spec.sql !== undefined) {
    ctx.addIssue({ code: "custom", path: ["sql"], message: "give either tags or sql, not both" });
    return;
  }
  try {
    compileSubscription(spec);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    ctx.addIssue({
      code: "custom",
      path: [spec.sql !== undefined ? "sql" : "tags"],
      message: error.message,
      params: { topic: spec.topic, position: error.extensions.position },
    });
  }
});

/**
 * Refuses a group configuration KV could not store: a topic in two
 * subscriptions, an alert secret without an alert URL, or a configuration
 * over {@linkcode MAX_GROUP_CONFIG_BYTES} as stored (measured on the record
 * the engine would store, defaults filled in).
 */
function storableGroup(
  group: z.infer<typeof GroupFields>,
  ctx: z.RefinementCtx,
) {
  const seen = new Set<string>();
  for (const [i, { topic }] of group.subscriptions.entries()) {
    if (seen.has(topic)) {
      ctx.addIssue({
        code: "custom",
        path: ["subscriptions", i, "topic"],
        message: `topic ${topic} appears in two subscriptions`,
      });
    }
    seen.add(topic);
  }
  if (group.alertSecret !== undefined && group.alertUrl === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["alertSecret"],
      message: "alertSecret is set but alertUrl is not",
    });
  }
  if (seen.size !== group.subscriptions.length) return;
  let bytes: number;
  try {
    bytes = storedBytes(normalizeGroup(group));
  } catch (error) {
    if (error instanceof ValidationError) return; // named by the checks above
    throw error;
  }
  if (bytes > MAX_GROUP_CONFIG_BYTES) {
    ctx.addIssue({
      code: "custom",
      path: ["subscriptions"],
      message: `the configuration takes ${bytes} bytes as stored, over the limit of ` +
        `${MAX_GROUP_CONFIG_BYTES} (tags and sql count one byte a character, two when a ` +
        "string has any character above U+00FF): shorten the filters or split the group",
    });
  }
}

/** The fields of `PUT /v1/groups/{group}`. */
const GroupFields = z.object({
  subscriptions: z.array(SubscriptionSchema).min(1).max(MAX_SUBSCRIPTIONS),
  delivery: z.discriminatedUnion("mode", [
    z.object({ mode: z.literal("pull") }).strict(),
    z.object({
      mode: z.literal("push"),
      url: HttpUrl,
      secret: Secret.optional(),
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
  alertSecret: Secret.optional().openapi({
    description: "Signs the alerts (Escrow-Signature); the push secret when unset",
  }),
}).strict();

/** Body of `PUT /v1/groups/{group}`. */
export const GroupBody = GroupFields.superRefine(storableGroup).openapi("GroupRequest", {
  description: `A consumer group. Its configuration as stored (tags, sql, URLs and secrets ` +
    `with the defaults) is at most ${MAX_GROUP_CONFIG_BYTES} bytes: a string costs one byte ` +
    "a character, two when it has any character above U+00FF.",
});

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

/**
 * Body of `POST /v1/groups/{group}/dead-letters/redrive`: the dead letters to
 * redrive by id, or `all: true`; never all by default, so an empty or
 * forgotten body redrives nothing.
 */
export const RedriveBody = z.object({
  messageIds: z.array(z.string().min(1).max(128)).max(1000).optional().openapi({
    description: "These dead letters (unknown ids are ignored)",
  }),
  all: z.literal(true).optional().openapi({ description: "Every dead letter of the group" }),
}).strict().superRefine((body, ctx) => {
  if ((body.messageIds === undefined) === (body.all === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: [body.all === undefined ? "messageIds" : "all"],
      message: "give either messageIds or all: true, not both and not neither",
    });
  }
}).openapi("RedriveRequest", {
  description: 'Which dead letters: `{ "messageIds": [...] }` or `{ "all": true }`',
});

/** States of a stored job that `GET /v1/jobs` lists. */
export const JobStateSchema = z.enum(["pending", "failed"]);

/** Query of `GET /v1/jobs`. */
export const JobQuery = z.object({
  state: JobStateSchema.optional().openapi({ description: "Which jobs (default pending)" }),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: PageCursor.optional(),
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
