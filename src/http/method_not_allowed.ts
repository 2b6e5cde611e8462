/**
 * What the app answers when no route takes a request: a 405 with `Allow`
 * when the path is one the app serves under other methods
 * (`DELETE /v1/topics/T/messages`), a 404 otherwise. Both are problem
 * details. The methods come from the app's own route table, so they stay
 * true as routes are added.
 *
 * @module
 */
import type { Context, NotFoundHandler } from "hono";
import { problemResponse } from "./problem.ts";

/** A registered route as Hono lists it in `app.routes`. */
export interface RouteEntry {
  readonly method: string;
  readonly path: string;
}

/** Compiled patterns by route path; bounded by the app's routes. */
const patterns = new Map<string, RegExp>();

/** A route path (`/v1/topics/:topic`, `:id{[0-9]+}`, `*`) as an anchored pattern. */
function pathPattern(path: string): RegExp {
  const known = patterns.get(path);
  if (known) return known;
  const segments = path.split("/").map((segment) => {
    if (segment === "*") return ".*";
    const param = /^:[^{]+(?:\{(.+)\})?$/.exec(segment);
    if (param) return param[1] !== undefined ? `(?:${param[1]})` : "[^/]+";
    return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  });
  const pattern = new RegExp(`^${segments.join("/")}$`);
  patterns.set(path, pattern);
  return pattern;
}

/**
 * The methods under which `routes` serve `path` (HEAD wherever GET is),
 * sorted; empty when no route has that path. Middleware (`ALL`) is not a
 * route.
 *
 * @example
 * ```ts
 * import { allowedMethods } from "./method_not_allowed.ts";
 * const routes = [{ method: "GET", path: "/v1/topics/:topic" }, { method: "PUT", path: "/v1/topics/:topic" }];
 * allowedMethods(routes, "/v1/topics/Trade"); // ["GET", "HEAD", "PUT"]
 * allowedMethods(routes, "/v1/nothing"); // []
 * ```
 */
export function allowedMethods(routes: readonly RouteEntry[], path: string): string[] {
  const methods = new Set<string>();
  for (const route of routes) {
    if (route.method === "ALL" || methods.has(route.method)) continue;
    if (pathPattern(route.path).test(path)) methods.add(route.method);
  }
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}

/**
 * The app's not-found handler: a 405 problem with `Allow` for a known path
 * and the wrong method, a 404 problem otherwise (and when a route that does
 * take the method finds nothing).
 *
 * @param routes The app's route table, read when a request needs it.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { notFoundOrMethodNotAllowed } from "./method_not_allowed.ts";
 * const app = new Hono();
 * app.notFound(notFoundOrMethodNotAllowed(() => app.routes));
 * ```
 */
export function notFoundOrMethodNotAllowed(routes: () => readonly RouteEntry[]): NotFoundHandler {
  return (c: Context) => {
    const { method, path } = c.req;
    const allowed = allowedMethods(routes(), path);
    if (allowed.length > 0 && !allowed.includes(method)) {
      const response = problemResponse({
        type: "https://escrow.dev/problems/methodnotallowed",
        title: "Method not allowed",
        status: 405,
        detail: `Cannot ${method} ${path}: allowed methods are ${allowed.join(", ")}`,
        allow: allowed,
      }, c);
      response.headers.set("allow", allowed.join(", "));
      return response;
    }
    return problemResponse({
      type: "https://escrow.dev/problems/notfound",
      title: "Not found",
      status: 404,
      detail: `Cannot ${method} ${path}: no such route`,
    }, c);
  };
}
