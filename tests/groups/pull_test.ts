/**
 * Pull delivery through the API: receive (with long polls on the real
 * clock), ack, nack and retries, visibility timeouts that expire or are
 * extended, and what happens to receipt handles that are stale, expired,
 * malformed or another group's. Everything timed runs on a `FakeTime`.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertNotEquals } from "@std/assert/not-equals";
import { deadline } from "@std/async/deadline";
import { encodeBase64 } from "@std/encoding/base64";
import { FakeTime } from "@std/testing/time";
import { assertIso, assertProblem, T0 } from "../http/_helpers.ts";
import {
  ack,
  countsOfGroup,
  createGroup,
  createTopic,
  decide,
  handleOf,
  nack,
  openGroupsApi,
  prepare,
  publish,
  receive,
  type ReceivedJson,
  type TestApi,
} from "./_helpers.ts";

const TOPIC = "Accompaniment";
const OPS = { subscriptions: [{ topic: TOPIC, tags: "Ops" }] };
const EXPIRED = "receipt handle expired";
const MALFORMED = "receipt handle is malformed";
/** Why a spent handle is refused: where the delivery's stream is now. */
const stale = (state: string, seq: number) =>
  `receipt handle already used or superseded: the delivery is now ${state} (event ${seq})`;

async function setUp(api: TestApi, group: Record<string, unknown> = {}): Promise<void> {
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { ...OPS, ...group });
}

/** Publishes `n` Ops messages and returns their ids in order. */
async function publishOps(api: TestApi, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push((await publish(api, TOPIC, { tag: "Ops", body: { n: i } })).messageId);
  }
  return ids;
}

async function receiveOne(api: TestApi, body: Record<string, unknown> = {}): Promise<ReceivedJson> {
  const messages = await receive(api, "ops", { max: 1, ...body });
  assertEquals(messages.length, 1, "expected one message");
  return messages[0]!;
}

// --- receive ------------------------------------------------------------------

Deno.test("POST /v1/groups/{group}/receive returns a message with its handle, fields and attempt 1", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  time.tick(2_000);
  const published = await publish(api, TOPIC, {
    tag: "Ops",
    body: { fund: "F1", amount: 100 },
    keys: ["order-1"],
    properties: { region: "SH" },
  });
  time.tick(3_000);
  const res = await api.post<{ messages: ReceivedJson[] }>("/v1/groups/ops/receive", {});
  assertEquals(res.status, 200);
  const [message] = res.body.messages;
  assert(message);
  const { receiptHandle, ...rest } = message;
  assert(typeof receiptHandle === "string" && receiptHandle.length > 0);
  assertEquals(rest, {
    messageId: published.messageId,
    topic: TOPIC,
    tag: "Ops",
    keys: ["order-1"],
    properties: { region: "SH" },
    body: { fund: "F1", amount: 100 },
    publishedAt: new Date(T0 + 2_000).toISOString(),
    attempt: 1,
  });
});

Deno.test("POST /v1/groups/{group}/receive gives a binary body as bodyBase64 and a committed message its transactionId", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  const bytes = new Uint8Array([0, 1, 2, 250, 255]);
  const binary = await publish(api, TOPIC, { tag: "Ops", bodyBase64: encodeBase64(bytes) });
  const tx = await prepare(api, TOPIC, { tag: "Ops", body: "tx", transactionId: "order-7" });
  await decide(api, tx.transactionId, "commit");
  const [first, second] = await receive(api, "ops", { max: 10 });
  assertEquals(first!.messageId, binary.messageId);
  assertEquals(first!.bodyBase64, encodeBase64(bytes));
  assertEquals(first!.body, undefined);
  assertEquals(first!.transactionId, undefined);
  assertEquals(second!.messageId, tx.messageId);
  assertEquals(second!.transactionId, "order-7");
  assertEquals(second!.body, "tx");
  assertIso(second!.publishedAt);
});

Deno.test("POST /v1/groups/{group}/receive returns at most max messages, oldest first, then the rest", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  const ids = await publishOps(api, 5);
  assertEquals((await receive(api, "ops", { max: 2 })).map((m) => m.messageId), ids.slice(0, 2));
  assertEquals((await receive(api, "ops", { max: 10 })).map((m) => m.messageId), ids.slice(2));
  assertEquals(await receive(api, "ops", { max: 10 }), []);
});

Deno.test("POST /v1/groups/{group}/receive without max returns 16 messages", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  const ids = await publishOps(api, 20);
  assertEquals((await receive(api, "ops")).map((m) => m.messageId), ids.slice(0, 16));
  assertEquals((await receive(api, "ops")).map((m) => m.messageId), ids.slice(16));
});

Deno.test("POST /v1/groups/{group}/receive with max 256 returns 256 messages and leaves the rest for the next", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  const ids = await publishOps(api, 300);
  const first = await receive(api, "ops", { max: 256 });
  assertEquals(first.map((m) => m.messageId), ids.slice(0, 256));
  const second = await receive(api, "ops", { max: 256 });
  assertEquals(second.map((m) => m.messageId), ids.slice(256));
  const result = await ack(api, "ops", [...first, ...second].map(handleOf));
  assertEquals(result, { acked: 300, failed: [] });
});

Deno.test("a delayed message is received once its delay is over, not before", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  const delayed = await publish(api, TOPIC, { tag: "Ops", delaySeconds: 60 });
  const now = await publish(api, TOPIC, { tag: "Ops" });
  assertEquals((await receive(api, "ops", { max: 10 })).map((m) => m.messageId), [now.messageId]);
  time.tick(59_999);
  assertEquals(await receive(api, "ops", { max: 10 }), []);
  assertEquals((await countsOfGroup(api, "ops")).backlog, 1);
  time.tick(1);
  const [message] = await receive(api, "ops", { max: 10 });
  assertEquals([message?.messageId, message?.attempt], [delayed.messageId, 1]);
});

Deno.test("a message in flight is not received again while its visibility timeout runs", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  await publishOps(api, 1);
  await receiveOne(api);
  time.tick(29_999);
  assertEquals(await api.broker.scheduler.runDue(), 0);
  assertEquals(await receive(api, "ops"), []);
});

Deno.test("concurrent receives in one process queue behind each other and hand out every message once (two brokers race in races_test.ts)", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  const ids = await publishOps(api, 30);
  const batches = await Promise.all(
    Array.from({ length: 6 }, () => receive(api, "ops", { max: 4 })),
  );
  const rest = await receive(api, "ops", { max: 100 });
  const received = [...batches.flat(), ...rest].map((m) => m.messageId);
  assertEquals(received.length, 30);
  assertEquals(new Set(received).size, 30);
  assertEquals(new Set(received), new Set(ids));
});

const BAD_RECEIVES: readonly { what: string; body: unknown }[] = [
  { what: "max 0", body: { max: 0 } },
  { what: "max 257", body: { max: 257 } },
  { what: "max 1.5", body: { max: 1.5 } },
  { what: "waitSeconds 31", body: { waitSeconds: 31 } },
  { what: "a negative waitSeconds", body: { waitSeconds: -1 } },
  { what: "visibilityTimeoutSeconds 0", body: { visibilityTimeoutSeconds: 0 } },
  { what: "an unknown field", body: { maxMessages: 3 } },
];

for (const { what, body } of BAD_RECEIVES) {
  Deno.test(`POST /v1/groups/{group}/receive with ${what} is a 400 problem and delivers nothing`, async () => {
    await using api = await openGroupsApi();
    await setUp(api);
    await publishOps(api, 1);
    assertProblem(await api.post("/v1/groups/ops/receive", body), 400);
    assertEquals((await countsOfGroup(api, "ops")).backlog, 1);
  });
}

// --- long polls (real clock) ----------------------------------------------------

Deno.test("a long poll returns as soon as a message is published, well before waitSeconds", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  const started = performance.now();
  const published = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    return await publish(api, TOPIC, { tag: "Ops", body: "late" });
  })();
  const messages = await deadline(receive(api, "ops", { waitSeconds: 10 }), 8_000);
  const elapsed = performance.now() - started;
  assertEquals(messages.map((m) => m.messageId), [(await published).messageId]);
  assertEquals(messages[0]!.body, "late");
  assert(elapsed >= 150, `returned after ${elapsed} ms, before the publish`);
  assert(elapsed < 8_000, `returned after ${elapsed} ms`);
});

Deno.test("a long poll ignores messages its group does not subscribe to and keeps waiting", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  const started = performance.now();
  const publishing = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    await publish(api, TOPIC, { tag: "CS" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    return await publish(api, TOPIC, { tag: "Ops" });
  })();
  const messages = await deadline(receive(api, "ops", { waitSeconds: 10 }), 8_000);
  assertEquals(messages.map((m) => m.messageId), [(await publishing).messageId]);
  assert(performance.now() - started >= 250);
});

Deno.test("a long poll with nothing to deliver returns an empty list after about waitSeconds", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  const started = performance.now();
  const messages = await deadline(receive(api, "ops", { waitSeconds: 0.3 }), 5_000);
  const elapsed = performance.now() - started;
  assertEquals(messages, []);
  assert(elapsed >= 250, `returned after ${elapsed} ms, before the wait was over`);
});

Deno.test("a long poll returns a nacked message when its retry falls due", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  const [id] = await publishOps(api, 1);
  const first = await receiveOne(api);
  await nack(api, "ops", [handleOf(first)], 0.2);
  const messages = await deadline(receive(api, "ops", { waitSeconds: 10 }), 8_000);
  assertEquals(messages.map((m) => [m.messageId, m.attempt]), [[id, 2]]);
});

Deno.test("a long poll wakes for a transaction committed while it waits", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  const tx = await prepare(api, TOPIC, { tag: "Ops", body: "half" });
  const committing = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 150));
    await decide(api, tx.transactionId, "commit");
  })();
  const messages = await deadline(receive(api, "ops", { waitSeconds: 10 }), 8_000);
  await committing;
  assertEquals(messages.map((m) => m.messageId), [tx.messageId]);
});

// --- ack ---------------------------------------------------------------------------

Deno.test("POST /v1/groups/{group}/ack settles the deliveries: they never come back", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  await publishOps(api, 3);
  const messages = await receive(api, "ops", { max: 3 });
  const res = await api.post("/v1/groups/ops/ack", { receiptHandles: messages.map(handleOf) });
  assertEquals(res.status, 200);
  assertEquals(res.body, { acked: 3, failed: [] });
  time.tick(24 * 3600_000);
  await api.broker.scheduler.runDue();
  assertEquals(await receive(api, "ops"), []);
  assertEquals(await countsOfGroup(api, "ops"), {
    backlog: 0,
    inFlight: 0,
    retrying: 0,
    deadLettered: 0,
    acked: 3,
  });
});

Deno.test("acking a handle twice lists it as failed the second time and counts it once", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  await publishOps(api, 1);
  const handle = handleOf(await receiveOne(api));
  assertEquals(await ack(api, "ops", [handle]), { acked: 1, failed: [] });
  assertEquals(await ack(api, "ops", [handle]), {
    acked: 0,
    failed: [{ receiptHandle: handle, reason: stale("acked", 2) }],
  });
  assertEquals((await countsOfGroup(api, "ops")).acked, 1);
});

Deno.test("the same handle twice in one ack settles the message once and counts it once", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  await publishOps(api, 2);
  const [first, second] = await receive(api, "ops", { max: 2 });
  const handle = handleOf(first!);
  const result = await ack(api, "ops", [handle, handle]);
  assertEquals(result.acked, 1, JSON.stringify(result));
  const counts = await countsOfGroup(api, "ops");
  assertEquals({ acked: counts.acked, inFlight: counts.inFlight }, { acked: 1, inFlight: 1 });
  assertEquals(await ack(api, "ops", [handleOf(second!)]), { acked: 1, failed: [] });
});

Deno.test("the same handle twice in one nack fails the attempt once and counts one retry", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  await publishOps(api, 1);
  const handle = handleOf(await receiveOne(api));
  const result = await nack(api, "ops", [handle, handle]);
  assertEquals(result.nacked, 1, JSON.stringify(result));
  assertEquals((await countsOfGroup(api, "ops")).retrying, 1);
  time.tick(10_000);
  assertEquals((await receive(api, "ops", { max: 10 })).map((m) => m.attempt), [2]);
  const counts = await countsOfGroup(api, "ops");
  assertEquals({ retrying: counts.retrying, inFlight: counts.inFlight }, {
    retrying: 0,
    inFlight: 1,
  });
});

Deno.test("acking garbage lists it as a malformed handle, not an HTTP error, and settles the valid ones", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  await publishOps(api, 1);
  const handle = handleOf(await receiveOne(api));
  const garbage = ["garbage", "eyJub3QiOiJhbiBhcnJheSJ9", btoa("[1,2,3]"), "%%%"];
  assertEquals(await ack(api, "ops", [...garbage, handle]), {
    acked: 1,
    failed: garbage.map((receiptHandle) => ({ receiptHandle, reason: MALFORMED })),
  });
});

Deno.test("a handle of another group is refused by this group, naming its own, and stays good there", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  await createGroup(api, "audit", { subscriptions: [{ topic: TOPIC }] });
  await publishOps(api, 1);
  const ours = handleOf(await receiveOne(api));
  const [theirs] = await receive(api, "audit");
  assertEquals(await ack(api, "ops", [handleOf(theirs!)]), {
    acked: 0,
    failed: [{ receiptHandle: handleOf(theirs!), reason: "receipt handle belongs to group audit" }],
  });
  assertEquals(await nack(api, "audit", [ours]), {
    nacked: 0,
    failed: [{ receiptHandle: ours, reason: "receipt handle belongs to group ops" }],
  });
  assertEquals(await ack(api, "audit", [handleOf(theirs!)]), { acked: 1, failed: [] });
  assertEquals(await ack(api, "ops", [ours]), { acked: 1, failed: [] });
});

Deno.test("acking in one group leaves the same message's delivery to another group alone", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api, { retryDelaysSeconds: [1] });
  await createGroup(api, "audit", { subscriptions: [{ topic: TOPIC }], retryDelaysSeconds: [1] });
  const [id] = await publishOps(api, 1);
  const ours = await receiveOne(api);
  const [theirs] = await receive(api, "audit");
  await ack(api, "ops", [handleOf(ours)]);
  await nack(api, "audit", [handleOf(theirs!)]);
  time.tick(1_000);
  assertEquals(await receive(api, "ops"), []);
  assertEquals((await receive(api, "audit")).map((m) => [m.messageId, m.attempt]), [[id, 2]]);
});

for (
  const [what, body] of [
    ["no handles", { receiptHandles: [] }],
    ["an empty handle", { receiptHandles: [""] }],
    ["handles that are not strings", { receiptHandles: [1] }],
    ["an unknown field", { receiptHandles: ["x"], all: true }],
  ] as const
) {
  Deno.test(`POST /v1/groups/{group}/ack with ${what} is a 400 problem`, async () => {
    await using api = await openGroupsApi();
    await setUp(api);
    assertProblem(await api.post("/v1/groups/ops/ack", body), 400);
  });
}

// --- nack and retries -----------------------------------------------------------------

Deno.test("a nacked message comes back with attempt 2 after retryDelaysSeconds[0], not before", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  const [id] = await publishOps(api, 1);
  const first = await receiveOne(api);
  const res = await api.post("/v1/groups/ops/nack", { receiptHandles: [handleOf(first)] });
  assertEquals(res.status, 200);
  assertEquals(res.body, { nacked: 1, failed: [] });
  time.tick(9_999); // RocketMQ's first retry level: 10 s
  assertEquals(await receive(api, "ops"), []);
  time.tick(1);
  const second = await receiveOne(api);
  assertEquals([second.messageId, second.attempt], [id, 2]);
  assertEquals(second.body, first.body);
  assertEquals(second.publishedAt, first.publishedAt);
  assertNotEquals(second.receiptHandle, first.receiptHandle);
  assertEquals(await ack(api, "ops", [handleOf(first)]), {
    acked: 0,
    failed: [{ receiptHandle: handleOf(first), reason: stale("inFlight", 4) }],
  });
  assertEquals(await ack(api, "ops", [handleOf(second)]), { acked: 1, failed: [] });
});

Deno.test("retries follow retryDelaysSeconds, the last delay repeating, then the message is dead-lettered", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api, { maxRetries: 4, retryDelaysSeconds: [1, 3] });
  const [id] = await publishOps(api, 1);
  let message = await receiveOne(api);
  const delays = [1_000, 3_000, 3_000, 3_000];
  for (const [k, delay] of delays.entries()) {
    assertEquals(message.attempt, k + 1);
    assertEquals(await nack(api, "ops", [handleOf(message)]), { nacked: 1, failed: [] });
    time.tick(delay - 1);
    assertEquals(await receive(api, "ops"), [], `retry ${k + 1} came early`);
    time.tick(1);
    message = await receiveOne(api);
    assertEquals(message.messageId, id);
  }
  assertEquals(message.attempt, 5);
  await nack(api, "ops", [handleOf(message)]);
  time.tick(24 * 3600_000);
  assertEquals(await receive(api, "ops"), []);
  const dead = await api.get<{ messages: { messageId: string; attempts: number }[] }>(
    "/v1/groups/ops/dead-letters",
  );
  assertEquals(dead.body.messages.map((m) => [m.messageId, m.attempts]), [[id, 5]]);
});

Deno.test("with maxRetries 0 the first nack dead-letters the message", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api, { maxRetries: 0 });
  await publishOps(api, 1);
  await nack(api, "ops", [handleOf(await receiveOne(api))]);
  time.tick(3600_000);
  assertEquals(await receive(api, "ops"), []);
  const counts = await countsOfGroup(api, "ops");
  assertEquals([counts.deadLettered, counts.retrying, counts.inFlight], [1, 0, 0]);
});

Deno.test("nack with delaySeconds redelivers after that delay instead of the group's", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  const [id] = await publishOps(api, 1);
  await nack(api, "ops", [handleOf(await receiveOne(api))], 60);
  time.tick(10_000); // the group's first delay has no say
  assertEquals(await receive(api, "ops"), []);
  time.tick(49_999);
  assertEquals(await receive(api, "ops"), []);
  time.tick(1);
  assertEquals((await receive(api, "ops")).map((m) => [m.messageId, m.attempt]), [[id, 2]]);
});

Deno.test("nack with delaySeconds 0 makes the message ready again at once", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  const [id] = await publishOps(api, 1);
  await nack(api, "ops", [handleOf(await receiveOne(api))], 0);
  assertEquals((await receive(api, "ops")).map((m) => [m.messageId, m.attempt]), [[id, 2]]);
});

Deno.test("a retry due is served before newer messages from the log", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api, { retryDelaysSeconds: [1] });
  const [a] = await publishOps(api, 1);
  await nack(api, "ops", [handleOf(await receiveOne(api))]);
  const [b] = await publishOps(api, 1);
  time.tick(1_000);
  const messages = await receive(api, "ops", { max: 1 });
  assertEquals(messages.map((m) => [m.messageId, m.attempt]), [[a, 2]]);
  assertEquals((await receive(api, "ops")).map((m) => [m.messageId, m.attempt]), [[b, 1]]);
});

Deno.test("nacking a handle twice lists it as failed the second time and schedules one retry", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  await publishOps(api, 1);
  const handle = handleOf(await receiveOne(api));
  assertEquals(await nack(api, "ops", [handle]), { nacked: 1, failed: [] });
  assertEquals(await nack(api, "ops", [handle]), {
    nacked: 0,
    failed: [{ receiptHandle: handle, reason: stale("retrying", 2) }],
  });
  assertEquals(await ack(api, "ops", [handle]), {
    acked: 0,
    failed: [{ receiptHandle: handle, reason: stale("retrying", 2) }],
  });
  time.tick(10_000);
  assertEquals((await receive(api, "ops", { max: 10 })).map((m) => m.attempt), [2]);
});

Deno.test("POST /v1/groups/{group}/nack with a negative delaySeconds is a 400 problem", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  await publishOps(api, 1);
  const handle = handleOf(await receiveOne(api));
  assertProblem(
    await api.post("/v1/groups/ops/nack", { receiptHandles: [handle], delaySeconds: -1 }),
    400,
  );
  assertEquals((await countsOfGroup(api, "ops")).inFlight, 1);
});

// --- visibility timeouts ------------------------------------------------------------

Deno.test("a visibility timeout that passes without an ack fails the attempt: the message comes back with attempt 2 and the old handle is expired", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api, { retryDelaysSeconds: [2] });
  const [id] = await publishOps(api, 1);
  const first = await receiveOne(api, { visibilityTimeoutSeconds: 1 });
  time.tick(999);
  assertEquals(await api.broker.scheduler.runDue(), 0);
  time.tick(1);
  assertEquals(await api.broker.scheduler.runDue(), 1);
  const counts = await countsOfGroup(api, "ops");
  assertEquals([counts.inFlight, counts.retrying], [0, 1]);
  time.tick(1_999);
  assertEquals(await receive(api, "ops"), []);
  time.tick(1);
  const second = await receiveOne(api);
  assertEquals([second.messageId, second.attempt], [id, 2]);
  assertEquals(await ack(api, "ops", [handleOf(first)]), {
    acked: 0,
    failed: [{ receiptHandle: handleOf(first), reason: EXPIRED }],
  });
  assertEquals(await ack(api, "ops", [handleOf(second)]), { acked: 1, failed: [] });
});

Deno.test("expire() fails exactly the deliveries whose visibility timeout has passed", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api, { retryDelaysSeconds: [0] });
  const [a, b] = await publishOps(api, 2);
  await receiveOne(api, { visibilityTimeoutSeconds: 1 });
  const later = await receiveOne(api, { visibilityTimeoutSeconds: 5 });
  time.tick(1_000);
  assertEquals(await api.broker.deliveries.expire("ops"), 1);
  assertEquals(await api.broker.deliveries.expire("ops"), 0);
  assertEquals((await receive(api, "ops")).map((m) => [m.messageId, m.attempt]), [[a, 2]]);
  assertEquals(later.messageId, b);
  assertEquals(await ack(api, "ops", [handleOf(later)]), { acked: 1, failed: [] });
});

Deno.test("the group's visibilityTimeoutSeconds applies when a receive sets none", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api, { visibilityTimeoutSeconds: 5 });
  await publishOps(api, 2);
  const early = await receiveOne(api);
  const late = await receiveOne(api);
  time.tick(4_999);
  assertEquals(await ack(api, "ops", [handleOf(early)]), { acked: 1, failed: [] });
  time.tick(1);
  assertEquals(await ack(api, "ops", [handleOf(late)]), {
    acked: 0,
    failed: [{ receiptHandle: handleOf(late), reason: EXPIRED }],
  });
});

Deno.test("an expired handle is refused by ack and nack even before the expiry sweep has run", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  await publishOps(api, 1);
  const handle = handleOf(await receiveOne(api, { visibilityTimeoutSeconds: 1 }));
  time.tick(1_000);
  assertEquals(await ack(api, "ops", [handle]), {
    acked: 0,
    failed: [{ receiptHandle: handle, reason: EXPIRED }],
  });
  assertEquals(await nack(api, "ops", [handle]), {
    nacked: 0,
    failed: [{ receiptHandle: handle, reason: EXPIRED }],
  });
  // Still in flight: only the sweep turns the lapse into a failed attempt.
  let counts = await countsOfGroup(api, "ops");
  assertEquals([counts.inFlight, counts.acked, counts.retrying], [1, 0, 0]);
  await api.broker.scheduler.runDue();
  counts = await countsOfGroup(api, "ops");
  assertEquals([counts.inFlight, counts.acked, counts.retrying], [0, 0, 1]);
});

Deno.test("POST /v1/groups/{group}/visibility extends the timeout with a new handle; the old one stops working", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  await publishOps(api, 1);
  const old = handleOf(await receiveOne(api, { visibilityTimeoutSeconds: 10 }));
  time.tick(8_000);
  const res = await api.post<{ receiptHandle: string; visibleUntil: string }>(
    "/v1/groups/ops/visibility",
    { receiptHandle: old, visibilityTimeoutSeconds: 30 },
  );
  assertEquals(res.status, 200, JSON.stringify(res.body));
  assertEquals(res.body.visibleUntil, new Date(T0 + 38_000).toISOString());
  const fresh = res.body.receiptHandle;
  assertNotEquals(fresh, old);
  assertEquals(await ack(api, "ops", [old]), {
    acked: 0,
    failed: [{ receiptHandle: old, reason: stale("inFlight", 2) }],
  });
  time.tick(20_000); // past the first timeout, not the new one
  assertEquals(await api.broker.scheduler.runDue(), 1); // the first timer finds nothing to expire
  assertEquals((await countsOfGroup(api, "ops")).inFlight, 1);
  assertEquals(await receive(api, "ops"), []);
  assertEquals(await ack(api, "ops", [old]), {
    acked: 0,
    failed: [{ receiptHandle: old, reason: EXPIRED }],
  });
  assertEquals(await ack(api, "ops", [fresh]), { acked: 1, failed: [] });
});

Deno.test("an extended visibility timeout that then passes fails the attempt and expires the new handle", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api, { retryDelaysSeconds: [0] });
  const [id] = await publishOps(api, 1);
  const old = handleOf(await receiveOne(api, { visibilityTimeoutSeconds: 10 }));
  const res = await api.post<{ receiptHandle: string }>("/v1/groups/ops/visibility", {
    receiptHandle: old,
    visibilityTimeoutSeconds: 20,
  });
  time.tick(20_000);
  await api.broker.scheduler.runDue();
  assertEquals((await receive(api, "ops")).map((m) => [m.messageId, m.attempt]), [[id, 2]]);
  assertEquals(await ack(api, "ops", [res.body.receiptHandle]), {
    acked: 0,
    failed: [{ receiptHandle: res.body.receiptHandle, reason: EXPIRED }],
  });
});

Deno.test("POST /v1/groups/{group}/visibility can shorten the timeout", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api, { retryDelaysSeconds: [0] });
  const [id] = await publishOps(api, 1);
  const old = handleOf(await receiveOne(api, { visibilityTimeoutSeconds: 600 }));
  const res = await api.post("/v1/groups/ops/visibility", {
    receiptHandle: old,
    visibilityTimeoutSeconds: 1,
  });
  assertEquals(res.status, 200);
  time.tick(1_000);
  await api.broker.scheduler.runDue();
  assertEquals((await receive(api, "ops")).map((m) => [m.messageId, m.attempt]), [[id, 2]]);
});

Deno.test("POST /v1/groups/{group}/visibility with an expired handle is a 409 problem", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  await publishOps(api, 1);
  const handle = handleOf(await receiveOne(api, { visibilityTimeoutSeconds: 1 }));
  time.tick(1_000);
  const res = await api.post("/v1/groups/ops/visibility", {
    receiptHandle: handle,
    visibilityTimeoutSeconds: 30,
  });
  assertEquals(assertProblem(res, 409, "expired").reason, EXPIRED);
});

Deno.test("POST /v1/groups/{group}/visibility with a settled, replaced or unknown handle is a 409 problem", async () => {
  await using api = await openGroupsApi();
  await setUp(api);
  await publishOps(api, 2);
  const acked = handleOf(await receiveOne(api));
  await ack(api, "ops", [acked]);
  const replaced = handleOf(await receiveOne(api));
  const extended = await api.post("/v1/groups/ops/visibility", {
    receiptHandle: replaced,
    visibilityTimeoutSeconds: 60,
  });
  assertEquals(extended.status, 200);
  for (const handle of [acked, replaced, "garbage"]) {
    const res = await api.post("/v1/groups/ops/visibility", {
      receiptHandle: handle,
      visibilityTimeoutSeconds: 60,
    });
    assertProblem(res, 409);
  }
});

for (
  const [what, body] of [
    ["visibilityTimeoutSeconds 0", { receiptHandle: "x", visibilityTimeoutSeconds: 0 }],
    ["no visibilityTimeoutSeconds", { receiptHandle: "x" }],
    ["no receiptHandle", { visibilityTimeoutSeconds: 5 }],
    ["over 12 hours", { receiptHandle: "x", visibilityTimeoutSeconds: 43_201 }],
  ] as const
) {
  Deno.test(`POST /v1/groups/{group}/visibility with ${what} is a 400 problem`, async () => {
    await using api = await openGroupsApi();
    await setUp(api);
    assertProblem(await api.post("/v1/groups/ops/visibility", body), 400);
  });
}
