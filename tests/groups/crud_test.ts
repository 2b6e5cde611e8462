/**
 * Consumer groups as a resource: create, update, read with counts, list,
 * delete, and the requests that are refused before anything is stored.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { FakeTime } from "@std/testing/time";
import { DEFAULT_RETRY_DELAYS_SECONDS } from "../../src/domain/retry_policy.ts";
import { assertProblem, kvSnapshot, T0 } from "../http/_helpers.ts";
import {
  ack,
  countsOfGroup,
  createGroup,
  createTopic,
  getGroup,
  type GroupJson,
  handleOf,
  nack,
  openGroupsApi,
  publish,
  receive,
} from "./_helpers.ts";

const TOPIC = "Accompaniment";
const OPS = { subscriptions: [{ topic: TOPIC, tags: "Ops" }] };
const ZERO = { backlog: 0, inFlight: 0, retrying: 0, deadLettered: 0, acked: 0 };

Deno.test("PUT /v1/groups/{group} creates a group with RocketMQ's defaults: 201, then 200 for the same name", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await createTopic(api, TOPIC);
  const created = await api.put<GroupJson>("/v1/groups/ops", OPS);
  assertEquals(created.status, 201, JSON.stringify(created.body));
  assertEquals(created.headers.get("content-type"), "application/json");
  assertEquals(created.body, {
    name: "ops",
    subscriptions: [{ topic: TOPIC, tags: "Ops" }],
    delivery: { mode: "pull" },
    maxRetries: 16,
    retryDelaysSeconds: [...DEFAULT_RETRY_DELAYS_SECONDS],
    visibilityTimeoutSeconds: 30,
    ordered: false,
    createdAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
  });
  assertEquals(created.body.retryDelaysSeconds.slice(0, 3), [10, 30, 60]);
  assertEquals(created.body.retryDelaysSeconds.at(-1), 7200);
  time.tick(60_000);
  const updated = await api.put<GroupJson>("/v1/groups/ops", {
    subscriptions: [{ topic: TOPIC, tags: "Ops || CS" }],
  });
  assertEquals(updated.status, 200, JSON.stringify(updated.body));
  assertEquals(updated.body.subscriptions, [{ topic: TOPIC, tags: "Ops || CS" }]);
  assertEquals(updated.body.createdAt, new Date(T0).toISOString());
  assertEquals(updated.body.updatedAt, new Date(T0 + 60_000).toISOString());
});

Deno.test("PUT /v1/groups/{group} keeps every setting given and never shows the push secret", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  const group = await createGroup(api, "notify", {
    subscriptions: [{ topic: TOPIC, sql: "region = 'SH'" }],
    delivery: { mode: "push", url: "https://consumer.example/hook", secret: "s3cret" },
    maxRetries: 3,
    retryDelaysSeconds: [1, 2.5],
    visibilityTimeoutSeconds: 45,
    ordered: true,
  });
  assertEquals(group.delivery, {
    mode: "push",
    url: "https://consumer.example/hook",
    hasSecret: true,
    timeoutSeconds: 10,
    maxConcurrency: 16,
  });
  assertEquals(group.maxRetries, 3);
  assertEquals(group.retryDelaysSeconds, [1, 2.5]);
  assertEquals(group.visibilityTimeoutSeconds, 45);
  assertEquals(group.ordered, true);
  const read = await api.get<unknown>("/v1/groups/notify");
  assert(!JSON.stringify(read.body).includes("s3cret"));
  const list = await api.get<unknown>("/v1/groups");
  assert(!JSON.stringify(list.body).includes("s3cret"));
});

Deno.test("GET /v1/groups lists every group and GET /v1/groups/{group} reads one with zero counts", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  const ops = await createGroup(api, "ops", OPS);
  const cs = await createGroup(api, "cs", { subscriptions: [{ topic: TOPIC, tags: "CS" }] });
  const list = await api.get<{ groups: GroupJson[] }>("/v1/groups");
  assertEquals(list.status, 200);
  assertEquals(list.body.groups.map((g) => g.name).sort(), ["cs", "ops"]);
  assertEquals(list.body.groups.find((g) => g.name === "cs"), cs);
  const one = await getGroup(api, "ops");
  assertEquals(one, { ...ops, ...ZERO });
});

Deno.test("GET /v1/groups with no groups is an empty list", async () => {
  await using api = await openGroupsApi();
  const res = await api.get<{ groups: GroupJson[] }>("/v1/groups");
  assertEquals(res.status, 200);
  assertEquals(res.body, { groups: [] });
});

Deno.test("GET /v1/groups/{group} counts move with the deliveries: backlog, inFlight, acked, retrying, deadLettered", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { ...OPS, maxRetries: 1, retryDelaysSeconds: [5] });
  for (let i = 0; i < 4; i++) await publish(api, TOPIC, { tag: "Ops", body: i });
  await publish(api, TOPIC, { tag: "CS" }); // not the group's
  assertEquals(await countsOfGroup(api, "ops"), { ...ZERO, backlog: 4 });

  const [a, b, c] = await receive(api, "ops", { max: 3 });
  assertEquals(await countsOfGroup(api, "ops"), { ...ZERO, backlog: 1, inFlight: 3 });

  await ack(api, "ops", [handleOf(a!)]);
  assertEquals(await countsOfGroup(api, "ops"), { ...ZERO, backlog: 1, inFlight: 2, acked: 1 });

  await nack(api, "ops", [handleOf(b!)]);
  assertEquals(await countsOfGroup(api, "ops"), {
    ...ZERO,
    backlog: 1,
    inFlight: 1,
    retrying: 1,
    acked: 1,
  });

  time.tick(5_000);
  const again = await receive(api, "ops", { max: 1 });
  assertEquals(again.map((m) => [m.messageId, m.attempt]), [[b!.messageId, 2]]);
  assertEquals(await countsOfGroup(api, "ops"), { ...ZERO, backlog: 1, inFlight: 2, acked: 1 });

  await nack(api, "ops", [handleOf(again[0]!)]); // the one retry is spent: dead letter
  assertEquals(await countsOfGroup(api, "ops"), {
    ...ZERO,
    backlog: 1,
    inFlight: 1,
    deadLettered: 1,
    acked: 1,
  });

  await ack(api, "ops", [handleOf(c!)]);
  const [d] = await receive(api, "ops");
  await ack(api, "ops", [handleOf(d!)]);
  assertEquals(await countsOfGroup(api, "ops"), { ...ZERO, deadLettered: 1, acked: 3 });

  const redrive = await api.post<{ redriven: number }>("/v1/groups/ops/dead-letters/redrive", {
    all: true,
  });
  assertEquals(redrive.body, { redriven: 1 });
  assertEquals(await countsOfGroup(api, "ops"), { ...ZERO, backlog: 1, acked: 3 });
});

Deno.test("DELETE /v1/groups/{group} is 204, then the group is gone: 404 on read, delete and receive", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", OPS);
  await createGroup(api, "cs", { subscriptions: [{ topic: TOPIC, tags: "CS" }] });
  await publish(api, TOPIC, { tag: "Ops" });
  await receive(api, "ops");
  const res = await api.send("DELETE", "/v1/groups/ops");
  assertEquals(res.status, 204);
  assertEquals(res.body, "");
  assertProblem(await api.get("/v1/groups/ops"), 404, "ops");
  assertProblem(await api.send("DELETE", "/v1/groups/ops"), 404);
  assertProblem(await api.post("/v1/groups/ops/receive", {}), 404);
  const list = await api.get<{ groups: GroupJson[] }>("/v1/groups");
  assertEquals(list.body.groups.map((g) => g.name), ["cs"]);
});

Deno.test("a group deleted and created again under the same name starts afresh", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { ...OPS, maxRetries: 0 });
  await publish(api, TOPIC, { tag: "Ops" });
  await publish(api, TOPIC, { tag: "Ops" });
  const [first] = await receive(api, "ops", { max: 1 });
  await nack(api, "ops", [handleOf(first!)]); // dead-lettered at once
  assertEquals(await countsOfGroup(api, "ops"), { ...ZERO, backlog: 1, deadLettered: 1 });
  assertEquals((await api.send("DELETE", "/v1/groups/ops")).status, 204);
  await createGroup(api, "ops", OPS);
  assertEquals(await countsOfGroup(api, "ops"), ZERO);
  assertEquals(await receive(api, "ops"), []);
  const dead = await api.get<{ messages: unknown[] }>("/v1/groups/ops/dead-letters");
  assertEquals(dead.body.messages, []);
  const fresh = await publish(api, TOPIC, { tag: "Ops" });
  assertEquals((await receive(api, "ops")).map((m) => m.messageId), [fresh.messageId]);
});

Deno.test("PUT /v1/groups/{group} on a topic that does not exist is a 404 problem and stores nothing", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  const before = await kvSnapshot(api.kv);
  assertProblem(
    await api.put("/v1/groups/ops", { subscriptions: [{ topic: "Nope", tags: "Ops" }] }),
    404,
    "Nope",
  );
  assertProblem(
    await api.put("/v1/groups/ops", { subscriptions: [{ topic: TOPIC }, { topic: "Nope" }] }),
    404,
    "Nope",
  );
  assertEquals(await kvSnapshot(api.kv), before);
  assertProblem(await api.get("/v1/groups/ops"), 404);
});

Deno.test("PUT /v1/groups/{group} moving an existing group onto a missing topic is a 404 problem and keeps the group", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  const group = await createGroup(api, "ops", OPS);
  const before = await kvSnapshot(api.kv);
  assertProblem(await api.put("/v1/groups/ops", { subscriptions: [{ topic: "Nope" }] }), 404);
  assertEquals(await kvSnapshot(api.kv), before);
  assertEquals(await getGroup(api, "ops"), { ...group, ...ZERO });
});

const INVALID_BODIES: readonly { what: string; body: unknown }[] = [
  { what: "no subscriptions", body: {} },
  { what: "empty subscriptions", body: { subscriptions: [] } },
  { what: "an unknown field", body: { ...OPS, priority: "high" } },
  {
    what: "an unknown subscription field",
    body: { subscriptions: [{ topic: TOPIC, tag: "Ops" }] },
  },
  { what: "a subscription without a topic", body: { subscriptions: [{ tags: "Ops" }] } },
  { what: "a subscription topic with a bad name", body: { subscriptions: [{ topic: "a b" }] } },
  { what: "an empty sql", body: { subscriptions: [{ topic: TOPIC, sql: "" }] } },
  { what: "tags that are not a string", body: { subscriptions: [{ topic: TOPIC, tags: 1 }] } },
  { what: "the same topic twice", body: { subscriptions: [{ topic: TOPIC }, { topic: TOPIC }] } },
  { what: "maxRetries -1", body: { ...OPS, maxRetries: -1 } },
  { what: "maxRetries 1.5", body: { ...OPS, maxRetries: 1.5 } },
  { what: "maxRetries as a string", body: { ...OPS, maxRetries: "3" } },
  { what: "a negative retry delay", body: { ...OPS, retryDelaysSeconds: [10, -1] } },
  { what: "no retry delays", body: { ...OPS, retryDelaysSeconds: [] } },
  { what: "visibilityTimeoutSeconds 0", body: { ...OPS, visibilityTimeoutSeconds: 0 } },
  { what: "a negative visibilityTimeoutSeconds", body: { ...OPS, visibilityTimeoutSeconds: -5 } },
  { what: "ordered as a string", body: { ...OPS, ordered: "yes" } },
  { what: "push without a url", body: { ...OPS, delivery: { mode: "push" } } },
  { what: "push with a bad url", body: { ...OPS, delivery: { mode: "push", url: "not a url" } } },
  {
    what: "push with an ftp url",
    body: { ...OPS, delivery: { mode: "push", url: "ftp://consumer.example/x" } },
  },
  {
    what: "push with an unknown field",
    body: { ...OPS, delivery: { mode: "push", url: "https://c.example", retries: 1 } },
  },
  { what: "an unknown delivery mode", body: { ...OPS, delivery: { mode: "carrier-pigeon" } } },
  {
    what: "pull with a url",
    body: { ...OPS, delivery: { mode: "pull", url: "https://c.example" } },
  },
  { what: "a body that is not an object", body: [OPS] },
];

for (const { what, body } of INVALID_BODIES) {
  Deno.test(`PUT /v1/groups/{group} with ${what} is a 400 problem and stores nothing`, async () => {
    await using api = await openGroupsApi();
    await createTopic(api, TOPIC);
    const before = await kvSnapshot(api.kv);
    assertProblem(await api.put("/v1/groups/ops", body), 400);
    assertEquals(await kvSnapshot(api.kv), before);
    assertProblem(await api.get("/v1/groups/ops"), 404);
  });
}

Deno.test("PUT /v1/groups/{group} with a body that is not JSON is a 400 problem and stores nothing", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  const before = await kvSnapshot(api.kv);
  const res = await api.send("PUT", "/v1/groups/ops", {
    raw: "{ subscriptions: ",
    headers: { "content-type": "application/json" },
  });
  assertProblem(res, 400);
  assertEquals(await kvSnapshot(api.kv), before);
});

for (const name of ["bad.name", "a%20b", "x".repeat(65), "caf%C3%A9"]) {
  Deno.test(`PUT /v1/groups/${name.slice(0, 12)} (a bad group name) is a 400 problem and stores nothing`, async () => {
    await using api = await openGroupsApi();
    await createTopic(api, TOPIC);
    const before = await kvSnapshot(api.kv);
    assertProblem(await api.put(`/v1/groups/${name}`, OPS), 400);
    assertProblem(await api.get(`/v1/groups/${name}`), 400);
    assertEquals(await kvSnapshot(api.kv), before);
  });
}

Deno.test("PUT /v1/groups/{group} accepts a 64-character name of letters, digits, _ and -", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  const name = `Ops_desk-1${"x".repeat(54)}`;
  assertEquals(name.length, 64);
  assertEquals((await createGroup(api, name, OPS)).name, name);
});

for (
  const [method, path, body] of [
    ["POST", "/v1/groups/ghost/receive", {}],
    ["POST", "/v1/groups/ghost/ack", { receiptHandles: ["x"] }],
    ["POST", "/v1/groups/ghost/nack", { receiptHandles: ["x"] }],
    ["POST", "/v1/groups/ghost/visibility", { receiptHandle: "x", visibilityTimeoutSeconds: 5 }],
    ["GET", "/v1/groups/ghost/dead-letters", undefined],
    ["POST", "/v1/groups/ghost/dead-letters/redrive", { all: true }],
  ] as const
) {
  Deno.test(`${method} ${path.replace("ghost", "{group}")} of an unknown group is a 404 problem`, async () => {
    await using api = await openGroupsApi();
    const res = await api.send(method, path, body === undefined ? {} : { json: body });
    assertProblem(res, 404);
  });
}
