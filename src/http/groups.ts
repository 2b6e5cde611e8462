/**
 * `/v1/groups`: consumer groups and pull delivery (receive, ack, nack,
 * visibility), dead letters and redrive.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { ConflictError } from "../domain/errors.ts";
import { toWireMessage } from "../domain/wire.ts";
import { json, newRouter, problems, secured } from "./router.ts";
import {
  AckBody,
  DeadLetterSchema,
  FailedHandles,
  GroupBody,
  GroupDetailSchema,
  GroupSchema,
  NackBody,
  Name,
  PageCursor,
  ReceiveBody,
  ReceivedMessageSchema,
  RedriveBody,
  VisibilityBody,
} from "./schemas.ts";
import { admitLongPoll } from "./limits/mod.ts";
import { iso, presentGroup } from "./present.ts";

const GroupParam = z.object({ group: Name });
const jsonBody = <T extends z.ZodType>(schema: T) => ({
  content: { "application/json": { schema } },
  required: true,
});

const putGroup = createRoute({
  method: "put",
  path: "/v1/groups/{group}",
  operationId: "putGroup",
  ...secured,
  tags: ["groups"],
  summary: "Create or update a consumer group (its position is kept)",
  request: { params: GroupParam, body: jsonBody(GroupBody) },
  responses: {
    200: json(GroupSchema, "Updated"),
    201: json(GroupSchema, "Created"),
    ...problems(400, 404),
  },
});

const listGroups = createRoute({
  method: "get",
  path: "/v1/groups",
  operationId: "listGroups",
  ...secured,
  tags: ["groups"],
  summary: "List consumer groups",
  responses: {
    200: json(z.object({ groups: z.array(GroupSchema) }), "Every group"),
    ...problems(),
  },
});

const getGroup = createRoute({
  method: "get",
  path: "/v1/groups/{group}",
  operationId: "getGroup",
  ...secured,
  tags: ["groups"],
  summary: "Read a group with its delivery counts",
  request: { params: GroupParam },
  responses: { 200: json(GroupDetailSchema, "The group"), ...problems(400, 404) },
});

const deleteGroup = createRoute({
  method: "delete",
  path: "/v1/groups/{group}",
  operationId: "deleteGroup",
  ...secured,
  tags: ["groups"],
  summary: "Delete a group, its position, deliveries in progress and dead letters",
  request: { params: GroupParam },
  responses: { 204: { description: "Deleted" }, ...problems(400, 404) },
});

const receive = createRoute({
  method: "post",
  path: "/v1/groups/{group}/receive",
  operationId: "receiveMessages",
  ...secured,
  tags: ["delivery"],
  summary: "Receive ready messages (long-polls with waitSeconds)",
  request: { params: GroupParam, body: jsonBody(ReceiveBody) },
  responses: {
    200: json(z.object({ messages: z.array(ReceivedMessageSchema) }), "Messages, maybe none"),
    ...problems(400, 404),
  },
});

const ack = createRoute({
  method: "post",
  path: "/v1/groups/{group}/ack",
  operationId: "ackMessages",
  ...secured,
  tags: ["delivery"],
  summary: "Acknowledge messages by receipt handle",
  request: { params: GroupParam, body: jsonBody(AckBody) },
  responses: {
    200: json(z.object({ acked: z.number(), failed: FailedHandles }), "Settled"),
    ...problems(400, 404),
  },
});

const nack = createRoute({
  method: "post",
  path: "/v1/groups/{group}/nack",
  operationId: "nackMessages",
  ...secured,
  tags: ["delivery"],
  summary: "Fail attempts now; they are retried on the group's schedule or after delaySeconds",
  request: { params: GroupParam, body: jsonBody(NackBody) },
  responses: {
    200: json(z.object({ nacked: z.number(), failed: FailedHandles }), "Settled"),
    ...problems(400, 404),
  },
});

const visibility = createRoute({
  method: "post",
  path: "/v1/groups/{group}/visibility",
  operationId: "changeVisibility",
  ...secured,
  tags: ["delivery"],
  summary: "Change a message's visibility timeout; returns a new receipt handle",
  request: { params: GroupParam, body: jsonBody(VisibilityBody) },
  responses: {
    200: json(z.object({ receiptHandle: z.string(), visibleUntil: z.string() }), "Extended"),
    ...problems(400, 404, 409),
  },
});

const deadLetters = createRoute({
  method: "get",
  path: "/v1/groups/{group}/dead-letters",
  operationId: "listDeadLetters",
  ...secured,
  tags: ["dead letters"],
  summary: "List the group's dead letters",
  request: {
    params: GroupParam,
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).optional(),
      cursor: PageCursor.optional(),
    }),
  },
  responses: {
    200: json(
      z.object({ messages: z.array(DeadLetterSchema), cursor: z.string().optional() }),
      "A page of dead letters",
    ),
    ...problems(400, 404),
  },
});

const redrive = createRoute({
  method: "post",
  path: "/v1/groups/{group}/dead-letters/redrive",
  operationId: "redriveDeadLetters",
  ...secured,
  tags: ["dead letters"],
  summary: "Deliver dead letters again from attempt 1: those of messageIds, or all with all: true",
  request: { params: GroupParam, body: jsonBody(RedriveBody) },
  responses: { 200: json(z.object({ redriven: z.number() }), "Redriven"), ...problems(400, 404) },
});

/** The groups router. */
export const groupsRouter = newRouter()
  .openapi(putGroup, async (c) => {
    const { group, created } = await c.get("broker").groups.put(
      c.req.valid("param").group,
      c.req.valid("json"),
    );
    return c.json(presentGroup(group), created ? 201 : 200);
  })
  .openapi(listGroups, async (c) => {
    const groups = await c.get("broker").groups.list();
    return c.json({ groups: groups.map(presentGroup) }, 200);
  })
  .openapi(getGroup, async (c) => {
    const name = c.req.valid("param").group;
    const [group, stats] = await Promise.all([
      c.get("broker").groups.require(name),
      c.get("broker").groups.stats(name),
    ]);
    return c.json({ ...presentGroup(group), ...stats }, 200);
  })
  .openapi(deleteGroup, async (c) => {
    await c.get("broker").groups.delete(c.req.valid("param").group);
    return c.body(null, 204);
  })
  .openapi(receive, async (c) => {
    const body = c.req.valid("json");
    const { group } = c.req.valid("param");
    // Before any work: a long poll over the limits is refused at once and changes nothing.
    using _longPoll = admitLongPoll(c, body.waitSeconds ?? 0);
    const messages = await c.get("broker").deliveries.receive(group, {
      ...(body.max !== undefined ? { max: body.max } : {}),
      waitMs: (body.waitSeconds ?? 0) * 1000,
      ...(body.visibilityTimeoutSeconds !== undefined
        ? { visibilityTimeoutSeconds: body.visibilityTimeoutSeconds }
        : {}),
      signal: c.req.raw.signal,
    });
    // A consumer that goes away before the answer reaches it never holds these: give them
    // back at once rather than after their visibility timeout.
    const release = () =>
      c.get("broker").deliveries.release(group, messages.map((m) => m.receiptHandle))
        .catch((error) => console.error("cannot release an undelivered receive", error));
    if (messages.length > 0) {
      if (c.req.raw.signal.aborted) {
        await release();
        return c.json({ messages: [] }, 200);
      }
      (c.env as Partial<Deno.ServeHandlerInfo> | undefined)?.completed?.catch(release);
    }
    return c.json({ messages: messages.map((m) => toWireMessage(m, { withHandle: true })) }, 200);
  })
  .openapi(ack, async (c) => {
    const result = await c.get("broker").deliveries.ack(
      c.req.valid("param").group,
      c.req.valid("json").receiptHandles,
    );
    return c.json({ acked: result.settled, failed: result.failed }, 200);
  })
  .openapi(nack, async (c) => {
    const { receiptHandles, delaySeconds, reason } = c.req.valid("json");
    const result = await c.get("broker").deliveries.nack(
      c.req.valid("param").group,
      receiptHandles,
      delaySeconds !== undefined ? delaySeconds * 1000 : undefined,
      reason,
    );
    return c.json({ nacked: result.settled, failed: result.failed }, 200);
  })
  .openapi(visibility, async (c) => {
    const { receiptHandle, visibilityTimeoutSeconds } = c.req.valid("json");
    const result = await c.get("broker").deliveries.changeVisibility(
      c.req.valid("param").group,
      receiptHandle,
      visibilityTimeoutSeconds,
    );
    if ("failed" in result) {
      throw new ConflictError(`Cannot change visibility: ${result.failed}`, {
        reason: result.failed,
      });
    }
    return c.json(
      { receiptHandle: result.receiptHandle, visibleUntil: iso(result.visibleUntil) },
      200,
    );
  })
  .openapi(deadLetters, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const page = await c.get("broker").deliveries.deadLetters(c.req.valid("param").group, {
      ...(limit !== undefined ? { limit } : {}),
      ...(cursor !== undefined ? { cursor } : {}),
    });
    return c.json({
      messages: page.messages.map(({ seq: _seq, messageGroup: _mg, deadLetteredAt, ...rest }) => ({
        ...rest,
        deadLetteredAt: iso(deadLetteredAt),
      })),
      ...(page.cursor !== undefined ? { cursor: page.cursor } : {}),
    }, 200);
  })
  .openapi(redrive, async (c) => {
    const { messageIds, all } = c.req.valid("json");
    const redriven = await c.get("broker").deliveries.redrive(
      c.req.valid("param").group,
      all ? undefined : messageIds ?? [],
    );
    return c.json({ redriven }, 200);
  });
