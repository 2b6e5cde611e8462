/**
 * `/v1/messages/{messageId}`: one message with its body, its transaction and
 * its event history.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { json, newRouter, problems, secured } from "./router.ts";
import { MessageSchema } from "./schemas.ts";
import { presentMessage } from "./present.ts";

const getMessage = createRoute({
  method: "get",
  path: "/v1/messages/{messageId}",
  operationId: "getMessage",
  ...secured,
  tags: ["messages"],
  summary: "Read a message with its transaction and history",
  request: { params: z.object({ messageId: z.string().min(1).max(128) }) },
  responses: { 200: json(MessageSchema, "The message"), ...problems(404) },
});

/** The messages router. */
export const messagesRouter = newRouter().openapi(getMessage, async (c) => {
  const view = await c.get("broker").messages.get(c.req.valid("param").messageId);
  return c.json(presentMessage(view), 200);
});
