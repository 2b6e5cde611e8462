/**
 * Which permission each route needs: one table, keyed by method and path as
 * the OpenAPI document writes them (`POST /v1/groups/{group}/ack`). A route
 * the table does not name needs `admin` (deny by default), so a new route is
 * closed until someone decides who may call it; the permission matrix test
 * fails for a route of the app the table lacks.
 *
 * Deciding a transaction needs `decide:` of its producer group, so that rule
 * reads the transaction (a KV read, no body) before the request goes on.
 *
 * @module
 */
import type { Broker } from "../../engine/broker.ts";
import { NotFoundError } from "../../domain/errors.ts";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { TransactionId } from "../schemas.ts";
import type { AppEnv } from "../router.ts";
import { grants, type Permission, scoped, type ScopedKind } from "./permission.ts";

/** What one request needs. */
export interface Requirement {
  /** The permission named in a 403, e.g. `"consume:audit or read"`. */
  readonly needs: string;
  /** Whether a token holding `held` may make the request. */
  readonly allows: (held: readonly Permission[]) => boolean;
}

/** What a rule reads to decide a request's requirement. */
export interface RuleInput {
  /** The route's path parameters, decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** The broker (for rules that look a resource up). */
  readonly broker: Broker;
}

/** The permission rule of one route. */
export interface RouteRule {
  /**
   * What the route needs, for the OpenAPI document and a 401: e.g.
   * `"consume:{group} or read"`; `{param}` stands for the path parameter.
   */
  readonly doc: string;
  /** The requirement of one request. */
  readonly requirement: (input: RuleInput) => Requirement | Promise<Requirement>;
}

/** A requirement met by any one of `permissions` (or `admin`). */
function needOneOf(...permissions: Permission[]): Requirement {
  return {
    needs: permissions.join(" or "),
    allows: (held) => permissions.some((permission) => grants(held, permission)),
  };
}

const fixed = (permission: Permission): RouteRule => ({
  doc: permission,
  requirement: () => needOneOf(permission),
});

/** `<kind>:<the param's value>`, or also `read` for a GET a consumer may make. */
const scopedBy = (kind: ScopedKind, param: string, orRead = false): RouteRule => ({
  doc: `${kind}:{${param}}${orRead ? " or read" : ""}`,
  requirement: ({ params }) => {
    const name = params[param];
    if (name === undefined) return needOneOf("admin");
    return orRead ? needOneOf(scoped(kind, name), "read") : needOneOf(scoped(kind, name));
  },
});

/**
 * `decide:<producer group>` of the transaction in the path, `decide:*` for
 * one without a producer group. A transaction that does not exist (or an id
 * that cannot be one) lets any `decide:` holder on to the 404 or 400.
 */
const decideTransaction: RouteRule = {
  doc: "decide:{producerGroup of the transaction}",
  requirement: async ({ params, broker }) => {
    const id = params.id ?? "";
    const anyDecide: Requirement = {
      needs: "decide:<producerGroup>",
      allows: (held) => held.some((p) => p === "admin" || p.startsWith("decide:")),
    };
    if (!TransactionId.safeParse(id).success) return anyDecide;
    try {
      const view = await broker.transactions.get(id);
      return needOneOf(scoped("decide", view.producerGroup ?? "*"));
    } catch (error) {
      if (error instanceof NotFoundError) return anyDecide;
      throw error;
    }
  },
};

/** Any valid token; the handler checks what the body names (the dashboard's redrive form). */
const AUTHENTICATED: RouteRule = {
  doc: "any valid token",
  requirement: () => ({ needs: "a valid token", allows: () => true }),
};

const ADMIN = fixed("admin");
const READ = fixed("read");

/** Routes anyone may call, token or not. */
export const OPEN_ROUTES: ReadonlySet<string> = new Set([
  "GET /healthz",
  "GET /dashboard/assets/{file}",
]);

/** Every route's rule, by `"<METHOD> <path>"`. */
export const ROUTE_PERMISSIONS: Readonly<Record<string, RouteRule>> = {
  "PUT /v1/topics/{topic}": ADMIN,
  "GET /v1/topics": READ,
  "GET /v1/topics/{topic}": READ,
  "POST /v1/topics/{topic}/messages": scopedBy("publish", "topic"),
  "POST /v1/topics/{topic}/messages/batch": scopedBy("publish", "topic"),
  "GET /v1/topics/{topic}/messages": READ,
  "POST /v1/topics/{topic}/transactions": scopedBy("publish", "topic"),
  "POST /v1/transactions/{id}/commit": decideTransaction,
  "POST /v1/transactions/{id}/rollback": decideTransaction,
  "GET /v1/transactions/{id}": READ,
  "GET /v1/transactions": READ,
  "PUT /v1/producer-groups/{group}": ADMIN,
  "GET /v1/messages/{messageId}": READ,
  "PUT /v1/groups/{group}": ADMIN,
  "GET /v1/groups": READ,
  "GET /v1/groups/{group}": scopedBy("consume", "group", true),
  "DELETE /v1/groups/{group}": ADMIN,
  "POST /v1/groups/{group}/receive": scopedBy("consume", "group"),
  "POST /v1/groups/{group}/ack": scopedBy("consume", "group"),
  "POST /v1/groups/{group}/nack": scopedBy("consume", "group"),
  "POST /v1/groups/{group}/visibility": scopedBy("consume", "group"),
  "GET /v1/groups/{group}/stream": scopedBy("consume", "group"),
  "GET /v1/groups/{group}/dead-letters": scopedBy("consume", "group", true),
  "POST /v1/groups/{group}/dead-letters/redrive": scopedBy("consume", "group"),
  "GET /v1/jobs": READ,
  "DELETE /v1/jobs/failed/{id}": ADMIN,
  "POST /v1/jobs/failed/{id}/retry": ADMIN,
  "GET /v1/transactions/{id}/inspection": READ,
  "GET /v1/messages/{id}/inspection": READ,
  "GET /v1/machines": READ,
  "GET /metrics": READ,
  "GET /openapi.json": READ,
  "GET /docs": READ,
  "GET /docs/": READ,
  "GET /docs/{file}": READ,
  "GET /inspect": READ,
  "GET /inspect/client.js": READ,
  "GET /inspect/ws": READ,
  "GET /": READ,
  "GET /dashboard/events": READ,
  "GET /messages/{id}": READ,
  "GET /transactions/{id}": READ,
  "GET /search": READ,
  "POST /dashboard/redrive": AUTHENTICATED,
};

/**
 * The rule of a route, `admin` for one the table does not name.
 *
 * @param method The route's method, e.g. `"POST"`.
 * @param path The route's path with `{param}` (OpenAPI) or `:param` (Hono) parameters.
 *
 * @example
 * ```ts
 * import { ruleOf } from "./route_permissions.ts";
 * console.log(ruleOf("POST", "/v1/groups/:group/ack").doc); // "consume:{group}"
 * console.log(ruleOf("GET", "/v1/unknown").doc); // "admin"
 * ```
 */
export function ruleOf(method: string, path: string): RouteRule {
  const key = routeKey(method, path);
  return Object.hasOwn(ROUTE_PERMISSIONS, key) ? ROUTE_PERMISSIONS[key]! : ADMIN;
}

/**
 * The table's key of a route: the method upper-cased, Hono's `:param`
 * written `{param}`.
 *
 * @example
 * ```ts
 * import { routeKey } from "./route_permissions.ts";
 * console.log(routeKey("get", "/v1/groups/:group")); // "GET /v1/groups/{group}"
 * ```
 */
export function routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path.replaceAll(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}")}`;
}

/**
 * Writes into the OpenAPI document, on every `/v1` operation, the
 * permission it needs: `x-escrow-permission` and a line of its description.
 *
 * @example
 * ```ts
 * import { documentPermissions } from "./route_permissions.ts";
 * import { newRouter } from "../router.ts";
 * documentPermissions(newRouter());
 * ```
 */
export function documentPermissions(app: OpenAPIHono<AppEnv>): void {
  for (const definition of app.openAPIRegistry.definitions) {
    if (definition.type !== "route") continue;
    const route = definition.route as {
      method: string;
      path: string;
      description?: string;
      "x-escrow-permission"?: string;
    };
    if (!route.path.startsWith("/v1/")) continue;
    const doc = ruleOf(route.method, route.path).doc;
    if (route["x-escrow-permission"] !== undefined) continue;
    route["x-escrow-permission"] = doc;
    const line = `Permission: \`${doc}\` (or \`admin\`) when the broker has tokens.`;
    route.description = route.description ? `${route.description}\n\n${line}` : line;
  }
}
