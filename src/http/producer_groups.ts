/**
 * `/v1/producer-groups`: where check-backs go for transactions of a group
 * that carry no `checkUrl` of their own, and the secret that signs them.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { json, newRouter, problems, secured } from "./router.ts";
import { Name, ProducerGroupBody, ProducerGroupSchema } from "./schemas.ts";
import { presentProducerGroup } from "./present.ts";

const putGroup = createRoute({
  method: "put",
  path: "/v1/producer-groups/{group}",
  operationId: "putProducerGroup",
  ...secured,
  tags: ["producer groups"],
  summary: "Set a producer group's check-back URL and signing secret",
  description: "Replaces the group. `checkUrl` must pass the outbound policy (a refusal is a " +
    "400 naming the rule); `secret` signs every check-back of the group's transactions " +
    "(`Escrow-Timestamp`, `Escrow-Signature`) and is never shown.",
  request: {
    params: z.object({ group: Name }),
    body: { content: { "application/json": { schema: ProducerGroupBody } }, required: true },
  },
  responses: {
    200: json(ProducerGroupSchema, "Updated"),
    201: json(ProducerGroupSchema, "Created"),
    ...problems(400),
  },
});

/** The producer groups router. */
export const producerGroupsRouter = newRouter().openapi(putGroup, async (c) => {
  const { group } = c.req.valid("param");
  const result = await c.get("broker").topics.setProducerGroup(group, c.req.valid("json"));
  return c.json(presentProducerGroup(result.group), result.created ? 201 : 200);
});
