import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertNotEquals } from "@std/assert/not-equals";
import { encodeBase64 } from "@std/encoding/base64";
import {
  assertIso,
  assertProblem,
  bytes,
  countsOf,
  createTopic,
  kvSnapshot,
  type MessageJson,
  openApi,
  prepare,
  T0,
  type TestApi,
  type TransactionJson,
  type TransactionResultJson,
} from "./_helpers.ts";

const KiB = 1024;
const iso = (ms: number) => new Date(ms).toISOString();

async function getMessage(api: TestApi, messageId: string): Promise<MessageJson> {
  const res = await api.get<MessageJson>(`/v1/messages/${messageId}`);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function getTransaction(api: TestApi, id: string): Promise<TransactionJson> {
  const res = await api.get<TransactionJson>(`/v1/transactions/${id}`);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function byKey(api: TestApi, topic: string, key: string): Promise<string[]> {
  const res = await api.get<{ messages: MessageJson[] }>(`/v1/topics/${topic}/messages?key=${key}`);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body.messages.map((m) => m.messageId);
}

async function decide(
  api: TestApi,
  id: string,
  decision: "commit" | "rollback",
): Promise<TransactionResultJson> {
  const res = await api.post<TransactionResultJson>(`/v1/transactions/${id}/${decision}`);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function listIds(api: TestApi, query: string): Promise<string[]> {
  const res = await api.get<{ transactions: TransactionJson[] }>(`/v1/transactions${query}`);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body.transactions.map((t) => t.transactionId);
}

// --- prepare -------------------------------------------------------------------

Deno.test("POST /v1/topics/{topic}/transactions stores a half message: 201 with transactionId, messageId and state executing", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const res = await api.post<TransactionResultJson>("/v1/topics/Trade/transactions", {
    tag: "DiscountPurchase",
    body: { orderId: 1 },
  });
  assertEquals(res.status, 201);
  assertEquals(res.headers.get("content-type"), "application/json");
  assertEquals(Object.keys(res.body).sort(), ["messageId", "state", "transactionId"]);
  assertEquals(res.body.state, "executing");
  assert(res.body.transactionId.length > 0);
  assert(res.body.messageId.length > 0);
  assertEquals(await countsOf(api, "Trade"), {
    published: 0,
    prepared: 1,
    committed: 0,
    rolledBack: 0,
  });
});

Deno.test("POST /v1/topics/{topic}/transactions gives each transaction without a client id its own ids", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const a = await prepare(api, "Trade", { body: 1 });
  const b = await prepare(api, "Trade", { body: 1 });
  assertNotEquals(a.transactionId, b.transactionId);
  assertNotEquals(a.messageId, b.messageId);
  assertEquals((await countsOf(api, "Trade")).prepared, 2);
});

Deno.test("POST /v1/topics/{topic}/transactions keeps the half message invisible: no publishedAt, not found by key, not counted as published", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  api.advance(1_000);
  const tx = await prepare(api, "Trade", {
    transactionId: "order-1",
    tag: "Ops",
    keys: ["K"],
    body: { orderId: 1 },
  });
  assertEquals(await byKey(api, "Trade", "K"), []);
  assertEquals((await countsOf(api, "Trade")).published, 0);
  const message = await getMessage(api, tx.messageId);
  assertEquals("publishedAt" in message, false);
  assertEquals(message.storedAt, iso(T0 + 1_000));
  assertEquals(message.history, []);
  assertEquals(message.transactionId, "order-1");
  assertEquals(message.body, { orderId: 1 });
  assertEquals(message.keys, ["K"]);
  assertEquals(message.transaction?.state, "executing");
  assertEquals(message.transaction?.transactionId, "order-1");
});

Deno.test("POST /v1/topics/{topic}/transactions with a known transactionId and the same content is 200 with the same result and stores nothing", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const request = {
    transactionId: "order-1",
    tag: "Ops",
    keys: ["K"],
    properties: { a: "1", b: "2" },
    body: { x: 1, y: [1, 2] },
    producerGroup: "shop",
  };
  const first = await prepare(api, "Trade", request);
  api.advance(1_000);
  const before = await kvSnapshot(api.kv);
  const again = await api.post<TransactionResultJson>("/v1/topics/Trade/transactions", request);
  assertEquals(again.status, 200);
  assertEquals(again.body, first);
  // The same content with its fields in another order is the same request.
  const reordered = await api.post<TransactionResultJson>("/v1/topics/Trade/transactions", {
    producerGroup: "shop",
    body: { y: [1, 2], x: 1 },
    properties: { b: "2", a: "1" },
    keys: ["K"],
    tag: "Ops",
    transactionId: "order-1",
  });
  assertEquals(reordered.status, 200);
  assertEquals(reordered.body, first);
  assertEquals(await kvSnapshot(api.kv), before);
  assertEquals((await countsOf(api, "Trade")).prepared, 1);
});

Deno.test("POST /v1/topics/{topic}/transactions retried after the commit is 200 with state committed", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const first = await prepare(api, "Trade", { transactionId: "order-1", body: 1 });
  await decide(api, "order-1", "commit");
  const again = await api.post<TransactionResultJson>("/v1/topics/Trade/transactions", {
    transactionId: "order-1",
    body: 1,
  });
  assertEquals(again.status, 200);
  assertEquals(again.body, { ...first, state: "committed" });
  assertEquals((await countsOf(api, "Trade")).prepared, 1);
});

for (
  const [what, topic, request] of [
    ["another body", "Trade", { transactionId: "order-1", body: 2 }],
    ["another tag", "Trade", { transactionId: "order-1", body: 1, tag: "Other" }],
    ["an added key", "Trade", { transactionId: "order-1", body: 1, keys: ["K"] }],
    ["another topic", "Audit", { transactionId: "order-1", body: 1 }],
  ] as const
) {
  Deno.test(`POST /v1/topics/{topic}/transactions reusing a transactionId with ${what} is a 409 problem and stores nothing`, async () => {
    await using api = await openApi();
    await createTopic(api, "Trade");
    await createTopic(api, "Audit");
    await prepare(api, "Trade", { transactionId: "order-1", body: 1 });
    const before = await kvSnapshot(api.kv);
    const res = await api.post(`/v1/topics/${topic}/transactions`, request);
    const problem = assertProblem(res, 409, "order-1");
    assertEquals(problem.type, "https://escrow.dev/problems/conflict");
    assertEquals(problem.transactionId, "order-1");
    assertEquals(problem.state, "executing");
    assertEquals(await kvSnapshot(api.kv), before);
  });
}

Deno.test("POST /v1/topics/{topic}/transactions accepts a 128-character transactionId of letters, digits and _ . : -", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const id = `shop:order-42.v1_${"x".repeat(111)}`;
  assertEquals(id.length, 128);
  const tx = await prepare(api, "Trade", { transactionId: id });
  assertEquals(tx.transactionId, id);
  assertEquals((await getTransaction(api, id)).transactionId, id);
});

// --- commit and rollback ------------------------------------------------------------

Deno.test("POST /v1/transactions/{id}/commit is 200 and makes the message visible", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const tx = await prepare(api, "Trade", { transactionId: "order-1", tag: "Ops", keys: ["K"] });
  api.advance(3_000);
  const res = await api.post<TransactionResultJson>("/v1/transactions/order-1/commit");
  assertEquals(res.status, 200);
  assertEquals(res.body, { transactionId: "order-1", messageId: tx.messageId, state: "committed" });

  assertEquals(await byKey(api, "Trade", "K"), [tx.messageId]);
  const message = await getMessage(api, tx.messageId);
  assertEquals(message.publishedAt, iso(T0 + 3_000));
  assertEquals(message.history, [{
    type: "MessagePublished",
    at: iso(T0 + 3_000),
    data: { topic: "Trade", tag: "Ops", transactionId: "order-1" },
  }]);
  assertEquals(message.transaction?.state, "committed");
  assertEquals(await countsOf(api, "Trade"), {
    published: 1,
    prepared: 1,
    committed: 1,
    rolledBack: 0,
  });
});

Deno.test("POST /v1/transactions/{id}/rollback is 200 and the message never becomes visible", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const tx = await prepare(api, "Trade", { transactionId: "order-1", keys: ["K"] });
  const res = await api.post<TransactionResultJson>("/v1/transactions/order-1/rollback");
  assertEquals(res.status, 200);
  assertEquals(res.body, {
    transactionId: "order-1",
    messageId: tx.messageId,
    state: "rolledBack",
  });
  assertEquals(await byKey(api, "Trade", "K"), []);
  const message = await getMessage(api, tx.messageId);
  assertEquals("publishedAt" in message, false);
  assertEquals(message.history, []);
  assertEquals(message.transaction?.state, "rolledBack");
  assertEquals(await countsOf(api, "Trade"), {
    published: 0,
    prepared: 1,
    committed: 0,
    rolledBack: 1,
  });
});

for (const decision of ["commit", "rollback"] as const) {
  const state = decision === "commit" ? "committed" : "rolledBack";
  Deno.test(`POST /v1/transactions/{id}/${decision} repeated is 200 and changes nothing`, async () => {
    await using api = await openApi();
    await createTopic(api, "Trade");
    await prepare(api, "Trade", { transactionId: "order-1", keys: ["K"] });
    const first = await decide(api, "order-1", decision);
    const history = (await getTransaction(api, "order-1")).history;
    const counts = await countsOf(api, "Trade");
    const before = await kvSnapshot(api.kv);
    api.advance(10_000);
    const again = await api.post<TransactionResultJson>(`/v1/transactions/order-1/${decision}`);
    assertEquals(again.status, 200);
    assertEquals(again.body, first);
    assertEquals(again.body.state, state);
    const after = await getTransaction(api, "order-1");
    assertEquals(after.history?.length, history?.length);
    assertEquals(after.history, history);
    assertEquals(await countsOf(api, "Trade"), counts);
    assertEquals(await kvSnapshot(api.kv), before);
  });

  const opposite = decision === "commit" ? "rollback" : "commit";
  Deno.test(`POST /v1/transactions/{id}/${opposite} after ${decision} is a 409 problem with state ${state} and changes nothing`, async () => {
    await using api = await openApi();
    await createTopic(api, "Trade");
    await prepare(api, "Trade", { transactionId: "order-1" });
    await decide(api, "order-1", decision);
    const before = await kvSnapshot(api.kv);
    const res = await api.post(`/v1/transactions/order-1/${opposite}`);
    const problem = assertProblem(res, 409, `current state is ${state}`);
    assertEquals(problem.type, "https://escrow.dev/problems/conflict");
    assertEquals(problem.title, "Conflict");
    assertEquals(problem.state, state);
    assertEquals(problem.transactionId, "order-1");
    assertEquals(await kvSnapshot(api.kv), before);
    assertEquals((await getTransaction(api, "order-1")).state, state);
  });

  Deno.test(`POST /v1/transactions/{id}/${decision} of an unknown transaction is a 404 problem`, async () => {
    await using api = await openApi();
    const before = await kvSnapshot(api.kv);
    const problem = assertProblem(await api.post(`/v1/transactions/nope/${decision}`), 404, "nope");
    assertEquals(problem.type, "https://escrow.dev/problems/notfound");
    assertEquals(problem.transactionId, "nope");
    assertEquals(await kvSnapshot(api.kv), before);
  });

  Deno.test(`POST /v1/transactions/{id}/${decision} with an invalid id is a 400 problem`, async () => {
    await using api = await openApi();
    assertProblem(
      await api.post(`/v1/transactions/${encodeURIComponent("bad id!")}/${decision}`),
      400,
      "param.id",
    );
    assertProblem(
      await api.post(`/v1/transactions/${"x".repeat(129)}/${decision}`),
      400,
      "param.id",
    );
  });
}

Deno.test("POST /v1/transactions/{id}/commit after the check-backs ran out is a 409 problem with state rolledBack", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  await prepare(api, "Trade", { transactionId: "order-1", maxChecks: 1, checkAfterSeconds: 6 });
  api.advance(6_000);
  // Runs the due check-back once (no check URL: it fails and spends the only check).
  await api.broker.scheduler.runDue();
  const tx = await getTransaction(api, "order-1");
  assertEquals(tx.state, "rolledBack");
  assertEquals(tx.reason, "checksExhausted");
  assertEquals(tx.checks, 1);
  assertEquals(tx.history?.map((e) => e.type), [
    "TransactionPrepared",
    "LocalTransactionStarted",
    "CheckBackRequested",
    "CheckBackFailed",
  ]);
  const problem = assertProblem(await api.post("/v1/transactions/order-1/commit"), 409);
  assertEquals(problem.state, "rolledBack");
  assertEquals(await listIds(api, "?state=rolledBack"), ["order-1"]);
  assertEquals((await countsOf(api, "Trade")).rolledBack, 1);
});

// --- reading transactions ------------------------------------------------------------

Deno.test("GET /v1/transactions/{id} shows an executing transaction with its history", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  api.advance(1_000);
  const tx = await prepare(api, "Trade", {
    transactionId: "order-1",
    tag: "Ops",
    producerGroup: "shop",
    checkUrl: "https://shop.example/check",
    checkAfterSeconds: 10,
    checkIntervalSeconds: 20,
    maxChecks: 3,
  });
  const res = await api.get<TransactionJson>("/v1/transactions/order-1");
  assertEquals(res.status, 200);
  const { history, ...rest } = res.body;
  assertEquals(rest, {
    transactionId: "order-1",
    messageId: tx.messageId,
    topic: "Trade",
    tag: "Ops",
    producerGroup: "shop",
    state: "executing",
    checks: 0,
    createdAt: iso(T0 + 1_000),
  });
  assert(history);
  assertEquals(history.map((e) => e.type), ["TransactionPrepared", "LocalTransactionStarted"]);
  for (const event of history) {
    assertEquals(Object.keys(event).sort(), ["at", "data", "type"]);
    assertIso(event.at);
    assertEquals(event.at, iso(T0 + 1_000));
  }
  const prepared = history[0]!.data as Record<string, unknown>;
  assertEquals(prepared, {
    transactionId: "order-1",
    messageId: tx.messageId,
    topic: "Trade",
    tag: "Ops",
    producerGroup: "shop",
    checkUrl: "https://shop.example/check",
    checkAfterMs: 10_000,
    checkIntervalMs: 20_000,
    maxChecks: 3,
  });
  assertEquals(history[1]!.data, {});
});

Deno.test("GET /v1/transactions/{id} shows a decided transaction with decidedAt, reason and the decision in its history", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  await prepare(api, "Trade", { transactionId: "order-1" });
  api.advance(2_500);
  await decide(api, "order-1", "rollback");
  const tx = await getTransaction(api, "order-1");
  assertEquals(tx.state, "rolledBack");
  assertEquals(tx.createdAt, iso(T0));
  assertEquals(tx.decidedAt, iso(T0 + 2_500));
  assertEquals(tx.reason, "producer");
  assertEquals(tx.history?.at(-1), {
    type: "TransactionRolledBack",
    at: iso(T0 + 2_500),
    data: {},
  });
  assertEquals(tx.history?.length, 3);
});

Deno.test("GET /v1/transactions/{id} of an unknown transaction is a 404 problem and of an invalid id a 400", async () => {
  await using api = await openApi();
  const missing = assertProblem(await api.get("/v1/transactions/nope"), 404, "nope");
  assertEquals(missing.transactionId, "nope");
  assertProblem(await api.get(`/v1/transactions/${encodeURIComponent("a b")}`), 400, "param.id");
});

Deno.test("GET /v1/transactions filters by state, producer group and limit", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  await prepare(api, "Trade", { transactionId: "t-a", producerGroup: "g1" });
  await prepare(api, "Trade", { transactionId: "t-b", producerGroup: "g1" });
  await prepare(api, "Trade", { transactionId: "t-c", producerGroup: "g2" });
  await prepare(api, "Trade", { transactionId: "t-d", producerGroup: "g1" });
  await prepare(api, "Trade", { transactionId: "t-e" });
  await decide(api, "t-a", "commit");
  await decide(api, "t-b", "rollback");
  await decide(api, "t-c", "commit");
  await decide(api, "t-e", "commit");

  assertEquals(await listIds(api, "?state=committed&producerGroup=g1"), ["t-a"]);
  assertEquals(await listIds(api, "?state=committed"), ["t-a", "t-c", "t-e"]);
  assertEquals(await listIds(api, "?state=committed&limit=2"), ["t-a", "t-c"]);
  assertEquals(await listIds(api, "?state=rolledBack"), ["t-b"]);
  assertEquals(await listIds(api, "?state=executing"), ["t-d"]);
  assertEquals(await listIds(api, "?state=executing&producerGroup=g2"), []);
  assertEquals(await listIds(api, "?state=checking"), []);
  assertEquals(await listIds(api, "?producerGroup=g1"), ["t-a", "t-b", "t-d"]);
  assertEquals(await listIds(api, "?producerGroup=g1&limit=1"), ["t-a"]);
  assertEquals(await listIds(api, "?producerGroup=none"), []);
  // Without a state: by state, then by id.
  assertEquals(await listIds(api, ""), ["t-a", "t-c", "t-e", "t-d", "t-b"]);
  assertEquals(await listIds(api, "?limit=4"), ["t-a", "t-c", "t-e", "t-d"]);
});

Deno.test("GET /v1/transactions lists transactions without their history", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const tx = await prepare(api, "Trade", { transactionId: "t-a", tag: "Ops", producerGroup: "g" });
  api.advance(1_000);
  await decide(api, "t-a", "commit");
  const res = await api.get<{ transactions: TransactionJson[] }>(
    "/v1/transactions?state=committed",
  );
  assertEquals(res.status, 200);
  assertEquals(res.body.transactions, [{
    transactionId: "t-a",
    messageId: tx.messageId,
    topic: "Trade",
    tag: "Ops",
    producerGroup: "g",
    state: "committed",
    checks: 0,
    createdAt: iso(T0),
    decidedAt: iso(T0 + 1_000),
    reason: "producer",
  }]);
});

Deno.test("GET /v1/transactions with an unknown state, a bad limit or a bad group is a 400 problem", async () => {
  await using api = await openApi();
  assertProblem(await api.get("/v1/transactions?state=done"), 400, "query.state");
  assertProblem(await api.get("/v1/transactions?limit=0"), 400, "query.limit");
  assertProblem(await api.get("/v1/transactions?limit=1001"), 400, "query.limit");
  assertProblem(await api.get("/v1/transactions?limit=1.5"), 400, "query.limit");
  assertProblem(await api.get("/v1/transactions?limit=many"), 400, "query.limit");
  assertProblem(
    await api.get(`/v1/transactions?producerGroup=${encodeURIComponent("bad group")}`),
    400,
    "query.producerGroup",
  );
});

// --- bad prepare requests: a 4xx problem and nothing stored -------------------------------

interface BadPrepare {
  readonly what: string;
  readonly status: number;
  readonly detail: string;
  readonly topic?: string;
  readonly json?: unknown;
  readonly raw?: string;
  readonly headers?: Record<string, string>;
}

const badPrepares: BadPrepare[] = [
  { what: "an unknown topic", status: 404, detail: "Nope", topic: "Nope", json: { body: 1 } },
  {
    what: "an invalid topic name",
    status: 400,
    detail: "param.topic",
    topic: encodeURIComponent("bad name!"),
    json: {},
  },
  {
    what: "a transactionId with a space",
    status: 400,
    detail: "json.transactionId",
    json: { transactionId: "order 1" },
  },
  {
    what: "a 129-character transactionId",
    status: 400,
    detail: "json.transactionId",
    json: { transactionId: "t".repeat(129) },
  },
  {
    what: "an empty transactionId",
    status: 400,
    detail: "json.transactionId",
    json: { transactionId: "" },
  },
  {
    what: "an invalid producerGroup",
    status: 400,
    detail: "json.producerGroup",
    json: { producerGroup: "shop floor" },
  },
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
    json: { checkUrl: "ftp://shop.example/check" },
  },
  {
    what: "a relative checkUrl",
    status: 400,
    detail: "json.checkUrl",
    json: { checkUrl: "/check" },
  },
  { what: "maxChecks 0", status: 400, detail: "json.maxChecks", json: { maxChecks: 0 } },
  { what: "maxChecks 1001", status: 400, detail: "json.maxChecks", json: { maxChecks: 1001 } },
  {
    what: "a fractional maxChecks",
    status: 400,
    detail: "json.maxChecks",
    json: { maxChecks: 1.5 },
  },
  {
    what: "a negative checkAfterSeconds",
    status: 400,
    detail: "json.checkAfterSeconds",
    json: { checkAfterSeconds: -1 },
  },
  {
    what: "a checkAfterSeconds over a day",
    status: 400,
    detail: "json.checkAfterSeconds",
    json: { checkAfterSeconds: 24 * 3600 + 1 },
  },
  {
    what: "checkIntervalSeconds 0",
    status: 400,
    detail: "json.checkIntervalSeconds",
    json: { checkIntervalSeconds: 0 },
  },
  { what: "an invalid tag", status: 400, detail: "json.tag", json: { tag: "bad tag" } },
  {
    what: "33 keys",
    status: 400,
    detail: "json.keys",
    json: { keys: Array.from({ length: 33 }, (_, i) => `k${i}`) },
  },
  {
    what: "a 129-character key",
    status: 400,
    detail: "json.keys",
    json: { keys: ["k".repeat(129)] },
  },
  {
    what: "129 properties",
    status: 400,
    detail: "json.properties",
    json: {
      properties: Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`p${i}`, "v"])),
    },
  },
  {
    what: "properties over 16 KiB",
    status: 400,
    detail: "json.properties",
    json: { properties: { k: "v".repeat(16 * KiB) } },
  },
  {
    what: "a negative delaySeconds",
    status: 400,
    detail: "json.delaySeconds",
    json: { delaySeconds: -1 },
  },
  {
    what: "both body and bodyBase64",
    status: 400,
    detail: "either body or bodyBase64",
    json: { body: 1, bodyBase64: "AAEC" },
  },
  { what: "invalid base64", status: 400, detail: "json.bodyBase64", json: { bodyBase64: "@@@" } },
  { what: "an unknown field", status: 400, detail: "json", json: { body: 1, timeout: 5 } },
  {
    what: "malformed JSON",
    status: 400,
    detail: "Malformed JSON",
    raw: "{transactionId: 1}",
    headers: { "content-type": "application/json" },
  },
  {
    what: "a body of 4,100 KiB of bytes (bodyBase64)",
    status: 413,
    detail: "4194304",
    json: { transactionId: "big", bodyBase64: encodeBase64(bytes(4100 * KiB)) },
  },
  {
    what: "a request over 6 MiB",
    status: 413,
    detail: "6291456",
    json: { body: "x".repeat(6144 * KiB) },
  },
];

for (const bad of badPrepares) {
  Deno.test(`POST /v1/topics/{topic}/transactions with ${bad.what} is a ${bad.status} problem and stores nothing`, async () => {
    await using api = await openApi();
    await createTopic(api, "Trade");
    const before = await kvSnapshot(api.kv);
    const res = await api.send("POST", `/v1/topics/${bad.topic ?? "Trade"}/transactions`, {
      ...(bad.json !== undefined ? { json: bad.json } : {}),
      ...(bad.raw !== undefined ? { raw: bad.raw } : {}),
      ...(bad.headers ? { headers: bad.headers } : {}),
    });
    assertProblem(res, bad.status, bad.detail);
    assertEquals(await kvSnapshot(api.kv), before);
    assertEquals(await listIds(api, ""), []);
    assertEquals((await countsOf(api, "Trade")).prepared, 0);
  });
}

// --- concurrent requests ------------------------------------------------------------

Deno.test("POST /v1/topics/{topic}/transactions sent at once with one transactionId creates one transaction", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const answers = await Promise.all(
    Array.from(
      { length: 6 },
      () =>
        api.post<TransactionResultJson>("/v1/topics/Trade/transactions", {
          transactionId: "order-1",
          body: { a: 1 },
        }),
    ),
  );
  assertEquals(answers.map((a) => a.status).sort(), [200, 200, 200, 200, 200, 201]);
  assertEquals(new Set(answers.map((a) => a.body.messageId)).size, 1);
  assertEquals((await countsOf(api, "Trade")).prepared, 1);
  assertEquals((await getTransaction(api, "order-1")).history?.length, 2);
});

Deno.test("POST /v1/transactions/{id}/commit sent at once several times commits and publishes once", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const tx = await prepare(api, "Trade", { transactionId: "order-1", keys: ["K"] });
  const answers = await Promise.all(
    Array.from(
      { length: 6 },
      () => api.post<TransactionResultJson>("/v1/transactions/order-1/commit"),
    ),
  );
  for (const answer of answers) {
    assertEquals(answer.status, 200);
    assertEquals(answer.body.state, "committed");
  }
  const history = (await getTransaction(api, "order-1")).history ?? [];
  assertEquals(history.filter((e) => e.type === "TransactionCommitted").length, 1);
  assertEquals(await byKey(api, "Trade", "K"), [tx.messageId]);
  assertEquals((await getMessage(api, tx.messageId)).history.length, 1);
  assertEquals(await countsOf(api, "Trade"), {
    published: 1,
    prepared: 1,
    committed: 1,
    rolledBack: 0,
  });
});

Deno.test("POST commit and rollback sent at once: one wins with 200, the other is a 409", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  await prepare(api, "Trade", { transactionId: "order-1" });
  const [commit, rollback] = await Promise.all([
    api.post<TransactionResultJson>("/v1/transactions/order-1/commit"),
    api.post<TransactionResultJson>("/v1/transactions/order-1/rollback"),
  ]);
  assertEquals([commit.status, rollback.status].sort(), [200, 409]);
  const winner = commit.status === 200 ? commit.body.state : rollback.body.state;
  const tx = await getTransaction(api, "order-1");
  assertEquals(tx.state, winner);
  const counts = await countsOf(api, "Trade");
  assertEquals(counts.committed + counts.rolledBack, 1);
  assertEquals(counts.published, counts.committed);
});

Deno.test("GET /v1/transactions lists at most 100 transactions by default", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  for (let i = 0; i < 101; i++) {
    await prepare(api, "Trade", { transactionId: `t-${String(i).padStart(3, "0")}` });
  }
  const ids = await listIds(api, "?state=executing");
  assertEquals(ids.length, 100);
  assertEquals(ids[0], "t-000");
  assertEquals(ids.at(-1), "t-099");
  assertEquals((await listIds(api, "?state=executing&limit=1000")).length, 101);
});
