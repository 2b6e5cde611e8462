/**
 * The auth matrix: every route of the app (enumerated from `app.routes`
 * and checked against the OpenAPI document) against a token for every kind
 * of permission. The expectations below are written out by hand, apart from
 * the broker's own table: a route the app gains without a line here fails
 * the test, and so does a route whose rule grants more or less than written.
 */
import { assert, assertEquals } from "@std/assert";
import { openBroker } from "../_support/broker.ts";
import { OPEN_ROUTES, ROUTE_PERMISSIONS, TokenSet } from "../../src/http/auth/mod.ts";
import { createApp } from "../../src/http/app.ts";

/** One token per permission form, named after it. */
const PERMISSIONS = [
  "admin",
  "read",
  "publish:Trade",
  "publish:Other",
  "publish:*",
  "decide:wallet",
  "decide:other",
  "decide:*",
  "consume:audit",
  "consume:billing",
  "consume:*",
] as const;

type Held = typeof PERMISSIONS[number];

/** Who besides `admin` may call a route ("open": anyone, no token needed). */
const EXPECTED: Record<string, readonly Held[] | "open"> = {
  "GET /healthz": "open",
  "GET /dashboard/assets/{file}": "open",
  "PUT /v1/topics/{topic}": [],
  "GET /v1/topics": ["read"],
  "GET /v1/topics/{topic}": ["read"],
  "POST /v1/topics/{topic}/messages": ["publish:Trade", "publish:*"],
  "POST /v1/topics/{topic}/messages/batch": ["publish:Trade", "publish:*"],
  "GET /v1/topics/{topic}/messages": ["read"],
  "POST /v1/topics/{topic}/transactions": ["publish:Trade", "publish:*"],
  "POST /v1/transactions/{id}/commit": ["decide:wallet", "decide:*"],
  "POST /v1/transactions/{id}/rollback": ["decide:wallet", "decide:*"],
  "GET /v1/transactions/{id}": ["read"],
  "GET /v1/transactions": ["read"],
  "GET /v1/transactions/{id}/inspection": ["read"],
  "PUT /v1/producer-groups/{group}": [],
  "GET /v1/messages/{messageId}": ["read"],
  "GET /v1/messages/{id}/inspection": ["read"],
  "GET /v1/machines": ["read"],
  "PUT /v1/groups/{group}": [],
  "GET /v1/groups": ["read"],
  "GET /v1/groups/{group}": ["read", "consume:audit", "consume:*"],
  "DELETE /v1/groups/{group}": [],
  "POST /v1/groups/{group}/receive": ["consume:audit", "consume:*"],
  "POST /v1/groups/{group}/ack": ["consume:audit", "consume:*"],
  "POST /v1/groups/{group}/nack": ["consume:audit", "consume:*"],
  "POST /v1/groups/{group}/visibility": ["consume:audit", "consume:*"],
  "GET /v1/groups/{group}/stream": ["consume:audit", "consume:*"],
  "GET /v1/groups/{group}/dead-letters": ["read", "consume:audit", "consume:*"],
  "POST /v1/groups/{group}/dead-letters/redrive": ["consume:audit", "consume:*"],
  "GET /v1/jobs": ["read"],
  "DELETE /v1/jobs/failed/{id}": [],
  "POST /v1/jobs/failed/{id}/retry": [],
  "GET /metrics": ["read"],
  "GET /openapi.json": ["read"],
  "GET /docs": ["read"],
  "GET /docs/": ["read"],
  "GET /docs/{file}": ["read"],
  "GET /inspect": ["read"],
  "GET /inspect/client.js": ["read"],
  "GET /inspect/ws": ["read"],
  "GET /": ["read"],
  "GET /dashboard/events": ["read"],
  "GET /messages/{id}": ["read"],
  "GET /transactions/{id}": ["read"],
  "GET /search": ["read"],
  // The middleware lets any token in; the handler checks the form's group (audit here).
  "POST /dashboard/redrive": ["consume:audit", "consume:*"],
};

const keyOf = (method: string, path: string) =>
  `${method.toUpperCase()} ${path.replaceAll(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}")}`;

const tokenOf = (permission: Held) => `secret-${permission.replace(/[:*]/g, "_")}`;

async function openMatrix() {
  const fixture = await openBroker({ clock: { manual: Date.UTC(2030, 0, 1) } });
  const { broker } = fixture;
  await broker.topics.create("Trade");
  await broker.groups.put("audit", { subscriptions: [{ topic: "Trade" }] } as never);
  const { view } = await broker.transactions.prepare("Trade", { producerGroup: "wallet" } as never);
  const tokens = TokenSet.of(PERMISSIONS.map((permission) => ({
    name: permission.replace(":", "-").replace("*", "all"),
    token: tokenOf(permission),
    permissions: [permission],
  })));
  const app = createApp(broker, { tokens });
  return { ...fixture, app, transactionId: view.transactionId, messageId: view.messageId };
}

/** A request path for a route: its parameters filled with things that exist. */
function pathFor(path: string, ids: { transactionId: string; messageId: string }): string {
  return path
    .replaceAll(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}")
    .replace("{topic}", "Trade")
    .replace("{group}", "audit")
    .replace("{messageId}", ids.messageId)
    .replace(/^\/docs\/\{file\}$/, "/docs/swagger-ui.css")
    .replace(/^\/dashboard\/assets\/\{file\}$/, "/dashboard/assets/app.css")
    .replace(/^(\/v1)?\/transactions\/\{id\}/, `$1/transactions/${ids.transactionId}`)
    .replace(/^(\/v1)?\/messages\/\{id\}/, `$1/messages/${ids.messageId}`)
    .replace("{id}", "no-such-job");
}

function requestFor(method: string, path: string, token?: string): RequestInit {
  const headers = new Headers(token ? { authorization: `Bearer ${token}` } : {});
  if (path === "/dashboard/redrive") {
    headers.set("content-type", "application/x-www-form-urlencoded");
    headers.set("origin", "http://localhost");
    // Not confirmed: an allowed token gets the confirmation page, nothing is redriven.
    return { method, headers, body: new URLSearchParams([["group", "audit"], ["scope", "all"]]) };
  }
  // No body: an allowed POST or PUT is then a 400, never a long poll or a change.
  return { method, headers };
}

Deno.test("every route of the app has a rule in the broker's table and a line in this matrix", async () => {
  await using t = await openMatrix();
  const routes = new Set(
    t.app.routes.filter((route) => route.method !== "ALL").map((r) => keyOf(r.method, r.path)),
  );
  for (const key of routes) {
    assert(Object.hasOwn(EXPECTED, key), `${key} has no line in the permission matrix`);
    assert(
      Object.hasOwn(ROUTE_PERMISSIONS, key) || OPEN_ROUTES.has(key),
      `${key} has no rule in ROUTE_PERMISSIONS (it is admin-only by default)`,
    );
  }
  for (const key of Object.keys(EXPECTED)) assert(routes.has(key), `${key} is no longer a route`);
  const doc = await (await t.app.request("/openapi.json", {
    headers: { authorization: `Bearer ${tokenOf("read")}` },
  })).json() as { paths: Record<string, Record<string, unknown>> };
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const method of Object.keys(methods)) {
      assert(routes.has(keyOf(method, path)), `${method} ${path} of the document is not a route`);
    }
  }
});

Deno.test("the auth matrix: every route × every permission is a 401 without a token, a 403 naming the permission without the right one, and passes with it", async () => {
  await using t = await openMatrix();
  const routes = t.app.routes.filter((route) => route.method !== "ALL");
  const seen = new Set<string>();
  for (const route of routes) {
    const key = keyOf(route.method, route.path);
    if (seen.has(key)) continue; // one route may be several handlers (validators, body reader)
    seen.add(key);
    const expected = EXPECTED[key];
    assert(expected !== undefined, `${key} has no line in the permission matrix`);
    const path = pathFor(route.path, t);
    const bare = await t.app.request(path, requestFor(route.method, path));
    await bare.body?.cancel();
    if (expected === "open") {
      assert(bare.status < 400, `${key} is open: ${bare.status}`);
      continue;
    }
    assertEquals(bare.status, 401, `${key} without a token`);
    for (const held of PERMISSIONS) {
      const res = await t.app.request(path, requestFor(route.method, path, tokenOf(held)));
      const allowed = held === "admin" || expected.includes(held);
      const label = `${key} with ${held}: ${res.status}`;
      if (allowed) {
        assert(res.status !== 401 && res.status !== 403, label);
        await res.body?.cancel();
        continue;
      }
      assertEquals(res.status, 403, label);
      if (
        path.startsWith("/v1/") || res.headers.get("content-type") === "application/problem+json"
      ) {
        const problem = await res.json();
        assert(typeof problem.permission === "string" && problem.permission, label);
        assert(!grantsAny(held, problem.permission), `${label} names ${problem.permission}`);
      } else {
        await res.body?.cancel();
      }
    }
  }
  assertEquals(seen.size, Object.keys(EXPECTED).length);
});

/** Whether the permission named in a 403 (`"a or b"`) is one `held` has: it must not be. */
function grantsAny(held: string, named: string): boolean {
  return named.split(" or ").includes(held);
}
