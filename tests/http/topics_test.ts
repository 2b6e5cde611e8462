import { assertEquals } from "@std/assert/equals";
import {
  assertIso,
  assertProblem,
  countsOf,
  createTopic,
  kvSnapshot,
  openApi,
  prepare,
  publish,
  T0,
  type TopicDetailJson,
  type TopicJson,
} from "./_helpers.ts";

Deno.test("PUT /v1/topics/{topic} creates a topic with 201 and its name and createdAt", async () => {
  await using api = await openApi();
  const res = await api.put<TopicJson>("/v1/topics/Trade");
  assertEquals(res.status, 201);
  assertEquals(res.headers.get("content-type"), "application/json");
  assertEquals(res.body, { name: "Trade", createdAt: new Date(T0).toISOString() });
});

Deno.test("PUT /v1/topics/{topic} again is 200 with the first createdAt and stores nothing", async () => {
  await using api = await openApi();
  const first = await createTopic(api, "Trade");
  api.advance(60_000);
  const before = await kvSnapshot(api.kv);
  const again = await api.put<TopicJson>("/v1/topics/Trade");
  assertEquals(again.status, 200);
  assertEquals(again.body, first);
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("PUT /v1/topics/{topic} accepts a 64-character name of letters, digits, '_' and '-'", async () => {
  await using api = await openApi();
  const name = `a-Z_0${"x".repeat(59)}`;
  assertEquals(name.length, 64);
  const res = await api.put<TopicJson>(`/v1/topics/${name}`);
  assertEquals(res.status, 201);
  assertEquals(res.body.name, name);
});

for (
  const [what, segment] of [
    ["a space and '!'", encodeURIComponent("bad name!")],
    ["65 characters", "x".repeat(65)],
    ["a '.'", "a.b"],
    ["a non-ASCII letter", encodeURIComponent("Zürich")],
  ]
) {
  Deno.test(`PUT /v1/topics/{topic} with ${what} in the name is a 400 problem and creates nothing`, async () => {
    await using api = await openApi();
    const before = await kvSnapshot(api.kv);
    const res = await api.put(`/v1/topics/${segment}`);
    const problem = assertProblem(res, 400, "param.topic");
    assertEquals(problem.type, "https://escrow.dev/problems/validation");
    assertEquals(await kvSnapshot(api.kv), before);
    assertEquals((await api.get<{ topics: TopicJson[] }>("/v1/topics")).body, { topics: [] });
  });
}

Deno.test("GET /v1/topics lists no topics on a new broker", async () => {
  await using api = await openApi();
  const res = await api.get<{ topics: TopicJson[] }>("/v1/topics");
  assertEquals(res.status, 200);
  assertEquals(res.body, { topics: [] });
});

Deno.test("GET /v1/topics lists every topic by name with ISO createdAt", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  api.advance(1_000);
  await createTopic(api, "Audit");
  api.advance(1_000);
  await createTopic(api, "Zebra");
  const res = await api.get<{ topics: TopicJson[] }>("/v1/topics");
  assertEquals(res.status, 200);
  assertEquals(res.body.topics, [
    { name: "Audit", createdAt: new Date(T0 + 1_000).toISOString() },
    { name: "Trade", createdAt: new Date(T0).toISOString() },
    { name: "Zebra", createdAt: new Date(T0 + 2_000).toISOString() },
  ]);
  for (const topic of res.body.topics) assertIso(topic.createdAt);
});

Deno.test("GET /v1/topics/{topic} shows a new topic with every count at 0", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const res = await api.get<TopicDetailJson>("/v1/topics/Trade");
  assertEquals(res.status, 200);
  assertEquals(res.body, {
    name: "Trade",
    createdAt: new Date(T0).toISOString(),
    counts: { published: 0, prepared: 0, committed: 0, rolledBack: 0 },
  });
});

Deno.test("GET /v1/topics/{topic} counts follow publishes, prepares, commits and rollbacks", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  await createTopic(api, "Other");

  await publish(api, "Trade", { body: 1 });
  await publish(api, "Trade", { body: 2 });
  assertEquals(await countsOf(api, "Trade"), {
    published: 2,
    prepared: 0,
    committed: 0,
    rolledBack: 0,
  });

  const a = await prepare(api, "Trade", { body: "a" });
  const b = await prepare(api, "Trade", { body: "b" });
  const c = await prepare(api, "Trade", { body: "c" });
  assertEquals(await countsOf(api, "Trade"), {
    published: 2,
    prepared: 3,
    committed: 0,
    rolledBack: 0,
  });

  assertEquals((await api.post(`/v1/transactions/${a.transactionId}/commit`)).status, 200);
  assertEquals(await countsOf(api, "Trade"), {
    published: 3,
    prepared: 3,
    committed: 1,
    rolledBack: 0,
  });

  assertEquals((await api.post(`/v1/transactions/${b.transactionId}/rollback`)).status, 200);
  assertEquals(await countsOf(api, "Trade"), {
    published: 3,
    prepared: 3,
    committed: 1,
    rolledBack: 1,
  });

  // c stays executing: it is counted as prepared only.
  assertEquals(
    (await api.get<{ state: string }>(`/v1/transactions/${c.transactionId}`)).body.state,
    "executing",
  );
  assertEquals(await countsOf(api, "Other"), {
    published: 0,
    prepared: 0,
    committed: 0,
    rolledBack: 0,
  });
});

Deno.test("GET /v1/topics/{topic} of an unknown topic is a 404 problem naming it", async () => {
  await using api = await openApi();
  const res = await api.get("/v1/topics/Nope");
  const problem = assertProblem(res, 404, "Nope");
  assertEquals(problem.type, "https://escrow.dev/problems/notfound");
  assertEquals(problem.topic, "Nope");
});

Deno.test("GET /v1/topics/{topic} with an invalid name is a 400 problem", async () => {
  await using api = await openApi();
  assertProblem(await api.get(`/v1/topics/${encodeURIComponent("bad name!")}`), 400, "param.topic");
  assertProblem(await api.get(`/v1/topics/${"x".repeat(65)}`), 400, "param.topic");
});
