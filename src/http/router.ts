/**
 * What every router of the API shares: an `OpenAPIHono` whose failed
 * validations become 400 problem responses, and the shared route pieces.
 *
 * @module
 */
import { OpenAPIHono, type OpenAPIHono as Hono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { Broker } from "../engine/broker.ts";
import type { Principal } from "./auth/token_set.ts";
import { readJsonBody } from "./json_body.ts";
import { validationProblem } from "./problem.ts";
import { ProblemSchema } from "./schemas.ts";

/** Variables routes read from the context. */
export interface AppEnv {
  Variables: {
    broker: Broker;
    requestId: string;
    /**
     * Who sent the request, set by the auth middleware (`auth/middleware.ts`)
     * on every route it guards; the anonymous admin when the broker has no tokens.
     */
    principal: Principal;
  };
}

/** A route definition as `openapi()` takes it, reduced to what the body reader looks at. */
interface RouteWithBody {
  request?: { body?: { content?: Record<string, unknown> } };
  middleware?: MiddlewareHandler | MiddlewareHandler[];
}

/**
 * The route with {@linkcode readJsonBody} after its own middleware when it
 * declares a JSON body: the body is then required and read strictly, after
 * whatever the route runs first (authorisation), before it is validated.
 */
function withJsonBodyReader<R extends RouteWithBody>(route: R): R {
  const content = route.request?.body?.content;
  if (content === undefined || !Object.keys(content).some((type) => type.includes("json"))) {
    return route;
  }
  const own = route.middleware === undefined
    ? []
    : Array.isArray(route.middleware)
    ? route.middleware
    : [route.middleware];
  return { ...route, middleware: [...own, readJsonBody] };
}

/**
 * A router whose validation failures are problem responses and whose JSON
 * body routes all read their body with {@linkcode readJsonBody}: required,
 * `application/json`, strictly parsed.
 *
 * @example
 * ```ts
 * import { newRouter } from "./router.ts";
 * const router = newRouter();
 * ```
 */
export function newRouter(): OpenAPIHono<AppEnv> {
  const router = new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) =>
      result.success ? undefined : validationProblem(result.error, result.target, c),
  });
  // `openapi` is an arrow-function field, bound to the router: wrapping it keeps its `this`.
  const register = router.openapi;
  router.openapi =
    ((route: RouteWithBody, handler: never, hook: never) =>
      register(withJsonBodyReader(route) as never, handler, hook)) as typeof register;
  return router;
}

/** A JSON response entry for a route's `responses`. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

/**
 * What every `/v1` route adds to its definition: it needs a bearer token
 * with the route's permission (when the broker has tokens), through the
 * `bearer` scheme {@linkcode BEARER_SCHEME} describes.
 *
 * @example
 * ```ts
 * import { secured } from "./router.ts";
 * const route = { method: "get", path: "/v1/topics", ...secured };
 * ```
 */
export const secured = { security: [{ bearer: [] }] };

/** The `bearer` security scheme of the OpenAPI document. */
export const BEARER_SCHEME = {
  type: "http",
  scheme: "bearer",
  description: "`Authorization: Bearer <token>`: a token of `ESCROW_TOKENS` or " +
    "`ESCROW_TOKENS_FILE`, or `ESCROW_API_TOKEN` (admin); required only when the broker has " +
    "tokens. Each operation's `x-escrow-permission` names the permission its token needs " +
    "(`admin` grants all): 401 without a valid token, 403 with one that lacks it.",
} as const;

/**
 * The problem responses a route may give; every `/v1` route may also answer
 * 401 (no or a wrong bearer token when the broker requires one).
 */
export function problems(...statuses: Array<400 | 404 | 409 | 413 | 415>) {
  const descriptions = {
    401: "Missing, malformed or unknown bearer token (when the broker has tokens)",
    400: "Invalid request",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Body too large",
    415: "The body is not sent as application/json",
  } as const;
  return Object.fromEntries([401 as const, ...statuses].map((status) => [status, {
    content: { "application/problem+json": { schema: ProblemSchema } },
    description: descriptions[status],
  }]));
}

/**
 * Fills in, on every route registered so far that lacks them, what the
 * document promises for all: an `operationId` (made from the method and the
 * path's fixed segments), on routes with a JSON body the 400 and 415 answers
 * of {@linkcode readJsonBody}, and on `/v1` routes the bearer security and
 * the 401 answer. Routes that state their own keep them.
 *
 * @example
 * ```ts
 * import { completeOperations, newRouter } from "./router.ts";
 * const app = newRouter();
 * completeOperations(app);
 * ```
 */
export function completeOperations(app: Hono<AppEnv>): void {
  const unauthorized = problems()[401]!;
  const bodyProblems = problems(400, 415);
  for (const definition of app.openAPIRegistry.definitions) {
    if (definition.type !== "route") continue;
    const route = definition.route as {
      method: string;
      path: string;
      operationId?: string;
      security?: unknown;
      request?: RouteWithBody["request"];
      responses: Record<string, unknown>;
    };
    if (withJsonBodyReader(route) !== route) {
      // readJsonBody answers these on every route with a JSON body.
      route.responses["400"] ??= bodyProblems[400];
      route.responses["415"] ??= bodyProblems[415];
    }
    if (route.operationId === undefined) {
      const words = route.path.split("/").filter((part) =>
        part && part !== "v1" && !part.includes("{")
      );
      route.operationId = route.method +
        words.map((word) =>
          word.split("-").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("")
        ).join("");
    }
    if (!route.path.startsWith("/v1/")) continue;
    route.security ??= secured.security;
    route.responses["401"] ??= unauthorized;
    route.responses["403"] ??= {
      content: { "application/problem+json": { schema: ProblemSchema } },
      description: "The token lacks the permission `x-escrow-permission` names",
    };
    // The overload limits (limits/overload.ts) answer these on every /v1 route.
    route.responses["429"] ??= limited(
      "Over a limit of the token: its rate, requests in progress or long polls",
    );
    route.responses["503"] ??= limited("As many requests in progress as the broker takes");
  }
}

/** A 429 or 503 answer of the overload limits: a problem, and `Retry-After`. */
function limited(description: string) {
  return {
    content: { "application/problem+json": { schema: ProblemSchema } },
    headers: {
      "Retry-After": {
        description: "Seconds to wait before trying again",
        schema: { type: "integer", minimum: 1 },
      },
    },
    description,
  };
}
