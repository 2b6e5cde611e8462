/**
 * The HTTP API: one Hono app over a broker. Routers per resource, one error
 * handler mapping to problem details, a body limit, request ids, the OpenAPI
 * document, and the one place where authentication plugs in.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import type { Broker } from "../engine/broker.ts";
import { apiAuth, documentPermissions, TokenSet } from "./auth/mod.ts";
import { browserAuth } from "./browser_auth.ts";
import { createDashboard } from "./dashboard/mod.tsx";
import { docsRouter } from "./docs.ts";
import { groupsRouter } from "./groups.ts";
import { inspectionRouter } from "./inspection.ts";
import { jobsRouter } from "./jobs.ts";
import type { Overload } from "./limits/mod.ts";
import { messagesRouter } from "./messages.ts";
import { notFoundOrMethodNotAllowed } from "./method_not_allowed.ts";
import { metricsRouter } from "./metrics.ts";
import { onError, problemResponse } from "./problem.ts";
import { producerGroupsRouter } from "./producer_groups.ts";
import { streamRouter } from "./streaming/mod.ts";
import { type AppEnv, BEARER_SCHEME, completeOperations, json, newRouter } from "./router.ts";
import { topicsRouter } from "./topics.ts";
import { transactionsRouter } from "./transactions.ts";

/**
 * Largest request body: 6 MiB, a 4 MiB body as base64 in JSON (5,592,408
 * characters) with about 680 KiB of room for the other fields.
 */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

/** `GET /healthz`: the process answers (no authentication, no KV read). */
const healthz = createRoute({
  method: "get",
  path: "/healthz",
  operationId: "getHealth",
  tags: ["health"],
  summary: "The broker is up",
  responses: { 200: json(z.object({ status: z.literal("ok") }), "Up") },
});

/** Options of {@linkcode createApp}. */
export interface AppOptions {
  /**
   * Runs before every `/v1/*` route: the place authentication plugs in.
   * @default {undefined} (no authentication)
   */
  auth?: MiddlewareHandler<AppEnv>;
  /**
   * Runs before the pages a browser opens (`/inspect*`): authentication a
   * browser can give, e.g. `browserAuth` (query token or cookie).
   * @default {undefined} (no authentication)
   */
  browserAuth?: MiddlewareHandler<AppEnv>;
  /** The Stately inspector UI that `/inspect` opens. @default {"https://stately.ai/inspect"} */
  inspectorUrl?: string;
  /**
   * The tokens and their permissions (`ESCROW_TOKENS`, `ESCROW_TOKENS_FILE`,
   * `ESCROW_API_TOKEN`): checked on every route but `/healthz` and the
   * dashboard's static files, before the body limit and any body is read.
   * @default {new TokenSet()} (none: the broker is open)
   */
  tokens?: TokenSet;
  /**
   * Limits on request rates, requests in progress and long polls, per token
   * and in total, checked after `auth` on every `/v1/*` route.
   * @default {undefined} (no limits)
   */
  overload?: Overload;
}

/**
 * Builds the HTTP app over a broker.
 *
 * @example
 * ```ts
 * import { createApp } from "./app.ts";
 * import { Broker } from "../engine/broker.ts";
 * using kv = await Deno.openKv(":memory:");
 * const app = createApp(await Broker.open(kv));
 * const res = await app.request("/healthz");
 * console.log(res.status); // 200
 * ```
 */
export function createApp(broker: Broker, options: AppOptions = {}) {
  const app = newRouter();
  app.onError(onError);
  app.notFound(notFoundOrMethodNotAllowed(() => app.routes));
  app.use(requestId());
  app.use(async (c, next) => {
    c.set("broker", broker);
    await next();
  });
  // Auth before the body limit and the body readers: a request without the right token is
  // refused before anything of its body is looked at.
  const tokens = options.tokens ?? new TokenSet();
  const pageAuth = browserAuth(tokens);
  app.use("/v1/*", apiAuth(tokens));
  if (options.auth) app.use("/v1/*", options.auth);
  app.use("/metrics", apiAuth(tokens));
  if (options.auth) app.use("/metrics", options.auth);
  app.use("/openapi.json", pageAuth);
  app.use("/docs/*", pageAuth); // also matches /docs
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: MAX_REQUEST_BYTES,
      onError: (c) =>
        problemResponse({
          type: "https://escrow.dev/problems/payloadtoolarge",
          title: "Payload too large",
          status: 413,
          detail: `Cannot accept request: body over ${MAX_REQUEST_BYTES} bytes`,
        }, c),
    }),
  );
  if (options.overload) app.use("/v1/*", options.overload.middleware());
  app.openapi(healthz, (c) => c.json({ status: "ok" as const }, 200));
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", BEARER_SCHEME);
  app.route("/", topicsRouter);
  app.route("/", transactionsRouter);
  app.route("/", producerGroupsRouter);
  app.route("/", messagesRouter);
  app.route("/", groupsRouter);
  app.route("/", streamRouter());
  app.route("/", jobsRouter);
  app.route("/", metricsRouter());
  app.route("/", docsRouter());
  app.route(
    "/",
    inspectionRouter({
      inspectorUrl: options.inspectorUrl,
      auth: options.browserAuth ?? pageAuth,
    }),
  );
  app.route("/", createDashboard({ auth: options.browserAuth ?? options.auth ?? pageAuth }));
  completeOperations(app);
  documentPermissions(app);
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Escrow",
      version: "0.1.0",
      description: "Transactional message broker on Deno KV",
    },
  });
  return app;
}
