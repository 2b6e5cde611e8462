/**
 * What every router of the API shares: an `OpenAPIHono` whose failed
 * validations become 400 problem responses, and the shared route pieces.
 *
 * @module
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
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

/** The problem responses a route may give. */
export function problems(...statuses: Array<400 | 404 | 409 | 413>) {
  const descriptions = {
    400: "Invalid request",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Body too large",
  } as const;
  return Object.fromEntries(statuses.map((status) => [status, {
    content: { "application/problem+json": { schema: ProblemSchema } },
    description: descriptions[status],
  }]));
}
