import { assertEquals } from "@std/assert/equals";
import { assertProblem, kvSnapshot, openApi, type ProducerGroupJson, T0 } from "./_helpers.ts";

const iso = (ms: number) => new Date(ms).toISOString();

Deno.test("PUT /v1/producer-groups/{group} creates a group with 201 and its checkUrl", async () => {
  await using api = await openApi();
  const res = await api.put<ProducerGroupJson>("/v1/producer-groups/shop", {
    checkUrl: "https://shop.example/check",
  });
  assertEquals(res.status, 201);
  assertEquals(res.headers.get("content-type"), "application/json");
  assertEquals(res.body, {
    name: "shop",
    checkUrl: "https://shop.example/check",
    hasSecret: false,
    updatedAt: iso(T0),
  });
});

Deno.test("PUT /v1/producer-groups/{group} again is 200 with the new checkUrl and updatedAt", async () => {
  await using api = await openApi();
  const first = await api.put("/v1/producer-groups/shop", { checkUrl: "http://a.example/check" });
  assertEquals(first.status, 201);
  api.advance(5_000);
  const again = await api.put<ProducerGroupJson>("/v1/producer-groups/shop", {
    checkUrl: "http://b.example:8080/check?v=2",
  });
  assertEquals(again.status, 200);
  assertEquals(again.body, {
    name: "shop",
    checkUrl: "http://b.example:8080/check?v=2",
    hasSecret: false,
    updatedAt: iso(T0 + 5_000),
  });
  const same = await api.put<ProducerGroupJson>("/v1/producer-groups/shop", {
    checkUrl: "http://b.example:8080/check?v=2",
  });
  assertEquals(same.status, 200);
});

Deno.test("PUT /v1/producer-groups/{group} keeps groups apart", async () => {
  await using api = await openApi();
  assertEquals(
    (await api.put("/v1/producer-groups/shop", { checkUrl: "http://a.example/" })).status,
    201,
  );
  assertEquals(
    (await api.put("/v1/producer-groups/billing", { checkUrl: "http://b.example/" })).status,
    201,
  );
});

interface BadGroup {
  readonly what: string;
  readonly status: number;
  readonly detail: string;
  readonly group?: string;
  readonly json?: unknown;
  readonly raw?: string;
  readonly headers?: Record<string, string>;
}

const badGroups: BadGroup[] = [
  {
    what: "a checkUrl that is no URL",
    status: 400,
    detail: "json.checkUrl",
    json: { checkUrl: "not a url" },
  },
  {
    what: "an ftp checkUrl",
    status: 400,
    detail: "json.checkUrl",
    json: { checkUrl: "ftp://shop.example/" },
  },
  {
    what: "a javascript: checkUrl",
    status: 400,
    detail: "json.checkUrl",
    json: { checkUrl: "javascript:alert(1)" },
  },
  {
    what: "a relative checkUrl",
    status: 400,
    detail: "json.checkUrl",
    json: { checkUrl: "/check" },
  },
  {
    what: "a checkUrl that is not a string",
    status: 400,
    detail: "json.checkUrl",
    json: { checkUrl: 1 },
  },
  {
    what: "an empty secret",
    status: 400,
    detail: "json.secret",
    json: { checkUrl: "http://a.example/", secret: "" },
  },
  {
    what: "an unknown field",
    status: 400,
    detail: "json",
    json: { checkUrl: "http://a.example/", timeoutMs: 5 },
  },
  {
    what: "an invalid group name",
    status: 400,
    detail: "param.group",
    group: encodeURIComponent("shop floor!"),
    json: { checkUrl: "http://a.example/" },
  },
  {
    what: "a 65-character group name",
    status: 400,
    detail: "param.group",
    group: "g".repeat(65),
    json: { checkUrl: "http://a.example/" },
  },
  {
    what: "malformed JSON",
    status: 400,
    detail: "Malformed JSON",
    raw: "{",
    headers: { "content-type": "application/json" },
  },
  {
    what: "a request over 6 MiB",
    status: 413,
    detail: "6291456",
    json: { checkUrl: `http://a.example/${"x".repeat(6 * 1024 * 1024)}` },
  },
];

for (const bad of badGroups) {
  Deno.test(`PUT /v1/producer-groups/{group} with ${bad.what} is a ${bad.status} problem and stores nothing`, async () => {
    await using api = await openApi();
    const before = await kvSnapshot(api.kv);
    const res = await api.send("PUT", `/v1/producer-groups/${bad.group ?? "shop"}`, {
      ...(bad.json !== undefined ? { json: bad.json } : {}),
      ...(bad.raw !== undefined ? { raw: bad.raw } : {}),
      ...(bad.headers ? { headers: bad.headers } : {}),
    });
    assertProblem(res, bad.status, bad.detail);
    assertEquals(await kvSnapshot(api.kv), before);
  });
}

Deno.test("PUT /v1/producer-groups/{group} with a bad URL keeps the group's earlier checkUrl", async () => {
  await using api = await openApi();
  await api.put("/v1/producer-groups/shop", { checkUrl: "http://a.example/check" });
  const before = await kvSnapshot(api.kv);
  assertProblem(await api.put("/v1/producer-groups/shop", { checkUrl: "nope" }), 400);
  assertEquals(await kvSnapshot(api.kv), before);
  // Setting the same URL again shows the stored one was kept (200: it existed).
  const again = await api.put<ProducerGroupJson>("/v1/producer-groups/shop", {
    checkUrl: "http://a.example/check",
  });
  assertEquals(again.status, 200);
});
