/**
 * The Stately inspector's routes: a transaction's or a delivery's machine
 * replayed from its stored events (`/v1/.../inspection`), both machine
 * definitions (`/v1/machines`), the live stream of every machine or of one
 * (`/inspect/ws`, a WebSocket on the broker's own port) and the page that
 * feeds that stream to the inspector UI (`/inspect`).
 *
 * `/v1/*` is protected by the app's API auth; `/inspect*` by the browser
 * auth given here (a browser cannot send a bearer header on a WebSocket).
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { upgradeWebSocket } from "hono/deno";
import { DEFAULT_INSPECTOR_URL } from "../config.ts";
import { ValidationError } from "../domain/errors.ts";
import { NAME_PATTERN } from "../domain/names.ts";
import type { InspectionMessage, Watch, WatchTarget } from "../engine/inspection/mod.ts";
import { INSPECT_SCRIPT, inspectPage } from "./inspect_page.ts";
import { type AppEnv, json, newRouter, problems, secured } from "./router.ts";
import { Name, TransactionId } from "./schemas.ts";

/** Bytes a watcher's socket may have unsent before the watch is ended as too slow. */
const MAX_UNSENT_BYTES = 16 * 1024 * 1024;

/** WebSocket close code "try again later": the watcher fell too far behind. */
const TRY_AGAIN_LATER = 1013;

/** Options of {@linkcode inspectionRouter}. */
export interface InspectionRouterOptions {
  /** The inspector UI `/inspect` opens. @default {DEFAULT_INSPECTOR_URL} */
  readonly inspectorUrl?: string;
  /** Runs before every `/inspect*` route. @default {undefined} (no authentication) */
  readonly auth?: MiddlewareHandler<AppEnv>;
}

const InspectionMessagesSchema = z.array(
  z.object({
    type: z.enum(["@xstate.actor", "@xstate.event", "@xstate.snapshot"]),
    sessionId: z.string(),
    rootId: z.string(),
    createdAt: z.string().openapi({ description: "The stored event's time, epoch ms" }),
    _version: z.string(),
    id: z.null(),
  }).passthrough(),
).openapi("InspectionMessages", {
  description: "Messages as @statelyai/inspect sends them: one @xstate.actor, then an " +
    "@xstate.event and an @xstate.snapshot per event (the init event first)",
});

const MachineDefinitionSchema = z.object({
  definition: z.record(z.string(), z.unknown()).openapi({
    description: "The machine's config as the Stately inspector receives it",
  }),
  json: z.record(z.string(), z.unknown()).openapi({ description: "XState's machine.toJSON()" }),
});

const transactionInspection = createRoute({
  method: "get",
  path: "/v1/transactions/{id}/inspection",
  operationId: "getTransactionInspection",
  ...secured,
  tags: ["inspection"],
  summary: "A transaction's machine replayed from its events, as Stately inspector messages",
  request: { params: z.object({ id: TransactionId }) },
  responses: {
    200: json(InspectionMessagesSchema, "The inspection messages"),
    ...problems(400, 404),
  },
});

const deliveryInspection = createRoute({
  method: "get",
  path: "/v1/messages/{id}/inspection",
  operationId: "getDeliveryInspection",
  ...secured,
  tags: ["inspection"],
  summary:
    "A message's delivery to a group replayed from its events, as Stately inspector messages",
  request: {
    params: z.object({ id: z.string().min(1).max(128) }),
    query: z.object({ group: Name }),
  },
  responses: {
    200: json(InspectionMessagesSchema, "The inspection messages"),
    ...problems(400, 404),
  },
});

const machines = createRoute({
  method: "get",
  path: "/v1/machines",
  operationId: "getMachines",
  ...secured,
  tags: ["inspection"],
  summary: "Both machine definitions, to open them in Stately's editor",
  responses: {
    ...problems(),
    200: json(
      z.object({ transaction: MachineDefinitionSchema, delivery: MachineDefinitionSchema }),
      "The transaction and delivery machines",
    ),
  },
});

const TRANSACTION_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** The machines `/inspect` and `/inspect/ws` follow, from their query. */
function targetOf(c: Context<AppEnv>): WatchTarget {
  const { transaction, message, group } = c.req.query();
  if (transaction !== undefined) {
    if (message !== undefined || group !== undefined) {
      throw new ValidationError("Cannot watch: give either transaction or message and group", {
        issues: [{
          path: "query.transaction",
          message: "give either transaction or message and group",
        }],
      });
    }
    if (!TRANSACTION_ID.test(transaction)) {
      throw new ValidationError(`Cannot watch transaction: current value is ${transaction}`, {
        issues: [{ path: "query.transaction", message: `must match ${TRANSACTION_ID.source}` }],
      });
    }
    return { kind: "transaction", transactionId: transaction };
  }
  if (message !== undefined || group !== undefined) {
    if (message === undefined || message.length === 0 || message.length > 128) {
      throw new ValidationError("Cannot watch a delivery: message must be a message id", {
        issues: [{ path: "query.message", message: "must be a message id (1 to 128 characters)" }],
      });
    }
    if (group === undefined || !NAME_PATTERN.test(group)) {
      throw new ValidationError(
        `Cannot watch a delivery: group must match ${NAME_PATTERN.source}`,
        {
          issues: [{ path: "query.group", message: `must match ${NAME_PATTERN.source}` }],
        },
      );
    }
    return { kind: "delivery", messageId: message, group };
  }
  return { kind: "all" };
}

function describe(target: WatchTarget): { watching: string; query: string } {
  switch (target.kind) {
    case "all":
      return { watching: "every machine, live", query: "" };
    case "transaction":
      return {
        watching: `transaction ${target.transactionId}`,
        query: `?${new URLSearchParams({ transaction: target.transactionId })}`,
      };
    case "delivery":
      return {
        watching: `delivery of ${target.messageId} to ${target.group}`,
        query: `?${new URLSearchParams({ message: target.messageId, group: target.group })}`,
      };
    default: {
      const never: never = target;
      throw new TypeError(`Cannot describe ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The inspector's router.
 *
 * @example
 * ```ts
 * import { inspectionRouter } from "./inspection.ts";
 * const router = inspectionRouter({ inspectorUrl: "https://stately.ai/inspect" });
 * ```
 */
export function inspectionRouter(options: InspectionRouterOptions = {}) {
  const inspectorUrl = options.inspectorUrl ?? DEFAULT_INSPECTOR_URL;
  const router = newRouter();
  if (options.auth) {
    router.use("/inspect", options.auth);
    router.use("/inspect/*", options.auth);
  }
  router.get("/inspect", (c) => {
    const { watching, query } = describe(targetOf(c));
    const frame = new URL(inspectorUrl, c.req.url).origin;
    c.header(
      "Content-Security-Policy",
      `default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; frame-src ${frame}`,
    );
    return c.html(inspectPage({ inspectorUrl, socketPath: `/inspect/ws${query}`, watching }));
  });
  router.get("/inspect/client.js", (c) => {
    c.header("content-type", "text/javascript; charset=utf-8");
    c.header("cache-control", "no-cache");
    return c.body(INSPECT_SCRIPT);
  });
  router.get(
    "/inspect/ws",
    upgradeWebSocket(async (c: Context<AppEnv>) => {
      const inspection = c.get("broker").inspection;
      const target = targetOf(c);
      // Refused before the handshake: a machine that does not exist is a 404.
      await inspection.check(target);
      let watch: Watch | undefined;
      let closed = false;
      const stop = () => {
        closed = true;
        watch?.close();
      };
      return {
        onOpen: (_event, ws) => {
          const socket = ws.raw as WebSocket;
          const sink = {
            send: (message: InspectionMessage) => {
              if (socket.readyState !== WebSocket.OPEN) return;
              if (socket.bufferedAmount > MAX_UNSENT_BYTES) {
                socket.close(TRY_AGAIN_LATER, "Cannot keep up: too much unsent");
                return;
              }
              socket.send(JSON.stringify(message));
            },
            end: (reason: string) => socket.close(TRY_AGAIN_LATER, reason),
          };
          inspection.watch(target, sink).then(
            (started) => {
              if (closed) started.close();
              else watch = started;
            },
            (error) => {
              console.error("inspection watch failed", error);
              if (socket.readyState === WebSocket.OPEN) socket.close(1011, "Cannot replay");
            },
          );
        },
        onClose: stop,
        onError: stop,
      };
    }),
    (c) =>
      c.json(
        {
          type: "https://escrow.dev/problems/upgraderequired",
          title: "Upgrade required",
          status: 426,
          detail: "Cannot GET /inspect/ws: it is a WebSocket (send Upgrade: websocket)",
        },
        426,
        { "content-type": "application/problem+json" },
      ),
  );
  return router
    .openapi(transactionInspection, async (c) => {
      const messages = await c.get("broker").inspection.transaction(c.req.valid("param").id);
      return c.json(messages as never, 200);
    })
    .openapi(deliveryInspection, async (c) => {
      const messages = await c.get("broker").inspection.delivery(
        c.req.valid("param").id,
        c.req.valid("query").group,
      );
      return c.json(messages as never, 200);
    })
    .openapi(machines, (c) => {
      const both = c.get("broker").inspection.machines();
      return c.json(both as never, 200);
    });
}
