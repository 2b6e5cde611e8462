/**
 * Every input bounded and validated up front: each refused request is a 4xx
 * problem naming the field and leaves KV as it was; the largest request
 * within every documented limit is stored (so the limits fit Deno KV's).
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertStringIncludes } from "@std/assert/string-includes";
import {
  MAX_GROUP_CONFIG_BYTES,
  MAX_ID_LENGTH,
  MAX_KEY_LENGTH,
  MAX_KEYS,
  MAX_PROPERTIES_BYTES,
  MAX_SQL_FILTER_LENGTH,
  MAX_SUBSCRIPTIONS,
  MAX_TAG_EXPRESSION_LENGTH,
  MAX_URL_LENGTH,
} from "../../src/domain/names.ts";
import { storedBytes } from "../../src/domain/stored_size.ts";
import { normalizeGroup } from "../../src/engine/groups/groups.ts";
import {
  type Answer,
  assertProblem,
  createTopic,
  kvSnapshot,
  openApi,
  type SendOptions,
  type TestApi,
} from "./_helpers.ts";
import { createGroup, handleOf, nack, receive } from "../groups/_helpers.ts";

/** A loopback URL of exactly `length` characters (never called by these tests). */
function urlOf(length: number): string {
  const base = "http://127.0.0.1:9/";
  return base + "a".repeat(length - base.length);
}

interface Issue {
  readonly path: string;
  readonly message: string;
}

/** Asserts a 400 problem whose `issues` name `path` and whose detail names the field. */
function assertNames(res: Answer<unknown>, path: string, status = 400): Issue[] {
  // The detail names the field too (its last segment at least: "cursor abc is not valid").
  const problem = assertProblem(res, status, path.split(".").at(-1));
  const issues = problem.issues as Issue[] | undefined;
  assert(Array.isArray(issues), `no issues: ${JSON.stringify(problem)}`);
  assert(
    issues.some((issue) => issue.path === path),
    `${path} not among ${JSON.stringify(issues.map((i) => i.path))}`,
  );
  return issues;
}

/** Sends the request and asserts it is refused naming `path`, with KV unchanged. */
async function assertRefused(
  api: TestApi,
  method: string,
  url: string,
  options: SendOptions,
  path: string,
): Promise<Issue[]> {
  const before = await kvSnapshot(api.kv);
  const issues = assertNames(await api.send(method, url, options), path);
  assertEquals(await kvSnapshot(api.kv), before, `${method} ${url} changed KV`);
  return issues;
}

async function openWithTopic(): Promise<TestApi> {
  const api = await openApi();
  await createTopic(api, "Trade");
  return api;
}

// ---------------------------------------------------------------- lengths

const TOO_LONG_URL = urlOf(100_000);

/** One over every length limit of the request bodies, with the path the problem must name. */
const OVERLONG: ReadonlyArray<readonly [string, string, unknown, string]> = [
  ["POST", "/v1/topics/Trade/transactions", { checkUrl: TOO_LONG_URL }, "json.checkUrl"],
  [
    "POST",
    "/v1/topics/Trade/transactions",
    { checkUrl: urlOf(MAX_URL_LENGTH + 1) },
    "json.checkUrl",
  ],
  ["PUT", "/v1/producer-groups/wallet", { checkUrl: TOO_LONG_URL }, "json.checkUrl"],
  [
    "PUT",
    "/v1/groups/ops",
    { subscriptions: [{ topic: "Trade" }], delivery: { mode: "push", url: TOO_LONG_URL } },
    "json.delivery.url",
  ],
  [
    "PUT",
    "/v1/groups/ops",
    { subscriptions: [{ topic: "Trade" }], alertUrl: TOO_LONG_URL },
    "json.alertUrl",
  ],
  [
    "PUT",
    "/v1/groups/ops",
    { subscriptions: [{ topic: "Trade" }], alertUrl: urlOf(40), alertSecret: "s".repeat(257) },
    "json.alertSecret",
  ],
  [
    "PUT",
    "/v1/groups/ops",
    {
      subscriptions: [{ topic: "Trade" }],
      delivery: { mode: "push", url: urlOf(40), secret: "s".repeat(257) },
    },
    "json.delivery.secret",
  ],
  [
    "PUT",
    "/v1/groups/ops",
    { subscriptions: [{ topic: "Trade", tags: "a".repeat(MAX_TAG_EXPRESSION_LENGTH + 1) }] },
    "json.subscriptions.0.tags",
  ],
  [
    "PUT",
    "/v1/groups/ops",
    { subscriptions: [{ topic: "Trade", sql: "a".repeat(MAX_SQL_FILTER_LENGTH + 1) }] },
    "json.subscriptions.0.sql",
  ],
  [
    "POST",
    "/v1/topics/Trade/messages",
    { messageGroup: "g".repeat(MAX_ID_LENGTH + 1) },
    "json.messageGroup",
  ],
  ["POST", "/v1/topics/Trade/messages", { dedupId: "d".repeat(MAX_ID_LENGTH + 1) }, "json.dedupId"],
  [
    "POST",
    "/v1/topics/Trade/messages",
    { keys: ["k".repeat(MAX_KEY_LENGTH + 1)] },
    "json.keys.0",
  ],
  [
    "POST",
    "/v1/topics/Trade/messages",
    { keys: Array(MAX_KEYS + 1).fill("k") },
    "json.keys",
  ],
  [
    "POST",
    "/v1/topics/Trade/messages",
    { properties: { ["p".repeat(257)]: "v" } },
    "json.properties." + "p".repeat(257),
  ],
  [
    "POST",
    "/v1/topics/Trade/messages",
    { properties: { p: "v".repeat(MAX_PROPERTIES_BYTES + 1) } },
    "json.properties.p",
  ],
  ["POST", "/v1/topics/Trade/messages", { tag: "t".repeat(65) }, "json.tag"],
  [
    "POST",
    "/v1/topics/Trade/transactions",
    { transactionId: "t".repeat(129) },
    "json.transactionId",
  ],
  [
    "POST",
    "/v1/topics/Trade/transactions",
    { producerGroup: "p".repeat(65) },
    "json.producerGroup",
  ],
  ["POST", "/v1/groups/ops/ack", { receiptHandles: ["h".repeat(2049)] }, "json.receiptHandles.0"],
  [
    "POST",
    "/v1/groups/ops/nack",
    { receiptHandles: ["h"], reason: "r".repeat(1025) },
    "json.reason",
  ],
  [
    "POST",
    "/v1/groups/ops/dead-letters/redrive",
    { messageIds: ["m".repeat(129)] },
    "json.messageIds.0",
  ],
];

for (const [method, url, json, path] of OVERLONG) {
  Deno.test(`${method} ${url} with ${path} over its limit is a 400 problem naming ${path} and stores nothing`, async () => {
    await using api = await openWithTopic();
    await api.put("/v1/groups/ops", { subscriptions: [{ topic: "Trade" }] });
    await assertRefused(api, method, url, { json }, path);
  });
}

Deno.test("an Idempotency-Key header over 128 characters is a 400 problem naming it and stores nothing", async () => {
  await using api = await openWithTopic();
  await assertRefused(api, "POST", "/v1/topics/Trade/messages", {
    json: { body: 1 },
    headers: { "idempotency-key": "k".repeat(129) },
  }, "header.idempotency-key");
});

Deno.test("query and path values over their limits are 400 problems naming them", async () => {
  await using api = await openWithTopic();
  await assertRefused(
    api,
    "GET",
    `/v1/topics/Trade/messages?key=${"k".repeat(129)}`,
    {},
    "query.key",
  );
  await assertRefused(api, "GET", `/v1/messages/${"m".repeat(129)}`, {}, "param.messageId");
  await assertRefused(api, "GET", `/v1/transactions/${"t".repeat(129)}`, {}, "param.id");
  await assertRefused(api, "GET", `/v1/topics/${"t".repeat(65)}`, {}, "param.topic");
});

Deno.test("a URL of exactly 2,048 characters is accepted where 2,049 is refused", async () => {
  await using api = await openWithTopic();
  const res = await api.put<{ checkUrl: string }>("/v1/producer-groups/wallet", {
    checkUrl: urlOf(MAX_URL_LENGTH),
  });
  assertEquals(res.status, 201, JSON.stringify(res.body));
  assertEquals(res.body.checkUrl, urlOf(MAX_URL_LENGTH));
});

Deno.test("a transaction at every length limit at once, with two-byte strings, is stored and read back", async () => {
  await using api = await openWithTopic();
  const wide = (n: number) => "中".repeat(n);
  const properties: Record<string, string> = {};
  // 3 UTF-8 bytes a character: fill the properties budget to the byte.
  for (let i = 0; i < 16; i++) properties[`p${i.toString().padStart(2, "0")}`] = wide(340);
  const request = {
    transactionId: "t".repeat(128),
    producerGroup: "p".repeat(64),
    checkUrl: urlOf(MAX_URL_LENGTH),
    tag: "t".repeat(64),
    keys: Array.from(
      { length: MAX_KEYS },
      (_, i) => wide(MAX_KEY_LENGTH - 2) + i.toString().padStart(2, "0"),
    ),
    properties,
    messageGroup: wide(MAX_ID_LENGTH),
    dedupId: wide(MAX_ID_LENGTH),
    body: { note: wide(1000) },
  };
  const res = await api.post<{ transactionId: string }>("/v1/topics/Trade/transactions", request);
  assertEquals(res.status, 201, JSON.stringify(res.body));
  const read = await api.get<{ checkUrl?: string; producerGroup: string }>(
    `/v1/transactions/${request.transactionId}`,
  );
  assertEquals(read.status, 200, JSON.stringify(read.body));
  assertEquals(read.body.producerGroup, request.producerGroup);
});

// ------------------------------------------------- a group's stored size

/** `n` subscriptions, one per topic `T0`..., each with `filter(i)`. */
async function topics(api: TestApi, n: number): Promise<string[]> {
  const names = Array.from({ length: n }, (_, i) => `T${i}`);
  for (const name of names) await createTopic(api, name);
  return names;
}

Deno.test("a group of 32 subscriptions with 8,192-character SQL filters is a 400 problem naming the stored-size limit and stores nothing", async () => {
  await using api = await openApi();
  const names = await topics(api, MAX_SUBSCRIPTIONS);
  const sql = `region = '${"x".repeat(MAX_SQL_FILTER_LENGTH - 11)}'`;
  assertEquals(sql.length, MAX_SQL_FILTER_LENGTH);
  const issues = await assertRefused(api, "PUT", "/v1/groups/ops", {
    json: { subscriptions: names.map((topic) => ({ topic, sql })) },
  }, "json.subscriptions");
  assertStringIncludes(issues[0]!.message, `limit of ${MAX_GROUP_CONFIG_BYTES}`);
});

Deno.test("a group of 32 subscriptions with 4,096-character tag expressions is a 400 problem naming the stored-size limit and stores nothing", async () => {
  await using api = await openApi();
  const names = await topics(api, MAX_SUBSCRIPTIONS);
  const tags = Array(1024).fill("Ops").join("||").slice(0, MAX_TAG_EXPRESSION_LENGTH - 1) + "s";
  assertEquals(tags.length, MAX_TAG_EXPRESSION_LENGTH);
  const issues = await assertRefused(api, "PUT", "/v1/groups/ops", {
    json: { subscriptions: names.map((topic) => ({ topic, tags })) },
  }, "json.subscriptions");
  assertStringIncludes(issues[0]!.message, `limit of ${MAX_GROUP_CONFIG_BYTES}`);
});

Deno.test("a group configuration of exactly the stored-size limit is stored and one byte more is refused", async () => {
  await using api = await openApi();
  const names = await topics(api, 8);
  // Two-byte SQL literals: the costliest characters per character.
  const body = (pad: number) => ({
    subscriptions: names.map((topic, i) => ({
      topic,
      sql: `region = '${"中".repeat(i === 0 ? pad : 3_000)}'`,
    })),
    delivery: { mode: "push" as const, url: urlOf(MAX_URL_LENGTH), secret: "s".repeat(256) },
    alertUrl: urlOf(MAX_URL_LENGTH),
    alertSecret: "a".repeat(256),
  });
  let pad = 0;
  while (storedBytes(normalizeGroup(body(pad + 1))) <= MAX_GROUP_CONFIG_BYTES) pad++;
  assertEquals(storedBytes(normalizeGroup(body(pad))) <= MAX_GROUP_CONFIG_BYTES, true);
  await assertRefused(api, "PUT", "/v1/groups/ops", { json: body(pad + 1) }, "json.subscriptions");
  const res = await api.put("/v1/groups/ops", body(pad));
  assertEquals(res.status, 201, JSON.stringify(res.body).slice(0, 500));
  assertEquals((await api.get("/v1/groups/ops")).status, 200);
});

Deno.test("a group's own rules are named by path: a topic twice, both tags and sql, a filter that does not parse, alertSecret without alertUrl", async () => {
  await using api = await openWithTopic();
  const put = (json: unknown, path: string) =>
    assertRefused(api, "PUT", "/v1/groups/ops", { json }, path);
  await put(
    { subscriptions: [{ topic: "Trade" }, { topic: "Trade" }] },
    "json.subscriptions.1.topic",
  );
  await put(
    { subscriptions: [{ topic: "Trade", tags: "A", sql: "a = 1" }] },
    "json.subscriptions.0.sql",
  );
  await put({ subscriptions: [{ topic: "Trade", sql: "a = = 1" }] }, "json.subscriptions.0.sql");
  await put({ subscriptions: [{ topic: "Trade", tags: "A ||" }] }, "json.subscriptions.0.tags");
  await put({ subscriptions: [{ topic: "Trade" }], alertSecret: "s" }, "json.alertSecret");
});

// --------------------------------------------------------------- cursors

for (const cursor of ["abc", "0", "%00", "", "!!!!", "A".repeat(1025)]) {
  Deno.test(`GET /v1/groups/{group}/dead-letters and /v1/jobs with cursor ${JSON.stringify(cursor.slice(0, 8))} are 400 problems naming query.cursor`, async () => {
    await using api = await openWithTopic();
    await createGroup(api, "ops", { subscriptions: [{ topic: "Trade" }] });
    await assertRefused(
      api,
      "GET",
      `/v1/groups/ops/dead-letters?cursor=${cursor}`,
      {},
      "query.cursor",
    );
    await assertRefused(api, "GET", `/v1/jobs?cursor=${cursor}`, {}, "query.cursor");
    await assertRefused(api, "GET", `/v1/jobs?state=failed&cursor=${cursor}`, {}, "query.cursor");
  });
}

Deno.test("limits of every listing are validated: out of range or not a number is a 400 problem naming query.limit", async () => {
  await using api = await openWithTopic();
  await createGroup(api, "ops", { subscriptions: [{ topic: "Trade" }] });
  for (const limit of ["0", "1001", "abc", "1.5", "-1"]) {
    for (
      const url of [
        `/v1/groups/ops/dead-letters?limit=${limit}`,
        `/v1/jobs?limit=${limit}`,
        `/v1/transactions?limit=${limit}`,
        `/v1/topics/Trade/messages?key=k&limit=${limit}`,
      ]
    ) await assertRefused(api, "GET", url, {}, "query.limit");
  }
});

// ---------------------------------------------------------- required body

interface OpenApiDoc {
  paths: Record<string, Record<string, { requestBody?: { required?: boolean } }>>;
}

/** Every operation of the document with a JSON body, as a request path with real names. */
async function bodyRoutes(api: TestApi): Promise<Array<[string, string]>> {
  const doc = (await api.get<OpenApiDoc>("/openapi.json")).body;
  const routes: Array<[string, string]> = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (operation.requestBody === undefined) continue;
      assertEquals(operation.requestBody.required, true, `${method} ${path} body is optional`);
      routes.push([
        method.toUpperCase(),
        path.replace(
          /\{[^}]+\}/g,
          (p) => p === "{topic}" ? "Trade" : p === "{group}" ? "ops" : "x",
        ),
      ]);
    }
  }
  assert(routes.length >= 9, `only ${routes.length} body routes`);
  return routes;
}

Deno.test("every route with a JSON body answers 400 naming json when the body is missing, whatever the content type, and stores nothing", async () => {
  await using api = await openWithTopic();
  await createGroup(api, "ops", { subscriptions: [{ topic: "Trade" }] });
  for (const [method, url] of await bodyRoutes(api)) {
    for (
      const headers of <Record<string, string>[]> [{}, { "content-type": "application/json" }, {
        "content-type": "text/plain",
      }]
    ) {
      await assertRefused(api, method, url, { headers }, "json");
    }
  }
});

Deno.test("every route with a JSON body answers 415 to a body sent as another type or with no type, and stores nothing", async () => {
  await using api = await openWithTopic();
  await createGroup(api, "ops", { subscriptions: [{ topic: "Trade" }] });
  const before = await kvSnapshot(api.kv);
  for (const [method, url] of await bodyRoutes(api)) {
    for (
      const headers of <Record<string, string>[]> [{}, { "content-type": "text/plain" }, {
        "content-type": "application/x-www-form-urlencoded",
      }]
    ) {
      const res = await api.send(method, url, { raw: "{}", headers });
      const problem = assertProblem(res, 415, "application/json");
      assertEquals(problem.type, "https://escrow.dev/problems/unsupportedmediatype");
    }
  }
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("a publish without a body stores no message", async () => {
  await using api = await openWithTopic();
  await assertRefused(api, "POST", "/v1/topics/Trade/messages", {}, "json");
  const counts =
    (await api.get<{ counts: Record<string, number> }>("/v1/topics/Trade")).body.counts;
  assert(Object.values(counts).every((n) => n === 0), JSON.stringify(counts));
});

Deno.test("redrive needs messageIds or all: true; no body, {} or both redrive nothing", async () => {
  await using api = await openWithTopic();
  await createGroup(api, "ops", { subscriptions: [{ topic: "Trade" }], maxRetries: 0 });
  await api.post("/v1/topics/Trade/messages", { body: 1 });
  const received = await receive(api, "ops");
  await nack(api, "ops", received.map(handleOf));
  const url = "/v1/groups/ops/dead-letters/redrive";
  await assertRefused(api, "POST", url, {}, "json");
  await assertRefused(api, "POST", url, { json: {} }, "json.messageIds");
  await assertRefused(api, "POST", url, { json: { all: true, messageIds: [] } }, "json.all");
  await assertRefused(api, "POST", url, { json: { all: false } }, "json.all");
  const none = await api.post<{ redriven: number }>(url, { messageIds: [] });
  assertEquals(none.body, { redriven: 0 });
  const all = await api.post<{ redriven: number }>(url, { all: true });
  assertEquals(all.body, { redriven: 1 });
});

// --------------------------------------------------------------- strict JSON

const raw = (text: string): SendOptions => ({
  raw: text,
  headers: { "content-type": "application/json" },
});

const UNREPRESENTABLE: ReadonlyArray<readonly [string, string]> = [
  ['{"body": 1e309}', "json.body"],
  ['{"body": {"amounts": [1, -1e400]}}', "json.body.amounts.1"],
  ['{"body": {"id": 12345678901234567890}}', "json.body.id"],
  ['{"delaySeconds": 1e309}', "json.delaySeconds"],
  ['{"body": 1, "__proto__": {"tag": "x"}}', "json.__proto__"],
  ['{"body": {"a": {"__proto__": {"admin": true}}}}', "json.body.a.__proto__"],
  ['{"body": [{"constructor": {"prototype": 1}}]}', "json.body.0.constructor"],
  ['{"properties": {"prototype": "x"}}', "json.properties.prototype"],
  ['{"body": 1', "json"],
  ['{"body": 1,}', "json"],
  [`{"body": ${"[".repeat(200)}${"]".repeat(200)}}`, "json.body" + ".0".repeat(127)],
  [`{"body": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`, "json"],
];

for (const [text, path] of UNREPRESENTABLE) {
  Deno.test(`POST /v1/topics/{topic}/messages with ${text.slice(0, 48)} is a 400 problem naming ${path.slice(0, 24)} and stores nothing`, async () => {
    await using api = await openWithTopic();
    await assertRefused(api, "POST", "/v1/topics/Trade/messages", raw(text), path);
  });
}

Deno.test("numbers JSON keeps exactly are accepted and read back as sent", async () => {
  await using api = await openWithTopic();
  const body = { big: 9007199254740991, small: -9007199254740991, float: 1.5e300, tiny: 5e-324 };
  const res = await api.send<{ messageId: string }>(
    "POST",
    "/v1/topics/Trade/messages",
    raw(
      `{"body": {"big": 9007199254740991, "small": -9007199254740991, "float": 1.5e300, "tiny": 5e-324}}`,
    ),
  );
  assertEquals(res.status, 201, JSON.stringify(res.body));
  const message = await api.get<{ body: unknown }>(`/v1/messages/${res.body.messageId}`);
  assertEquals(message.body.body, body);
});

Deno.test("strict reading applies to every JSON body route, not only publish", async () => {
  await using api = await openWithTopic();
  await createGroup(api, "ops", { subscriptions: [{ topic: "Trade" }] });
  await assertRefused(
    api,
    "PUT",
    "/v1/groups/ops",
    raw('{"subscriptions": [{"topic": "Trade"}], "visibilityTimeoutSeconds": 1e999}'),
    "json.visibilityTimeoutSeconds",
  );
  await assertRefused(
    api,
    "POST",
    "/v1/groups/ops/receive",
    raw('{"__proto__": {}}'),
    "json.__proto__",
  );
  await assertRefused(
    api,
    "PUT",
    "/v1/producer-groups/w",
    raw('{"checkUrl": "http://127.0.0.1:9/", "constructor": 1}'),
    "json.constructor",
  );
});

// ------------------------------------------------------------------- 405

Deno.test("a known path with the wrong method is a 405 problem with Allow; an unknown path stays a 404", async () => {
  await using api = await openWithTopic();
  const before = await kvSnapshot(api.kv);
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ["DELETE", "/v1/topics/Trade/messages", "GET, HEAD, POST"],
    ["PATCH", "/v1/groups/ops", "DELETE, GET, HEAD, PUT"],
    ["GET", "/v1/transactions/tx-1/commit", "POST"],
    ["POST", "/v1/topics", "GET, HEAD"],
    ["PUT", "/v1/jobs/failed/x", "DELETE"],
  ];
  for (const [method, url, allow] of cases) {
    const res = await api.send(method, url);
    const problem = assertProblem(res, 405, `${method} ${url}`);
    assertEquals(res.headers.get("allow"), allow, `${method} ${url}`);
    assertEquals(problem.type, "https://escrow.dev/problems/methodnotallowed");
    assertStringIncludes(problem.detail, allow);
  }
  for (
    const [method, url] of [["GET", "/v1/nothing"], ["DELETE", "/v1/topics/Trade/tags"], [
      "POST",
      "/v2/topics",
    ]]
  ) {
    assertProblem(await api.send(method!, url!), 404);
  }
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("every operation of /openapi.json answers 405 with an Allow of exactly its path's methods to a method it lacks", async () => {
  await using api = await openWithTopic();
  const doc = (await api.get<OpenApiDoc>("/openapi.json")).body;
  for (const [path, methods] of Object.entries(doc.paths)) {
    const url = path.replace(/\{[^}]+\}/g, "x");
    const documented = Object.keys(methods).map((m) => m.toUpperCase());
    const expected = [...new Set([...documented, ...(documented.includes("GET") ? ["HEAD"] : [])])]
      .sort();
    const missing = ["DELETE", "PATCH", "POST", "PUT"].find((m) => !documented.includes(m))!;
    const res = await api.send(missing, url);
    assertEquals(res.status, 405, `${missing} ${url}: ${JSON.stringify(res.body)}`);
    assertEquals(res.headers.get("allow"), expected.join(", "), `${missing} ${url}`);
  }
});

// --------------------------------------------------------- OpenAPI document

interface SchemaDoc {
  properties?: Record<string, SchemaDoc & { maxLength?: number }>;
  oneOf?: SchemaDoc[];
  anyOf?: SchemaDoc[];
  $ref?: string;
}

Deno.test("/openapi.json gives the URL limit, the redrive choices and the 415 of every JSON body route", async () => {
  await using api = await openApi();
  const doc = (await api.get<
    OpenApiDoc & {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, SchemaDoc & { description?: string }> };
    }
  >("/openapi.json")).body;
  const schemas = doc.components.schemas;
  assertEquals(schemas.PrepareRequest?.properties?.checkUrl?.maxLength, MAX_URL_LENGTH);
  assertEquals(schemas.GroupRequest?.properties?.alertUrl?.maxLength, MAX_URL_LENGTH);
  assert(schemas.RedriveRequest?.properties?.all, "RedriveRequest.all");
  assertStringIncludes(schemas.GroupRequest?.description ?? "", String(MAX_GROUP_CONFIG_BYTES));
  for (const [method, url] of await bodyRoutes(api)) {
    const path = Object.keys(doc.paths).find((p) =>
      p.replace(/\{[^}]+\}/g, (x) => x === "{topic}" ? "Trade" : x === "{group}" ? "ops" : "x") ===
        url
    )!;
    const responses = doc.paths[path]![method.toLowerCase()]!.responses;
    assert(responses["400"] && responses["415"], `${method} ${path}: ${Object.keys(responses)}`);
  }
});
