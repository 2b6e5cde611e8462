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
  publish,
  type PublishJson,
  T0,
  type TestApi,
} from "./_helpers.ts";

const KiB = 1024;

async function getMessage(api: TestApi, messageId: string): Promise<MessageJson> {
  const res = await api.get<MessageJson>(`/v1/messages/${messageId}`);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function byKey(api: TestApi, topic: string, query: string): Promise<string[]> {
  const res = await api.get<{ messages: MessageJson[] }>(`/v1/topics/${topic}/messages?${query}`);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body.messages.map((m) => m.messageId);
}

// --- publishing -------------------------------------------------------------

Deno.test("POST /v1/topics/{topic}/messages stores a message: 201 with messageId, topic, tag, publishedAt and duplicate false", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  api.advance(5_000);
  const res = await api.post<PublishJson>("/v1/topics/Trade/messages", {
    tag: "Ops",
    body: { id: 1 },
  });
  assertEquals(res.status, 201);
  assertEquals(res.headers.get("content-type"), "application/json");
  const { messageId, ...rest } = res.body;
  assert(typeof messageId === "string" && messageId.length > 0);
  assertEquals(rest, {
    topic: "Trade",
    tag: "Ops",
    publishedAt: new Date(T0 + 5_000).toISOString(),
    duplicate: false,
  });
  assertEquals((await countsOf(api, "Trade")).published, 1);
});

Deno.test("POST /v1/topics/{topic}/messages without a tag answers without a tag field", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const res = await api.post<PublishJson>("/v1/topics/Trade/messages", {});
  assertEquals(res.status, 201);
  assertEquals(Object.keys(res.body).sort(), ["duplicate", "messageId", "publishedAt", "topic"]);
});

Deno.test("POST /v1/topics/{topic}/messages gives every message its own id", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const ids = new Set<string>();
  for (let i = 0; i < 5; i++) ids.add((await publish(api, "Trade", { body: i })).messageId);
  assertEquals(ids.size, 5);
  assertEquals((await countsOf(api, "Trade")).published, 5);
});

Deno.test("POST /v1/topics/{topic}/messages with a seen dedupId is 200 with the first message and stores nothing", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const first = await publish(api, "Trade", { tag: "Ops", dedupId: "order-1", body: "first" });
  api.advance(60_000);
  const before = await kvSnapshot(api.kv);
  const again = await api.post<PublishJson>("/v1/topics/Trade/messages", {
    tag: "Ops",
    dedupId: "order-1",
    body: "second",
  });
  assertEquals(again.status, 200);
  assertEquals(again.body, { ...first, duplicate: true });
  assertEquals(await kvSnapshot(api.kv), before);
  assertEquals(await countsOf(api, "Trade"), {
    published: 1,
    prepared: 0,
    committed: 0,
    rolledBack: 0,
  });
  assertEquals((await getMessage(api, first.messageId)).body, "first");
});

Deno.test("POST /v1/topics/{topic}/messages with another dedupId stores a new message", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const first = await publish(api, "Trade", { dedupId: "order-1" });
  const second = await publish(api, "Trade", { dedupId: "order-2" });
  assertNotEquals(second.messageId, first.messageId);
  assertEquals((await countsOf(api, "Trade")).published, 2);
});

Deno.test("POST /v1/topics/{topic}/messages remembers a dedupId per topic", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  await createTopic(api, "Audit");
  const trade = await publish(api, "Trade", { dedupId: "order-1" });
  const audit = await publish(api, "Audit", { dedupId: "order-1" });
  assertNotEquals(audit.messageId, trade.messageId);
  assertEquals(audit.duplicate, false);
});

Deno.test("POST /v1/topics/{topic}/messages forgets a dedupId after 24 hours", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const first = await publish(api, "Trade", { dedupId: "order-1" });
  api.advance(24 * 3600 * 1000 - 1);
  const within = await api.post<PublishJson>("/v1/topics/Trade/messages", { dedupId: "order-1" });
  assertEquals(within.status, 200);
  assertEquals(within.body.messageId, first.messageId);
  api.advance(1);
  const after = await api.post<PublishJson>("/v1/topics/Trade/messages", { dedupId: "order-1" });
  assertEquals(after.status, 201);
  assertNotEquals(after.body.messageId, first.messageId);
  assertEquals((await countsOf(api, "Trade")).published, 2);
});

Deno.test("POST /v1/topics/{topic}/messages treats the Idempotency-Key header as the dedupId", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const first = await api.post<PublishJson>("/v1/topics/Trade/messages", { body: 1 }, {
    "Idempotency-Key": "req-7",
  });
  assertEquals(first.status, 201);
  assertEquals(first.body.duplicate, false);
  assertEquals((await getMessage(api, first.body.messageId)).dedupId, "req-7");

  const before = await kvSnapshot(api.kv);
  const again = await api.post<PublishJson>("/v1/topics/Trade/messages", { body: 1 }, {
    "Idempotency-Key": "req-7",
  });
  assertEquals(again.status, 200);
  assertEquals(again.body, { ...first.body, duplicate: true });
  // The same value given as dedupId in the body is the same message.
  const asBody = await api.post<PublishJson>("/v1/topics/Trade/messages", { dedupId: "req-7" });
  assertEquals(asBody.status, 200);
  assertEquals(asBody.body.messageId, first.body.messageId);
  assertEquals(await kvSnapshot(api.kv), before);
  assertEquals((await countsOf(api, "Trade")).published, 1);
});

Deno.test("POST /v1/topics/{topic}/messages prefers the body's dedupId over the Idempotency-Key header", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const first = await api.post<PublishJson>("/v1/topics/Trade/messages", { dedupId: "d-1" }, {
    "Idempotency-Key": "h-1",
  });
  assertEquals(first.status, 201);
  assertEquals((await getMessage(api, first.body.messageId)).dedupId, "d-1");
  const byHeader = await api.post<PublishJson>("/v1/topics/Trade/messages", {}, {
    "Idempotency-Key": "h-1",
  });
  assertEquals(byHeader.status, 201);
  assertNotEquals(byHeader.body.messageId, first.body.messageId);
});

// --- reading messages back -------------------------------------------------------

Deno.test("GET /v1/messages/{id} returns a JSON body as it was sent, with every field", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const body = {
    id: 42,
    name: "Zoë 漢字 🚀",
    price: 19.99,
    tags: ["a", "b"],
    nested: { ok: true, none: null, list: [1, [2, { three: 3 }]] },
  };
  api.advance(2_000);
  const sent = await publish(api, "Trade", {
    tag: "Ops.v1",
    body,
    keys: ["order-1", "customer-9"],
    properties: { region: "SH", "x-trace": "abc" },
    delaySeconds: 1.5,
    messageGroup: "customer-9",
    dedupId: "order-1-created",
  });
  const message = await getMessage(api, sent.messageId);
  assertEquals(message, {
    messageId: sent.messageId,
    topic: "Trade",
    tag: "Ops.v1",
    keys: ["order-1", "customer-9"],
    properties: { region: "SH", "x-trace": "abc" },
    body,
    storedAt: new Date(T0 + 2_000).toISOString(),
    publishedAt: sent.publishedAt,
    delaySeconds: 1.5,
    messageGroup: "customer-9",
    dedupId: "order-1-created",
    history: [{
      type: "MessagePublished",
      at: sent.publishedAt,
      data: { topic: "Trade", tag: "Ops.v1" },
    }],
    deliveries: [],
  });
});

Deno.test("GET /v1/messages/{id} returns JSON scalars, null and strings as bodies", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  for (const body of [0, -1.25, true, false, null, "", "text", [], {}]) {
    const sent = await publish(api, "Trade", { body });
    const message = await getMessage(api, sent.messageId);
    assertEquals(message.body, body, `body ${JSON.stringify(body)}`);
    assertEquals("bodyBase64" in message, false);
  }
});

Deno.test("GET /v1/messages/{id} of a message sent without a body has neither body nor bodyBase64", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const sent = await publish(api, "Trade", { tag: "Ops" });
  const message = await getMessage(api, sent.messageId);
  assertEquals("body" in message, false);
  assertEquals("bodyBase64" in message, false);
  assertEquals(message.keys, []);
  assertEquals(message.properties, {});
});

Deno.test("GET /v1/messages/{id} returns bodyBase64 bytes exactly as sent", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  for (const size of [0, 1, 2, 3, 256, 1000]) {
    const bodyBase64 = encodeBase64(Uint8Array.from({ length: size }, (_, i) => i % 256));
    const sent = await publish(api, "Trade", { bodyBase64 });
    const message = await getMessage(api, sent.messageId);
    assertEquals(message.bodyBase64, bodyBase64, `size ${size}`);
    assertEquals("body" in message, false);
  }
});

Deno.test("GET /v1/messages/{id} returns a large bodyBase64 (stored in chunks) exactly as sent", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  for (const size of [40 * KiB + 1, 200 * KiB, 256 * KiB, 256 * KiB + 1, 4096 * KiB]) {
    const bodyBase64 = encodeBase64(bytes(size, size));
    const sent = await publish(api, "Trade", { bodyBase64 });
    assertEquals((await getMessage(api, sent.messageId)).bodyBase64, bodyBase64, `size ${size}`);
  }
});

Deno.test("GET /v1/messages/{id} returns a large JSON body exactly as sent", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const body = { rows: Array.from({ length: 5_000 }, (_, i) => ({ i, s: `row ${i}` })) };
  const sent = await publish(api, "Trade", { body });
  assertEquals((await getMessage(api, sent.messageId)).body, body);
});

Deno.test("GET /v1/messages/{id} of an unknown message is a 404 problem", async () => {
  await using api = await openApi();
  const problem = assertProblem(await api.get("/v1/messages/01NOPE"), 404, "01NOPE");
  assertEquals(problem.messageId, "01NOPE");
});

// --- lookups by key --------------------------------------------------------------

Deno.test("GET /v1/topics/{topic}/messages?key= lists the messages carrying the key, newest first", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const m1 = await publish(api, "Trade", { keys: ["K"], body: 1 });
  const m2 = await publish(api, "Trade", { keys: ["K", "L"], body: 2 });
  const m3 = await publish(api, "Trade", { keys: ["L"], body: 3 });
  const m4 = await publish(api, "Trade", { keys: ["K"], body: 4 });
  assertEquals(await byKey(api, "Trade", "key=K"), [m4.messageId, m2.messageId, m1.messageId]);
  assertEquals(await byKey(api, "Trade", "key=L"), [m3.messageId, m2.messageId]);
  assertEquals(await byKey(api, "Trade", "key=K&limit=2"), [m4.messageId, m2.messageId]);
  assertEquals(await byKey(api, "Trade", "key=none"), []);
});

Deno.test("GET /v1/topics/{topic}/messages?key= returns whole messages with their bodies", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const sent = await publish(api, "Trade", { keys: ["order 1/ä"], tag: "Ops", body: { a: 1 } });
  const res = await api.get<{ messages: MessageJson[] }>(
    `/v1/topics/Trade/messages?key=${encodeURIComponent("order 1/ä")}`,
  );
  assertEquals(res.status, 200);
  assertEquals(res.body.messages, [await getMessage(api, sent.messageId)]);
  assertEquals(res.body.messages[0]?.body, { a: 1 });
});

Deno.test("GET /v1/topics/{topic}/messages?key= lists a message once even if it repeats the key", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const sent = await publish(api, "Trade", { keys: ["K", "K"] });
  assertEquals(await byKey(api, "Trade", "key=K"), [sent.messageId]);
});

Deno.test("GET /v1/topics/{topic}/messages?key= only lists messages of that topic", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  await createTopic(api, "Audit");
  const trade = await publish(api, "Trade", { keys: ["K"] });
  await publish(api, "Audit", { keys: ["K"] });
  assertEquals(await byKey(api, "Trade", "key=K"), [trade.messageId]);
});

Deno.test("GET /v1/topics/{topic}/messages of an unknown topic is a 404 problem", async () => {
  await using api = await openApi();
  assertProblem(await api.get("/v1/topics/Nope/messages?key=K"), 404, "Nope");
});

Deno.test("GET /v1/topics/{topic}/messages without a key or with a bad limit is a 400 problem", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  assertProblem(await api.get("/v1/topics/Trade/messages"), 400, "query.key");
  assertProblem(await api.get("/v1/topics/Trade/messages?key="), 400, "query.key");
  assertProblem(await api.get("/v1/topics/Trade/messages?key=K&limit=0"), 400, "query.limit");
  assertProblem(await api.get("/v1/topics/Trade/messages?key=K&limit=abc"), 400, "query.limit");
  assertProblem(await api.get("/v1/topics/Trade/messages?key=K&limit=1001"), 400, "query.limit");
});

// --- limits that are accepted --------------------------------------------------

Deno.test("POST /v1/topics/{topic}/messages accepts every documented limit exactly", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const properties = Object.fromEntries(
    Array.from({ length: 128 }, (_, i) => [`p${String(i).padStart(3, "0")}`, "v"]),
  );
  const accepted: Array<[string, Record<string, unknown>]> = [
    ["a 64-character tag", { tag: "t".repeat(64) }],
    ["32 keys", { keys: Array.from({ length: 32 }, (_, i) => `k${i}`) }],
    ["a 128-character key", { keys: ["k".repeat(128)] }],
    ["128 properties", { properties }],
    ["16 KiB of properties", { properties: { k: "v".repeat(16 * KiB - 1) } }],
    ["delaySeconds 0", { delaySeconds: 0 }],
    ["delaySeconds of 30 days", { delaySeconds: 30 * 24 * 3600 }],
    ["a 128-character dedupId", { dedupId: "d".repeat(128) }],
    ["a 4 MiB bodyBase64", { bodyBase64: encodeBase64(bytes(4096 * KiB)) }],
    ["a 4 MiB JSON body", { body: "x".repeat(4096 * KiB - 2) }],
  ];
  for (const [what, message] of accepted) {
    const res = await api.post<PublishJson>("/v1/topics/Trade/messages", message);
    assertEquals(res.status, 201, `${what}: ${JSON.stringify(res.body)}`);
  }
  assertEquals((await countsOf(api, "Trade")).published, accepted.length);
});

// --- bad input: a 4xx problem and nothing stored ---------------------------------

interface BadPublish {
  /** What is wrong, for the test name. */
  readonly what: string;
  readonly status: number;
  /** Text the problem's detail must include. */
  readonly detail: string;
  readonly topic?: string;
  readonly json?: unknown;
  readonly raw?: string;
  readonly headers?: Record<string, string>;
}

const badPublishes: BadPublish[] = [
  {
    what: "an invalid topic name",
    status: 400,
    detail: "param.topic",
    topic: encodeURIComponent("bad name!"),
    json: {},
  },
  {
    what: "a 65-character topic name",
    status: 400,
    detail: "param.topic",
    topic: "x".repeat(65),
    json: {},
  },
  { what: "an unknown topic", status: 404, detail: "Nope", topic: "Nope", json: { body: 1 } },
  { what: "a tag with a space", status: 400, detail: "json.tag", json: { tag: "bad tag" } },
  { what: "a tag with '||'", status: 400, detail: "json.tag", json: { tag: "a||b" } },
  { what: "a 65-character tag", status: 400, detail: "json.tag", json: { tag: "t".repeat(65) } },
  { what: "an empty tag", status: 400, detail: "json.tag", json: { tag: "" } },
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
  { what: "an empty key", status: 400, detail: "json.keys", json: { keys: [""] } },
  { what: "keys that are not strings", status: 400, detail: "json.keys", json: { keys: [1] } },
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
    what: "properties over 16 KiB of UTF-8 in fewer characters",
    status: 400,
    detail: "json.properties",
    json: { properties: { k: "é".repeat(8 * KiB + 1) } },
  },
  {
    what: "a property value that is not a string",
    status: 400,
    detail: "json.properties",
    json: { properties: { n: 1 } },
  },
  {
    what: "both body and bodyBase64",
    status: 400,
    detail: "either body or bodyBase64",
    json: { body: { a: 1 }, bodyBase64: "AAEC" },
  },
  {
    what: "invalid base64",
    status: 400,
    detail: "json.bodyBase64",
    json: { bodyBase64: "not base64!" },
  },
  {
    what: "a negative delaySeconds",
    status: 400,
    detail: "json.delaySeconds",
    json: { delaySeconds: -1 },
  },
  {
    what: "a delaySeconds over 30 days",
    status: 400,
    detail: "json.delaySeconds",
    json: { delaySeconds: 30 * 24 * 3600 + 1 },
  },
  {
    what: "a delaySeconds given as a string",
    status: 400,
    detail: "json.delaySeconds",
    json: { delaySeconds: "10" },
  },
  { what: "an empty dedupId", status: 400, detail: "json.dedupId", json: { dedupId: "" } },
  {
    what: "a 129-character dedupId",
    status: 400,
    detail: "json.dedupId",
    json: { dedupId: "d".repeat(129) },
  },
  {
    what: "a 129-character Idempotency-Key",
    status: 400,
    detail: "idempotency-key",
    json: {},
    headers: { "Idempotency-Key": "i".repeat(129) },
  },
  { what: "an unknown field", status: 400, detail: "json", json: { body: 1, colour: "red" } },
  {
    what: "a transaction field on a normal message",
    status: 400,
    detail: "json",
    json: { transactionId: "t1" },
  },
  { what: "a JSON array instead of an object", status: 400, detail: "json", json: [{ body: 1 }] },
  {
    what: "malformed JSON",
    status: 400,
    detail: "Malformed JSON",
    raw: '{"body": ',
    headers: { "content-type": "application/json" },
  },
  {
    what: "a body of 4,100 KiB of bytes (bodyBase64)",
    status: 413,
    detail: "4194304",
    json: { bodyBase64: encodeBase64(bytes(4100 * KiB)) },
  },
  {
    what: "a bodyBase64 one byte over 4 MiB",
    status: 413,
    detail: "4194304",
    json: { bodyBase64: encodeBase64(bytes(4096 * KiB + 1)) },
  },
  {
    what: "a JSON body over 4 MiB",
    status: 413,
    detail: "4194304",
    json: { body: "x".repeat(4096 * KiB) },
  },
  {
    what: "a request over 6 MiB",
    status: 413,
    detail: "6291456",
    json: { body: "x".repeat(6144 * KiB) },
  },
];

for (const bad of badPublishes) {
  Deno.test(`POST /v1/topics/{topic}/messages with ${bad.what} is a ${bad.status} problem and stores nothing`, async () => {
    await using api = await openApi();
    await createTopic(api, "Trade");
    const before = await kvSnapshot(api.kv);
    const res = await api.send("POST", `/v1/topics/${bad.topic ?? "Trade"}/messages`, {
      ...(bad.json !== undefined ? { json: bad.json } : {}),
      ...(bad.raw !== undefined ? { raw: bad.raw } : {}),
      ...(bad.headers ? { headers: bad.headers } : {}),
    });
    assertProblem(res, bad.status, bad.detail);
    assertEquals(await kvSnapshot(api.kv), before);
    assertEquals(await countsOf(api, "Trade"), {
      published: 0,
      prepared: 0,
      committed: 0,
      rolledBack: 0,
    });
  });
}

Deno.test("POST /v1/topics/{topic}/messages problems carry their type, title and the invalid fields", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const invalid = assertProblem(
    await api.post("/v1/topics/Trade/messages", { tag: "bad tag", delaySeconds: -1 }),
    400,
  );
  assertEquals(invalid.type, "https://escrow.dev/problems/validation");
  assertEquals(invalid.title, "Invalid request");
  const paths = (invalid.issues as Array<{ path: string }>).map((issue) => issue.path).sort();
  assertEquals(paths, ["json.delaySeconds", "json.tag"]);

  const tooLarge = assertProblem(
    await api.post("/v1/topics/Trade/messages", { bodyBase64: encodeBase64(bytes(4100 * KiB)) }),
    413,
  );
  assertEquals(tooLarge.type, "https://escrow.dev/problems/payloadtoolarge");
  assertEquals(tooLarge.title, "Payload too large");
  assertEquals(tooLarge.size, 4100 * KiB);
  assertEquals(tooLarge.limit, 4096 * KiB);
  assertEquals(tooLarge.field, "bodyBase64");

  const missing = assertProblem(await api.post("/v1/topics/Nope/messages", {}), 404);
  assertEquals(missing.type, "https://escrow.dev/problems/notfound");
  assertEquals(missing.title, "Not found");
});

Deno.test("POST /v1/topics/{topic}/messages with a rejected dedupId leaves the id free for a valid message", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const rejected = await api.post("/v1/topics/Trade/messages", {
    dedupId: "order-1",
    bodyBase64: encodeBase64(bytes(4100 * KiB)),
  });
  assertProblem(rejected, 413);
  const accepted = await api.post<PublishJson>("/v1/topics/Trade/messages", {
    dedupId: "order-1",
  });
  assertEquals(accepted.status, 201);
  assertEquals(accepted.body.duplicate, false);
  assertIso(accepted.body.publishedAt);
});

Deno.test("POST /v1/topics/{topic}/messages sent at once with one dedupId stores one message and answers it to all", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const answers = await Promise.all(
    Array.from(
      { length: 8 },
      (_, i) => api.post<PublishJson>("/v1/topics/Trade/messages", { dedupId: "d", body: i }),
    ),
  );
  assertEquals(answers.map((a) => a.status).sort(), [200, 200, 200, 200, 200, 200, 200, 201]);
  assertEquals(new Set(answers.map((a) => a.body.messageId)).size, 1);
  assertEquals(answers.filter((a) => a.body.duplicate).length, 7);
  assertEquals((await countsOf(api, "Trade")).published, 1);
});

Deno.test("POST /v1/topics/{topic}/messages with a bad message field is a 400 problem and stores nothing", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const before = await kvSnapshot(api.kv);
  const cases: Array<[string, Record<string, unknown>]> = [
    ["json.messageGroup", { messageGroup: "" }],
    ["json.messageGroup", { messageGroup: "g".repeat(129) }],
    ["json.properties", { properties: { "": "v" } }],
    ["json.properties", { properties: { ["k".repeat(257)]: "v" } }],
    ["json.properties", { properties: ["v"] }],
  ];
  for (const [detail, message] of cases) {
    assertProblem(await api.post("/v1/topics/Trade/messages", message), 400, detail);
  }
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("GET /v1/messages/{id} with an id over 128 characters is a 400 problem", async () => {
  await using api = await openApi();
  assertProblem(await api.get(`/v1/messages/${"m".repeat(129)}`), 400, "param.messageId");
});
