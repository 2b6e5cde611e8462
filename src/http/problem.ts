/**
 * Errors at the HTTP edge, mapped once to RFC 9457 problem details
 * (`application/problem+json`).
 *
 * @module
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { BrokerError, OverloadedError, TooManyRequestsError } from "../domain/errors.ts";

/** A problem details body. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly [extension: string]: unknown;
}

/**
 * Builds a problem-details response, carrying the request id when given the
 * request's context.
 *
 * @example
 * ```ts
 * import { problemResponse } from "./problem.ts";
 * const res = problemResponse({ type: "about:blank", title: "Not found", status: 404, detail: "x" });
 * console.log(res.headers.get("content-type")); // application/problem+json
 * ```
 */
export function problemResponse(problem: Problem, c?: Context): Response {
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  const requestId = c?.get("requestId" as never) as string | undefined;
  if (requestId) headers["x-request-id"] = requestId;
  return new Response(JSON.stringify(problem), { status: problem.status, headers });
}

const typeOf = (name: string) => `https://escrow.dev/problems/${name}`;

/**
 * The problem a broker error is answered with: its status, title, message
 * and extension fields (the offending field, a limit).
 *
 * @example
 * ```ts
 * import { brokerProblem } from "./problem.ts";
 * import { NotFoundError } from "../domain/errors.ts";
 * console.log(brokerProblem(new NotFoundError("Cannot find topic X")).status); // 404
 * ```
 */
export function brokerProblem(error: BrokerError): Problem {
  return {
    type: typeOf(error.name.replace(/Error$/, "").toLowerCase()),
    title: error.title,
    status: error.status,
    detail: error.message,
    ...error.extensions,
  };
}

/**
 * The app's one error handler: broker errors keep their status and fields,
 * Hono's HTTP exceptions (bad JSON, body too large) keep theirs, anything
 * else is a 500 whose detail hides internals.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { onError } from "./problem.ts";
 * new Hono().onError(onError);
 * ```
 */
export function onError(error: Error, c: Context): Response {
  if (error instanceof BrokerError) {
    const response = problemResponse(brokerProblem(error), c);
    if (error instanceof TooManyRequestsError || error instanceof OverloadedError) {
      response.headers.set("retry-after", String(error.retryAfterSeconds));
    }
    return response;
  }
  if (error instanceof HTTPException) {
    const status = error.status;
    const [name, title] = status === 413
      ? ["payloadtoolarge", "Payload too large"]
      : status === 401
      ? ["unauthorized", "Unauthorized"]
      : status === 415
      ? ["unsupportedmediatype", "Unsupported media type"]
      : ["http", "Invalid request"];
    const response = problemResponse({
      type: typeOf(name),
      title,
      status,
      detail: error.message || `HTTP ${status}`,
    }, c);
    const challenge = error.res?.headers.get("www-authenticate");
    if (challenge) response.headers.set("www-authenticate", challenge);
    return response;
  }
  console.error(`${c.req.method} ${c.req.path} failed`, error);
  return problemResponse({
    type: typeOf("internal"),
    title: "Internal error",
    status: 500,
    detail: "The broker failed to handle the request; it is logged.",
  }, c);
}

/**
 * Turns a failed zod validation into a 400 problem naming each issue by its
 * path (`json.subscriptions.0.sql`); a custom check's `params` stay with its
 * issue and, for the first such issue, on the problem itself.
 *
 * @example
 * ```ts
 * import { validationProblem } from "./problem.ts";
 * import { z } from "zod";
 * const result = z.string().safeParse(1);
 * if (!result.success) validationProblem(result.error, "json");
 * ```
 */
export function validationProblem(error: ZodError, target: string, c?: Context): Response {
  return problemResponse(validationProblemBody(error, target), c);
}

/**
 * The body of {@linkcode validationProblem}: a 400 problem naming each
 * issue by its path under `target` (a batch names `json.messages.3`).
 *
 * @example
 * ```ts
 * import { validationProblemBody } from "./problem.ts";
 * import { z } from "zod";
 * const result = z.string().safeParse(1);
 * if (!result.success) console.log(validationProblemBody(result.error, "json").status); // 400
 * ```
 */
export function validationProblemBody(error: ZodError, target: string): Problem {
  const issues = error.issues.map((issue) => ({
    path: [target, ...issue.path.map(String)].join("."),
    message: issue.message,
    ...(issue.code === "custom" ? issue.params : {}),
  }));
  // A custom check's details (an SQL error's topic and position) also stand at the top.
  const details = error.issues.find((issue) => issue.code === "custom" && issue.params);
  return {
    ...(details?.code === "custom" ? details.params : {}),
    type: typeOf("validation"),
    title: "Invalid request",
    status: 400 satisfies ContentfulStatusCode,
    detail: issues.map((i) => `${i.path}: ${i.message}`).join("; "),
    issues,
  };
}
