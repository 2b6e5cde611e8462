/**
 * `GET /docs`: Swagger UI served by the broker from the installed
 * `swagger-ui-dist`, nothing from another host; and the OpenAPI document's
 * `/healthz`, bearer scheme, 401s and operation ids.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertMatch } from "@std/assert/match";
import { openApi } from "./_helpers.ts";

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  responses: Record<string, unknown>;
}

interface Doc {
  security?: Record<string, string[]>[];
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, { type: string; scheme?: string }> };
}

Deno.test("GET /docs is an HTML page whose scripts and styles are all served by the broker", async () => {
  await using api = await openApi();
  for (const path of ["/docs", "/docs/"]) {
    const res = await api.app.request(path);
    assertEquals(res.status, 200);
    assertMatch(res.headers.get("content-type") ?? "", /^text\/html/);
    const html = await res.text();
    assert(html.includes('id="swagger-ui"'));
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert(assets.length >= 3, html);
    for (const asset of assets) {
      assert(asset.startsWith("/docs/"), `${asset} is not served by the broker`);
      const file = await api.app.request(asset);
      assertEquals(file.status, 200, asset);
      assert((await file.arrayBuffer()).byteLength > 0, asset);
    }
  }
  const init = await (await api.app.request("/docs/init.js")).text();
  assert(init.includes('"/openapi.json"'), "the UI renders the broker's own document");
  assert(init.includes("validatorUrl: null"), "no call to the public validator");
  const bundle = await api.app.request("/docs/swagger-ui-bundle.js");
  assertMatch(bundle.headers.get("content-type") ?? "", /javascript/);
  assert((await bundle.text()).includes("SwaggerUIBundle"));
});

Deno.test("GET /docs/<file> serves only the UI's own files", async () => {
  await using api = await openApi();
  for (const path of ["/docs/package.json", "/docs/..%2F..%2Fdeno.json", "/docs/index.js"]) {
    const res = await api.app.request(path);
    assertEquals(res.status, 404, path);
    await res.body?.cancel();
  }
});

Deno.test("/openapi.json lists /healthz, the bearer scheme, and on every /v1 operation an operationId, the bearer security and a 401", async () => {
  await using api = await openApi();
  const doc = await (await api.app.request("/openapi.json")).json() as Doc;
  assertEquals(doc.components?.securitySchemes?.bearer?.type, "http");
  assertEquals(doc.components?.securitySchemes?.bearer?.scheme, "bearer");
  const health = doc.paths["/healthz"]?.get;
  assert(health, "/healthz is listed");
  assertEquals(health.operationId, "getHealth");
  assertEquals(health.security ?? doc.security ?? [], [], "/healthz needs no token");
  const ids = new Set<string>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const name = `${method} ${path}`;
      assert(operation.operationId, `${name} has no operationId`);
      assert(
        !ids.has(operation.operationId),
        `${name}: operationId ${operation.operationId} twice`,
      );
      ids.add(operation.operationId);
      if (!path.startsWith("/v1/")) continue;
      assertEquals(operation.security ?? doc.security, [{ bearer: [] }], `${name} security`);
      assert(operation.responses["401"], `${name} has no 401`);
    }
  }
});
