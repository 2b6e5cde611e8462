/**
 * The permission check in front of the API: who sent the request (its
 * bearer token), which route it reached, what that route needs (see
 * `route_permissions.ts`) and, when the token lacks it, a 401 or 403
 * problem naming the permission. It runs before the body limit and before
 * any handler reads the body; it sets the context's `principal` for what
 * runs after it (rate limits, the dashboard's redrive).
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { decodeBase64Url } from "@std/encoding/base64url";
import { problemResponse } from "../problem.ts";
import type { AppEnv } from "../router.ts";
import { ruleOf } from "./route_permissions.ts";
import { ANONYMOUS, type Principal, TOKEN_PATTERN, type TokenSet } from "./token_set.ts";

/** Why a request has no principal. */
export type Unidentified = "missing" | "malformed" | "unknown";

/**
 * The token of an `Authorization` header: `"missing"` without one,
 * `"malformed"` when it is not `Bearer <token>`.
 *
 * @example
 * ```ts
 * import { bearerToken } from "./middleware.ts";
 * console.log(bearerToken("Bearer abc"), bearerToken("Basic abc"), bearerToken(undefined));
 * // "abc" "malformed" "missing"
 * ```
 */
export function bearerToken(header: string | undefined): string | "missing" | "malformed" {
  if (header === undefined) return "missing";
  const token = /^Bearer +(\S+) *$/i.exec(header)?.[1];
  return token !== undefined && TOKEN_PATTERN.test(token) ? token : "malformed";
}

/**
 * The bearer token a WebSocket handshake carries in its subprotocols, as
 * `escrow.bearer.<the token as base64url>` (a browser's WebSocket cannot
 * send an `Authorization` header, and a subprotocol is a header token, so
 * `/`, `+` and `=` are encoded), written as an `Authorization` value;
 * `undefined` when none is offered, `"malformed"` when it does not decode.
 *
 * @example
 * ```ts
 * import { protocolBearer } from "./middleware.ts";
 * console.log(protocolBearer("escrow.v1, escrow.bearer.czNjcmV0")); // "Bearer s3cret"
 * console.log(protocolBearer(undefined)); // undefined
 * ```
 */
export function protocolBearer(header: string | undefined): string | undefined {
  const offered = header?.split(",").map((p) => p.trim()).find((p) => p.startsWith(BEARER_PREFIX));
  if (offered === undefined) return undefined;
  try {
    const bytes = decodeBase64Url(offered.slice(BEARER_PREFIX.length));
    return `Bearer ${new TextDecoder("utf-8", { fatal: true }).decode(bytes)}`;
  } catch {
    return "malformed";
  }
}

const BEARER_PREFIX = "escrow.bearer.";

const REASONS: Record<Unidentified, string> = {
  missing: "no Authorization header; send Authorization: Bearer <token>",
  malformed: "the Authorization header is not Bearer <token>",
  unknown: "the bearer token is not one the broker knows",
};

const CHALLENGE_ERRORS: Record<Unidentified, string> = {
  missing: "",
  malformed: ', error="invalid_request"',
  unknown: ', error="invalid_token"',
};

/** The route the request reached (its method and path as registered) and its path parameters. */
function reachedRoute(c: Context<AppEnv>) {
  const routes = matchedRoutes(c);
  for (let index = routes.length - 1; index >= 0; index--) {
    const route = routes[index]!;
    if (route.method === "ALL") continue;
    const current = c.req.routeIndex;
    c.req.routeIndex = index;
    const params = c.req.param() as Record<string, string>;
    c.req.routeIndex = current;
    return { method: route.method, path: route.path, params };
  }
  return undefined;
}

/** `doc` with each `{param}` replaced by its value. */
const fill = (doc: string, params: Readonly<Record<string, string>>) =>
  doc.replaceAll(/\{([A-Za-z0-9_]+)\}/g, (whole, name) => params[name] ?? whole);

/**
 * Decides one request: a 401 problem when `who` is not a principal, a 403
 * problem when the route the request reached needs a permission `who`
 * lacks, else `who`. A request that reached no route (it will be a 404 or
 * 405) needs only a valid token.
 *
 * @param c The request's context.
 * @param who The request's principal, or why it has none.
 * @param hint How to present a token, appended to a 401's detail.
 *
 * @example
 * ```ts
 * import { authorize } from "./middleware.ts";
 * // in a middleware: const result = await authorize(c, "missing");
 * ```
 */
export async function authorize(
  c: Context<AppEnv>,
  who: Principal | Unidentified,
  hint = "",
): Promise<Principal | Response> {
  const route = reachedRoute(c);
  const rule = route && ruleOf(route.method, route.path);
  const action = `Cannot ${c.req.method} ${c.req.path}`;
  if (typeof who === "string") {
    const permission = rule ? fill(rule.doc, route.params) : "a valid token";
    const res = problemResponse({
      type: "https://escrow.dev/problems/unauthorized",
      title: "Unauthorized",
      status: 401,
      detail: `${action}: ${REASONS[who]}${hint} (this route needs ${permission})`,
      reason: who,
      permission,
    }, c);
    res.headers.set("WWW-Authenticate", `Bearer realm="escrow"${CHALLENGE_ERRORS[who]}`);
    return res;
  }
  if (!rule) return who;
  const requirement = await rule.requirement({ params: route.params, broker: c.get("broker") });
  if (requirement.allows(who.permissions)) return who;
  return forbidden(c, who, requirement.needs);
}

/**
 * A 403 problem: `who` lacks `needs`.
 *
 * @example
 * ```ts
 * import { forbidden } from "./middleware.ts";
 * const res = forbidden(undefined, { name: "wallet", permissions: [] }, "consume:audit");
 * console.log(res.status); // 403
 * ```
 */
export function forbidden(
  c: Context<AppEnv> | undefined,
  who: Principal,
  needs: string,
): Response {
  const action = c ? `Cannot ${c.req.method} ${c.req.path}` : "Cannot do this";
  const res = problemResponse({
    type: "https://escrow.dev/problems/forbidden",
    title: "Forbidden",
    status: 403,
    detail: `${action}: token "${who.name}" lacks ${needs}`,
    permission: needs,
    principal: who.name,
  }, c);
  res.headers.set(
    "WWW-Authenticate",
    `Bearer realm="escrow", error="insufficient_scope", scope="${needs}"`,
  );
  return res;
}

/**
 * The API's auth middleware: the bearer token of `Authorization`, checked
 * against `tokens` and the route's permission. With no tokens every
 * request goes on as {@linkcode ANONYMOUS} (the broker is open).
 *
 * @example
 * ```ts
 * import { apiAuth } from "./middleware.ts";
 * import { TokenSet } from "./token_set.ts";
 * const auth = apiAuth(TokenSet.admin("s3cret"));
 * // app.use("/v1/*", auth);
 * ```
 */
export function apiAuth(tokens: TokenSet): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (tokens.size === 0) {
      c.set("principal", ANONYMOUS);
      return await next();
    }
    const token = bearerToken(
      c.req.header("authorization") ?? protocolBearer(c.req.header("sec-websocket-protocol")),
    );
    const who = token === "missing" || token === "malformed"
      ? token
      : tokens.identify(token) ?? "unknown";
    const result = await authorize(c, who);
    if (result instanceof Response) return result;
    c.set("principal", result);
    await next();
  };
}
