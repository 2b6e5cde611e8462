/**
 * Consumer retries, dead letters and redrive for pull groups. The schedule
 * is checked to the millisecond with a fake clock (the engine on a
 * `:memory:` KV, jobs run with `scheduler.runDue()`), then once in real time
 * through the HTTP API served on 127.0.0.1.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertGreaterOrEqual } from "@std/assert/greater-or-equal";
import { FakeTime } from "@std/testing/time";
import type { Broker } from "../../../src/engine/broker.ts";
import type { ReceivedMessage } from "../../../src/engine/delivery/deliveries.ts";
import type { GroupInput } from "../../../src/engine/groups/groups.ts";
import type { DeliveryView } from "../../../src/engine/history/messages.ts";
import { EscrowApi, waitFor } from "../../_process.ts";
import { LIVE, openBroker, serveBroker } from "../../_support/broker.ts";

const T0 = Date.UTC(2030, 0, 1);

/** RocketMQ's consumer retry delays (levels 3 to 18), in seconds. */
const ROCKETMQ_LADDER = [
  10,
  30,
  60,
  120,
  180,
  240,
  300,
  360,
  420,
  480,
  540,
  600,
  1200,
  1800,
  3600,
  7200,
];

const ALL_ORDERS = { subscriptions: [{ topic: "Orders" }] } as const satisfies GroupInput;

/** A broker that never runs jobs by itself, on `:memory:`, with topic Orders and `groups`. */
async function setUp(groups: Record<string, GroupInput>) {
  const fixture = await openBroker();
  const { broker } = fixture;
  await broker.topics.create("Orders");
  for (const [name, input] of Object.entries(groups)) await broker.groups.put(name, input);
  return {
    broker,
    receive: (group: string) => broker.deliveries.receive(group, { max: 10 }),
    [Symbol.asyncDispose]: () => fixture[Symbol.asyncDispose](),
  };
}

/** Asserts `messages` is exactly one message, `messageId` at `attempt`, and returns it. */
function only(messages: ReceivedMessage[], messageId: string, attempt: number): ReceivedMessage {
  assertEquals(messages.map((m) => [m.messageId, m.attempt]), [[messageId, attempt]]);
  return messages[0]!;
}

async function deliveryOf(broker: Broker, messageId: string, group: string) {
  const view = (await broker.messages.get(messageId)).deliveries.find((d) => d.group === group);
  assert(view, `no delivery of ${messageId} for ${group}`);
  return view;
}

/** When each attempt started, in ms after T0. */
const attemptTimes = (view: DeliveryView) => view.attempts.map((a) => a.at - T0);

Deno.test("a pull consumer that always nacks climbs RocketMQ's 16 retries and is dead-lettered at attempt 17, 4 h 45 min 40 s later", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp({ billing: ALL_ORDERS, audit: ALL_ORDERS });
  const { broker } = t;
  const { messageId } = await broker.publisher.publish("Orders", { tag: "Paid", body: { n: 1 } });

  for (let attempt = 1; attempt <= 17; attempt++) {
    const message = only(await t.receive("billing"), messageId, attempt);
    assertEquals((await broker.deliveries.nack("billing", [message.receiptHandle])).settled, 1);
    if (attempt === 17) break;
    const delayMs = ROCKETMQ_LADDER[attempt - 1]! * 1000;
    time.tick(delayMs - 1);
    assertEquals(await t.receive("billing"), [], `attempt ${attempt + 1} before ${delayMs} ms`);
    assertEquals((await broker.groups.stats("billing")).retrying, 1);
    time.tick(1);
  }

  const total = ROCKETMQ_LADDER.reduce((sum, s) => sum + s, 0) * 1000;
  assertEquals(total, (4 * 3600 + 45 * 60 + 40) * 1000);
  assertEquals(Date.now() - T0, total);
  time.tick(24 * 3600 * 1000);
  assertEquals(await t.receive("billing"), [], "a dead letter is not delivered again");

  const { messages } = await broker.deliveries.deadLetters("billing");
  assertEquals(messages.map(({ seq: _, ...record }) => record), [{
    messageId,
    topic: "Orders",
    tag: "Paid",
    attempts: 17,
    lastError: "nack",
    deadLetteredAt: T0 + total,
  }]);
  const view = await deliveryOf(broker, messageId, "billing");
  assertEquals(view.state, "deadLettered");
  assertEquals(view.deadLetteredAt, T0 + total);
  const cumulative = [0];
  for (const s of ROCKETMQ_LADDER) cumulative.push(cumulative.at(-1)! + s * 1000);
  assertEquals(attemptTimes(view), cumulative, "each attempt exactly on the ladder");
  assert(view.attempts.every((a) => a.error === "nack"));
  assertEquals(await broker.groups.stats("billing"), {
    backlog: 0,
    inFlight: 0,
    retrying: 0,
    deadLettered: 1,
    acked: 0,
  });

  // The other group still gets the message on its first attempt, a day later.
  const audited = only(await t.receive("audit"), messageId, 1);
  assertEquals((await broker.deliveries.ack("audit", [audited.receiptHandle])).settled, 1);
  assertEquals((await broker.deliveries.deadLetters("audit")).messages, []);
  assertEquals(await broker.groups.stats("audit"), {
    backlog: 0,
    inFlight: 0,
    retrying: 0,
    deadLettered: 0,
    acked: 1,
  });

  // Redrive: delivered again from attempt 1, and it can be acked.
  assertEquals(await broker.deliveries.redrive("billing"), 1);
  assertEquals((await broker.deliveries.deadLetters("billing")).messages, []);
  const again = only(await t.receive("billing"), messageId, 1);
  assertEquals(again.body, { n: 1 });
  assertEquals((await broker.deliveries.ack("billing", [again.receiptHandle])).settled, 1);
  assertEquals((await deliveryOf(broker, messageId, "billing")).state, "acked");
  assertEquals(await broker.groups.stats("billing"), {
    backlog: 0,
    inFlight: 0,
    retrying: 0,
    deadLettered: 0,
    acked: 1,
  });
  assertEquals(await broker.deliveries.redrive("billing"), 0, "nothing left to redrive");
});

Deno.test("letting the visibility timeout pass fails the attempt like a nack, and the stale handle is refused", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp({
    billing: {
      ...ALL_ORDERS,
      maxRetries: 2,
      retryDelaysSeconds: [5],
      visibilityTimeoutSeconds: 20,
    },
  });
  const { broker } = t;
  const { messageId } = await broker.publisher.publish("Orders", { body: "x" });

  const handles: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    handles.push(only(await t.receive("billing"), messageId, attempt).receiptHandle);
    time.tick(20_000 - 1);
    await broker.scheduler.runDue();
    assertEquals(await t.receive("billing"), [], "still in flight");
    time.tick(1);
    await broker.scheduler.runDue();
    if (attempt === 3) break;
    assertEquals(await t.receive("billing"), [], "the retry waits 5 s after the expiry");
    time.tick(4_999);
    assertEquals(await t.receive("billing"), []);
    time.tick(1);
  }

  const ack = await broker.deliveries.ack("billing", [handles[0]!]);
  assertEquals(ack.settled, 0);
  assertEquals(ack.failed.length, 1, "an expired handle cannot ack");
  const { messages } = await broker.deliveries.deadLetters("billing");
  assertEquals(messages.map((m) => [m.messageId, m.attempts, m.lastError]), [
    [messageId, 3, "visibility timeout"],
  ]);
  const view = await deliveryOf(broker, messageId, "billing");
  assertEquals(attemptTimes(view), [0, 25_000, 50_000]);
  assertEquals(view.attempts.map((a) => a.error), Array(3).fill("visibility timeout"));
});

Deno.test("the last retry delay repeats once the list runs out", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp({
    billing: { ...ALL_ORDERS, maxRetries: 4, retryDelaysSeconds: [1, 3] },
  });
  const { broker } = t;
  const { messageId } = await broker.publisher.publish("Orders", { body: "x" });
  const gaps = [1_000, 3_000, 3_000, 3_000];
  for (let attempt = 1; attempt <= 5; attempt++) {
    const message = only(await t.receive("billing"), messageId, attempt);
    await broker.deliveries.nack("billing", [message.receiptHandle]);
    const gap = gaps[attempt - 1];
    if (gap === undefined) break;
    time.tick(gap - 1);
    assertEquals(await t.receive("billing"), [], `attempt ${attempt + 1} before ${gap} ms`);
    time.tick(1);
  }
  time.tick(3_600_000);
  assertEquals(await t.receive("billing"), []);
  const view = await deliveryOf(broker, messageId, "billing");
  assertEquals(view.state, "deadLettered");
  assertEquals(attemptTimes(view), [0, 1_000, 4_000, 7_000, 10_000]);
  assertEquals(
    (await broker.deliveries.deadLetters("billing")).messages.map((m) => m.attempts),
    [5],
  );
});

Deno.test("maxRetries 0 dead-letters a message at its first failure", async () => {
  using _time = new FakeTime(T0);
  await using t = await setUp({ billing: { ...ALL_ORDERS, maxRetries: 0 } });
  const { broker } = t;
  const { messageId } = await broker.publisher.publish("Orders", { body: "x" });
  const message = only(await t.receive("billing"), messageId, 1);
  assertEquals((await broker.deliveries.nack("billing", [message.receiptHandle])).settled, 1);
  const { messages } = await broker.deliveries.deadLetters("billing");
  assertEquals(messages.map((m) => [m.messageId, m.attempts, m.lastError]), [
    [messageId, 1, "nack"],
  ]);
  assertEquals((await broker.groups.stats("billing")).retrying, 0);
});

Deno.test("a nack with a delay overrides the group's schedule for that retry", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp({ billing: ALL_ORDERS });
  const { broker } = t;
  const { messageId } = await broker.publisher.publish("Orders", { body: "x" });
  const first = only(await t.receive("billing"), messageId, 1);
  await broker.deliveries.nack("billing", [first.receiptHandle], 2_000);
  time.tick(1_999);
  assertEquals(await t.receive("billing"), []);
  time.tick(1);
  const second = only(await t.receive("billing"), messageId, 2);
  await broker.deliveries.nack("billing", [second.receiptHandle]);
  time.tick(30_000 - 1);
  assertEquals(await t.receive("billing"), [], "back on the ladder: 30 s after attempt 2");
  time.tick(1);
  only(await t.receive("billing"), messageId, 3);
});

Deno.test("redrive of chosen ids delivers only those again; the other dead letters stay", async () => {
  using _time = new FakeTime(T0);
  await using t = await setUp({ billing: { ...ALL_ORDERS, maxRetries: 0 } });
  const { broker } = t;
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push((await broker.publisher.publish("Orders", { body: { i } })).messageId);
  }
  const received = await t.receive("billing");
  assertEquals(received.map((m) => m.messageId), ids);
  await broker.deliveries.nack("billing", received.map((m) => m.receiptHandle));
  const [a, b, c] = ids as [string, string, string];
  const deadIds = async () =>
    (await broker.deliveries.deadLetters("billing")).messages.map((m) => m.messageId);
  assertEquals(await deadIds(), ids);

  assertEquals(await broker.deliveries.redrive("billing", [b, "01UNKNOWNMESSAGEID00000000"]), 1);
  assertEquals(await deadIds(), [a, c]);
  assertEquals((await broker.groups.stats("billing")).deadLettered, 2);
  const redriven = only(await t.receive("billing"), b, 1);
  assertEquals(redriven.body, { i: 1 });
  assertEquals((await broker.deliveries.ack("billing", [redriven.receiptHandle])).settled, 1);
  assertEquals(await t.receive("billing"), []);

  assertEquals(await broker.deliveries.redrive("billing", [b]), 0, "b is no dead letter now");
  assertEquals(await broker.deliveries.redrive("billing"), 2);
  assertEquals(await deadIds(), []);
  const rest = await t.receive("billing");
  assertEquals(rest.map((m) => [m.messageId, m.attempt]).sort(), [[a, 1], [c, 1]]);
  await broker.deliveries.ack("billing", rest.map((m) => m.receiptHandle));
  assertEquals(await broker.groups.stats("billing"), {
    backlog: 0,
    inFlight: 0,
    retrying: 0,
    deadLettered: 0,
    acked: 3,
  });
});

// Real time, over HTTP ----------------------------------------------------------------

interface WireJson {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly attempt: number;
  readonly body?: unknown;
}

interface DeadLetterJson {
  readonly messageId: string;
  readonly topic: string;
  readonly attempts: number;
  readonly lastError: string;
  readonly deadLetteredAt: string;
}

Deno.test("over HTTP in real time: two nacks and a lapsed visibility timeout dead-letter a message; redrive brings it back", async () => {
  await using live = await serveBroker(LIVE);
  const api = new EscrowApi(live.url);
  const ok = <T>(res: { status: number; body: T }, status = 200): T => {
    assertEquals(res.status, status, JSON.stringify(res.body));
    return res.body;
  };
  await api.createTopic("Orders");
  ok(
    await api.request("PUT", "/v1/groups/billing", {
      subscriptions: [{ topic: "Orders" }],
      maxRetries: 2,
      retryDelaysSeconds: [0.05],
    }),
    201,
  );
  ok(await api.request("PUT", "/v1/groups/audit", { subscriptions: [{ topic: "Orders" }] }), 201);
  const { messageId } = ok(
    await api.request<{ messageId: string }>("POST", "/v1/topics/Orders/messages", {
      body: { order: 1 },
    }),
    201,
  );
  const receive = async (group: string, extra: Record<string, unknown> = {}) =>
    ok(
      await api.request<{ messages: WireJson[] }>("POST", `/v1/groups/${group}/receive`, {
        max: 10,
        waitSeconds: 5,
        ...extra,
      }),
    ).messages;

  let failedAt = 0;
  for (const attempt of [1, 2]) {
    const messages = await receive("billing");
    assertEquals(messages.map((m) => [m.messageId, m.attempt]), [[messageId, attempt]]);
    if (attempt > 1) assertGreaterOrEqual(Date.now() - failedAt, 50, "not before the retry delay");
    const nacked = ok(
      await api.request<{ nacked: number }>("POST", "/v1/groups/billing/nack", {
        receiptHandles: [messages[0]!.receiptHandle],
      }),
    );
    failedAt = Date.now();
    assertEquals(nacked.nacked, 1);
  }
  // Attempt 3 is never settled: the visibility timeout fails it, and that was the last retry.
  const third = await receive("billing", { visibilityTimeoutSeconds: 0.2 });
  assertEquals(third.map((m) => [m.messageId, m.attempt]), [[messageId, 3]]);
  const dead = await waitFor(
    async () =>
      ok(
        await api.request<{ messages: DeadLetterJson[] }>("GET", "/v1/groups/billing/dead-letters"),
      )
        .messages,
    (messages) => messages.length > 0,
    { timeoutMs: 5_000, what: "the dead letter" },
  );
  assertEquals(dead.map(({ deadLetteredAt: _, ...rest }) => rest), [
    { messageId, topic: "Orders", attempts: 3, lastError: "visibility timeout" },
  ]);
  const group = ok(await api.request<Record<string, number>>("GET", "/v1/groups/billing"));
  assertEquals([group.deadLettered, group.retrying, group.inFlight], [1, 0, 0]);

  const audited = await receive("audit");
  assertEquals(audited.map((m) => [m.messageId, m.attempt]), [[messageId, 1]]);
  ok(
    await api.request("POST", "/v1/groups/audit/ack", {
      receiptHandles: [audited[0]!.receiptHandle],
    }),
  );

  assertEquals(
    ok(
      await api.request("POST", "/v1/groups/billing/dead-letters/redrive", {
        messageIds: [messageId],
      }),
    ),
    { redriven: 1 },
  );
  const redriven = await receive("billing");
  assertEquals(redriven.map((m) => [m.messageId, m.attempt]), [[messageId, 1]]);
  assertEquals(redriven[0]!.body, { order: 1 });
  assertEquals(
    ok(
      await api.request("POST", "/v1/groups/billing/ack", {
        receiptHandles: [redriven[0]!.receiptHandle],
      }),
    ),
    { acked: 1, failed: [] },
  );
  const message = ok(
    await api.request<{ deliveries: { group: string; state: string }[] }>(
      "GET",
      `/v1/messages/${messageId}`,
    ),
  );
  assertEquals(message.deliveries.map((d) => [d.group, d.state]), [
    ["audit", "acked"],
    ["billing", "acked"],
  ]);
  assertEquals(
    ok(await api.request<{ messages: unknown[] }>("GET", "/v1/groups/billing/dead-letters"))
      .messages,
    [],
  );
});
