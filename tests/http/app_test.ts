import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertProblem, createTopic, kvSnapshot, openApi, type PublishJson } from "./_helpers.ts";
import { createApp, MAX_REQUEST_BYTES } from "../../src/http/app.ts";
import { problemResponse } from "../../src/http/problem.ts";
import { openBroker } from "../_support/broker.ts";

interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components?: { schemas?: Record<string, unknown> };
}

Deno.test("GET /healthz is 200 with status ok", async () => {
  await using api = await openApi();
  const res = await api.get<{ status: string }>("/healthz");
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "application/json");
  assertEquals(res.body, { status: "ok" });
});

Deno.test("a successful answer carries an X-Request-Id, a new one per request", async () => {
  await using api = await openApi();
  const first = (await api.get("/healthz")).headers.get("x-request-id");
  const second = (await api.get("/v1/topics")).headers.get("x-request-id");
  assert(first);
  assert(second);
  assert(first !== second);
});

Deno.test("a problem answer carries an X-Request-Id like a successful one", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const problems = [
    ["a broker error (404)", await api.get("/v1/topics/Nope")],
    ["a validation error (400)", await api.put(`/v1/topics/${encodeURIComponent("a b")}`)],
    ["an unknown route (404)", await api.get("/nope")],
    [
      "a malformed JSON body (400)",
      await api.send("POST", "/v1/topics/Trade/messages", {
        raw: "{",
        headers: { "content-type": "application/json" },
      }),
    ],
  ] as const;
  const missing = problems
    .filter(([, res]) => !res.headers.get("x-request-id"))
    .map(([what, res]) => `${what}: ${res.status}`);
  assertEquals(missing, []);
});

Deno.test("GET /openapi.json is an OpenAPI 3.1 document listing every route", async () => {
  await using api = await openApi();
  const res = await api.get<OpenApiDoc>("/openapi.json");
  assertEquals(res.status, 200);
  const doc = res.body;
  assertEquals(doc.openapi, "3.1.0");
  assertEquals(doc.info.title, "Escrow");
  assert(doc.info.version.length > 0);
  const routes = Object.entries(doc.paths)
    .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`))
    .sort();
  assertEquals(routes, [
    "delete /v1/groups/{group}",
    "delete /v1/jobs/failed/{id}",
    "get /healthz",
    "get /v1/groups",
    "get /v1/groups/{group}",
    "get /v1/groups/{group}/dead-letters",
    "get /v1/groups/{group}/stream",
    "get /v1/jobs",
    "get /v1/machines",
    "get /v1/messages/{id}/inspection",
    "get /v1/messages/{messageId}",
    "get /v1/topics",
    "get /v1/topics/{topic}",
    "get /v1/topics/{topic}/messages",
    "get /v1/transactions",
    "get /v1/transactions/{id}",
    "get /v1/transactions/{id}/inspection",
    "post /v1/groups/{group}/ack",
    "post /v1/groups/{group}/dead-letters/redrive",
    "post /v1/groups/{group}/nack",
    "post /v1/groups/{group}/receive",
    "post /v1/groups/{group}/visibility",
    "post /v1/jobs/failed/{id}/retry",
    "post /v1/topics/{topic}/messages",
    "post /v1/topics/{topic}/messages/batch",
    "post /v1/topics/{topic}/transactions",
    "post /v1/transactions/{id}/commit",
    "post /v1/transactions/{id}/rollback",
    "put /v1/groups/{group}",
    "put /v1/producer-groups/{group}",
    "put /v1/topics/{topic}",
  ]);
  const publish = doc.paths["/v1/topics/{topic}/messages"]?.post;
  assert(publish);
  assertEquals(Object.keys(publish.responses).sort(), [
    "200",
    "201",
    "400",
    "401",
    "403",
    "404",
    "413",
    "415",
    "429",
    "503",
  ]);
  for (const name of ["PublishRequest", "PrepareRequest", "Problem", "Message", "Transaction"]) {
    assert(doc.components?.schemas?.[name], `schema ${name} missing`);
  }
});

Deno.test("an unknown route is a 404 problem and changes nothing", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const before = await kvSnapshot(api.kv);
  const nope = assertProblem(await api.get("/nope"), 404, "GET /nope");
  assertEquals(nope.type, "https://escrow.dev/problems/notfound");
  assertProblem(
    await api.send("DELETE", "/v1/topics/Trade/tags"),
    404,
    "DELETE /v1/topics/Trade/tags",
  );
  assertProblem(await api.post("/v1/topics/Trade/messages/extra", {}), 404);
  assertProblem(await api.get("/v2/topics"), 404);
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("a request over 6 MiB that declares its length is a 413 problem and stores nothing", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const before = await kvSnapshot(api.kv);
  const raw = JSON.stringify({ body: "x".repeat(MAX_REQUEST_BYTES) });
  const res = await api.send("POST", "/v1/topics/Trade/messages", {
    raw,
    headers: { "content-type": "application/json", "content-length": String(raw.length) },
  });
  const problem = assertProblem(res, 413, String(MAX_REQUEST_BYTES));
  assertEquals(problem.type, "https://escrow.dev/problems/payloadtoolarge");
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("a streamed request over 6 MiB is a 413 problem and stores nothing", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const before = await kvSnapshot(api.kv);
  const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"body":"'));
    },
    pull(controller) {
      if (sent >= MAX_REQUEST_BYTES + chunk.length) {
        controller.enqueue(new TextEncoder().encode('"}'));
        controller.close();
        return;
      }
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
  const res = await api.send("POST", "/v1/topics/Trade/messages", {
    raw: stream,
    headers: { "content-type": "application/json" },
  });
  assertProblem(res, 413, String(MAX_REQUEST_BYTES));
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("a request under 1 MiB with a body under 256 KiB is accepted whatever its padding", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const raw = `{"body": "${"x".repeat(200 * 1024)}"${" ".repeat(800 * 1024)}}`;
  assert(raw.length < 1024 * 1024);
  const res = await api.send<PublishJson>("POST", "/v1/topics/Trade/messages", {
    raw,
    headers: { "content-type": "application/json" },
  });
  assertEquals(res.status, 201, JSON.stringify(res.body));
});

Deno.test("a JSON route sent without a JSON content type is a 4xx problem and stores nothing", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const before = await kvSnapshot(api.kv);
  const variants: Array<Record<string, string>> = [{}, { "content-type": "text/plain" }];
  for (const headers of variants) {
    const res = await api.send("POST", "/v1/topics/Trade/messages", {
      raw: JSON.stringify({ body: 1 }),
      headers,
    });
    assert(res.status >= 400 && res.status < 500, `status ${res.status}`);
    assertProblem(res, res.status);
  }
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("createApp() runs the auth middleware before /v1 routes but not before /healthz", async () => {
  await using fixture = await openBroker();
  const { broker } = fixture;
  const app = createApp(broker, {
    auth: async (c, next) => {
      if (c.req.header("authorization") !== "Bearer secret") {
        return problemResponse({
          type: "https://escrow.dev/problems/unauthorized",
          title: "Unauthorized",
          status: 401,
          detail: "Cannot accept request: no valid token",
        });
      }
      await next();
    },
  });
  assertEquals((await app.request("/healthz")).status, 200);
  const denied = await app.request("/v1/topics/Trade", { method: "PUT" });
  assertEquals(denied.status, 401);
  await denied.body?.cancel();
  assertEquals((await broker.topics.list()).length, 0);
  const allowed = await app.request("/v1/topics/Trade", {
    method: "PUT",
    headers: { authorization: "Bearer secret" },
  });
  assertEquals(allowed.status, 201);
  await allowed.body?.cancel();
});

Deno.test("with a bearer token set, /v1 without it is a 401 problem and /healthz stays open", async () => {
  const { bearerAuth } = await import("hono/bearer-auth");
  const { createApp } = await import("../../src/http/app.ts");
  await using fixture = await openBroker();
  const { kv, broker } = fixture;
  const app = createApp(broker, { auth: bearerAuth({ token: "s3cret" }) });
  const denied = await app.request("/v1/topics/Trade", { method: "PUT" });
  assertEquals(denied.status, 401);
  assertEquals(denied.headers.get("content-type"), "application/problem+json");
  assertEquals((await denied.json()).title, "Unauthorized");
  assertEquals((await kv.get(["topic", "Trade"])).versionstamp, null);
  const allowed = await app.request("/v1/topics/Trade", {
    method: "PUT",
    headers: { authorization: "Bearer s3cret" },
  });
  assertEquals(allowed.status, 201);
  assertEquals((await app.request("/healthz")).status, 200);
});

Deno.test("every /v1 operation of /openapi.json names an operationId, needs the bearer scheme and really answers 401 without the token", async () => {
  const { bearerAuth } = await import("hono/bearer-auth");
  await using fixture = await openBroker();
  const app = createApp(fixture.broker, { auth: bearerAuth({ token: "s3cret" }) });
  const doc = await (await app.request("/openapi.json")).json() as {
    components: { securitySchemes: Record<string, { type: string; scheme: string }> };
    paths: Record<string, Record<string, { operationId?: string; security?: unknown }>>;
  };
  const bearer = doc.components.securitySchemes.bearer;
  assertEquals([bearer?.type, bearer?.scheme], ["http", "bearer"]);
  for (const [path, methods] of Object.entries(doc.paths)) {
    if (!path.startsWith("/v1/")) continue;
    for (const [method, operation] of Object.entries(methods)) {
      assert(operation.operationId, `${method} ${path} has no operationId`);
      assertEquals(operation.security, [{ bearer: [] }], `${method} ${path}`);
      const res = await app.request(path.replaceAll(/\{[^}]+\}/g, "x"), {
        method: method.toUpperCase(),
      });
      assertEquals(res.status, 401, `${method} ${path} without a token`);
      await res.body?.cancel();
    }
  }
});

Deno.test("every route fits Hono's RegExpRouter, so the API does not fall back to the TrieRouter", async () => {
  // SmartRouter picks the first router that takes every route; one path RegExpRouter refuses
  // (a static path beside a parameter at the same place, say) turns the whole API over to the
  // slower TrieRouter, and nothing else would show it.
  const { RegExpRouter } = await import("hono/router/reg-exp-router");
  await using fixture = await openBroker();
  const app = createApp(fixture.broker);
  const router = new RegExpRouter<number>();
  app.routes.forEach((route, i) => router.add(route.method, route.path, i));
  const matched = router.match("GET", "/v1/groups/ops"); // builds the matchers: throws if refused
  assert(matched[0].length > 0);
  const res = await app.request("/healthz");
  await res.body?.cancel();
  assertEquals(
    (app.router as { activeRouter?: { name: string } }).activeRouter?.name,
    "RegExpRouter",
  );
});
