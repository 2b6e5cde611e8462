/**
 * What every router of the API shares: an `OpenAPIHono` whose failed
 * validations become 400 problem responses, and the shared route pieces.
 *
 * @module
 */
import { OpenAPIHono, type OpenAPIHono as Hono, z } from "@hono/zod-openapi";
import type { Broker } from "../engine/broker.ts";
import { validationProblem } from "./problem.ts";
import { ProblemSchema } from "./schemas.ts";

/** Variables routes read from the context. */
export interface AppEnv {
  Variables: { broker: Broker; requestId: string };
}

/**
 * A router whose validation failures are problem responses.
 *
 * @example
 * ```ts
 * import { newRouter } from "./router.ts";
 * const router = newRouter();
 * ```
 */
export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) =>
      result.success ? undefined : validationProblem(result.error, result.target, c),
  });
}

/** A JSON response entry for a route's `responses`. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

/**
 * What every `/v1` route adds to its definition: it needs the bearer token
 * (when the broker has `ESCROW_API_TOKEN`), through the `bearer` scheme
 * {@linkcode BEARER_SCHEME} describes.
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
  description: "`Authorization: Bearer <ESCROW_API_TOKEN>`; required only when the broker sets it",
} as const;

/**
 * The problem responses a route may give; every `/v1` route may also answer
 * 401 (no or a wrong bearer token when the broker requires one).
 */
export function problems(...statuses: Array<400 | 404 | 409 | 413>) {
  const descriptions = {
    401: "Missing or wrong bearer token (when the broker requires one)",
    400: "Invalid request",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Body too large",
  } as const;
  return Object.fromEntries([401 as const, ...statuses].map((status) => [status, {
    content: { "application/problem+json": { schema: ProblemSchema } },
    description: descriptions[status],
  }]));
}

/**
 * Fills in, on every route registered so far that lacks them, what the
 * document promises for all: an `operationId` (made from the method and the
 * path's fixed segments) and, on `/v1` routes, the bearer security and the
 * 401 answer. Routes that state their own keep them.
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
  for (const definition of app.openAPIRegistry.definitions) {
    if (definition.type !== "route") continue;
    const route = definition.route as {
      method: string;
      path: string;
      operationId?: string;
      security?: unknown;
      responses: Record<string, unknown>;
    };
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
  }
}
