/**
 * Transactions: prepare a half message, commit or roll it back, read one
 * with its history, list them.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { json, newRouter, problems, secured } from "./router.ts";
import {
  Name,
  PrepareBody,
  TransactionId,
  TransactionQuery,
  TransactionResultSchema,
  TransactionSchema,
} from "./schemas.ts";
import { presentTransaction, presentTransactionResult } from "./present.ts";

const IdParam = z.object({ id: TransactionId });

const prepare = createRoute({
  method: "post",
  path: "/v1/topics/{topic}/transactions",
  operationId: "prepareTransaction",
  ...secured,
  tags: ["transactions"],
  summary: "Store a half message and start its transaction",
  request: {
    params: z.object({ topic: Name }),
    body: { content: { "application/json": { schema: PrepareBody } }, required: true },
  },
  responses: {
    200: json(TransactionResultSchema, "The same transaction id and content again"),
    201: json(TransactionResultSchema, "Half message stored, invisible to consumers"),
    ...problems(400, 404, 409, 413),
  },
});

const decision = (action: "commit" | "rollback") =>
  createRoute({
    method: "post",
    path: `/v1/transactions/{id}/${action}`,
    operationId: `${action}Transaction`,
    ...secured,
    tags: ["transactions"],
    summary: action === "commit"
      ? "Commit: the message becomes visible to consumer groups"
      : "Roll back: the message is never delivered",
    request: { params: IdParam },
    responses: {
      200: json(TransactionResultSchema, "Decided (repeating the same decision changes nothing)"),
      ...problems(400, 404, 409),
    },
  });

const getTransaction = createRoute({
  method: "get",
  path: "/v1/transactions/{id}",
  operationId: "getTransaction",
  ...secured,
  tags: ["transactions"],
  summary: "Read a transaction and its event history",
  request: { params: IdParam },
  responses: { 200: json(TransactionSchema, "The transaction"), ...problems(400, 404) },
});

const listTransactions = createRoute({
  method: "get",
  path: "/v1/transactions",
  operationId: "listTransactions",
  ...secured,
  tags: ["transactions"],
  summary: "List transactions by state and producer group",
  request: { query: TransactionQuery },
  responses: {
    200: json(z.object({ transactions: z.array(TransactionSchema) }), "Matching transactions"),
    ...problems(400),
  },
});

/** The transactions router. */
export const transactionsRouter = newRouter()
  .openapi(prepare, async (c) => {
    const { topic } = c.req.valid("param");
    const started = performance.now();
    const { view, created } = await c.get("broker").transactions.prepare(
      topic,
      c.req.valid("json"),
    );
    c.get("broker").metrics.publishDuration("prepare", performance.now() - started);
    return c.json(presentTransactionResult(view), created ? 201 : 200);
  })
  .openapi(decision("commit"), async (c) => {
    const view = await c.get("broker").transactions.decide(c.req.valid("param").id, "commit");
    return c.json(presentTransactionResult(view), 200);
  })
  .openapi(decision("rollback"), async (c) => {
    const view = await c.get("broker").transactions.decide(c.req.valid("param").id, "rollback");
    return c.json(presentTransactionResult(view), 200);
  })
  .openapi(getTransaction, async (c) => {
    const view = await c.get("broker").transactions.get(c.req.valid("param").id);
    return c.json(presentTransaction(view), 200);
  })
  .openapi(listTransactions, async (c) => {
    const views = await c.get("broker").transactions.list(c.req.valid("query"));
    return c.json({ transactions: views.map((view) => presentTransaction(view, false)) }, 200);
  });
