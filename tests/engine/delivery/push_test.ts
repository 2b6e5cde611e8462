/**
 * Push delivery in real time: a started broker on a KV file POSTs to a real
 * endpoint on 127.0.0.1, which checks the signature itself, answers from a
 * script and records what arrived and how many requests overlapped.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertGreaterOrEqual } from "@std/assert/greater-or-equal";
import { assertLessOrEqual } from "@std/assert/less-or-equal";
import { assertStringIncludes } from "@std/assert/string-includes";
import { delay } from "@std/async/delay";
import type { Broker } from "../../../src/engine/broker.ts";
import type { GroupInput } from "../../../src/engine/groups/groups.ts";
import type { DeliveryView } from "../../../src/engine/history/messages.ts";
import { waitFor } from "../../_process.ts";
import { LIVE, openBroker } from "../../_support/broker.ts";
import { PushReceiver } from "../../_support/push_receiver.ts";
import { expectedSignature } from "../../_support/recording_server.ts";

const SECRET = "s3cret-shared-with-the-receiver";

/** The delivery view of `messageId` for `group`, once its first attempt began. */
async function deliveryOf(
  broker: Broker,
  messageId: string,
  group: string,
): Promise<DeliveryView | undefined> {
  const message = await broker.messages.get(messageId);
  return message.deliveries.find((d) => d.group === group);
}

/** Waits until the delivery of `messageId` for `group` is in `state`. */
async function waitForDelivery(
  broker: Broker,
  messageId: string,
  group: string,
  state: DeliveryView["state"],
): Promise<DeliveryView> {
  const view = await waitFor(
    () => deliveryOf(broker, messageId, group),
    (view) => view?.state === state,
    // Retries here are due within 0.5 s: a wait near the pumps' 10 s idle poll is a lost wake-up.
    { timeoutMs: 5_000, what: `${group}'s delivery of ${messageId} to be ${state}` },
  );
  assert(view);
  return view;
}

function pushGroup(url: string, extra: Partial<GroupInput> = {}): GroupInput {
  return {
    subscriptions: [{ topic: "Orders" }],
    delivery: { mode: "push", url, secret: SECRET, timeoutSeconds: 2 },
    retryDelaysSeconds: [0.1],
    maxRetries: 3,
    ...extra,
  };
}

Deno.test("a push endpoint answering 500 twice gets attempts 1, 2 and 3, signed; the 2xx acks it", async () => {
  await using receiver = PushReceiver.serve((call) =>
    new Response(call.previousCalls < 2 ? "down" : "ok", {
      status: call.previousCalls < 2 ? 500 : 200,
    })
  );
  await using live = await openBroker({
    ...LIVE,
    setUp: async (broker) => {
      await broker.topics.create("Orders");
      await broker.groups.put("webhook", pushGroup(receiver.url));
    },
  });
  const { broker } = live;
  const before = Date.now();
  const published = await broker.publisher.publish("Orders", {
    tag: "Paid",
    keys: ["order-7"],
    properties: { region: "SH" },
    body: { orderId: 7, amount: 100 },
  });

  const view = await waitForDelivery(broker, published.messageId, "webhook", "acked");
  const after = Date.now();

  assertEquals(view.attempts.map((a) => a.attempt), [1, 2, 3]);
  assertStringIncludes(view.attempts[0]!.error ?? "", "500");
  assertStringIncludes(view.attempts[1]!.error ?? "", "500");
  assertEquals(view.attempts[2]!.error, undefined, "the third attempt was acked");
  assertEquals(view.state, "acked");
  assert(view.ackedAt !== undefined);

  const calls = receiver.callsFor(published.messageId);
  assertEquals(calls.length, 3);
  for (const [i, call] of calls.entries()) {
    const attempt = i + 1;
    assertEquals(call.method, "POST");
    assertEquals(call.headers.get("content-type"), "application/json");
    assertEquals(call.headers.get("escrow-message-id"), published.messageId);
    assertEquals(call.headers.get("escrow-attempt"), String(attempt));
    const timestamp = call.headers.get("escrow-timestamp") ?? "";
    assert(/^\d+$/.test(timestamp), `unix seconds: ${timestamp}`);
    assertGreaterOrEqual(Number(timestamp), Math.floor(before / 1000));
    assertLessOrEqual(Number(timestamp), Math.ceil(after / 1000));
    assertEquals(
      call.headers.get("escrow-signature"),
      await expectedSignature(SECRET, timestamp, call.rawBody),
      `attempt ${attempt}: HMAC-SHA256 of "timestamp.body"`,
    );
    assert(
      call.headers.get("escrow-signature") !==
        await expectedSignature("another-secret", timestamp, call.rawBody),
    );
    assertEquals(call.message, {
      messageId: published.messageId,
      topic: "Orders",
      tag: "Paid",
      keys: ["order-7"],
      properties: { region: "SH" },
      body: { orderId: 7, amount: 100 },
      publishedAt: new Date(published.publishedAt).toISOString(),
      attempt,
    }, "the receive shape without a receipt handle");
  }
  // A retry comes no sooner than its delay after the failed answer.
  assertGreaterOrEqual(calls[1]!.receivedAt - calls[0]!.receivedAt, 100);
  assertGreaterOrEqual(calls[2]!.receivedAt - calls[1]!.receivedAt, 100);

  assertEquals(await broker.groups.stats("webhook"), {
    backlog: 0,
    inFlight: 0,
    retrying: 0,
    deadLettered: 0,
    acked: 1,
  });
  assertEquals((await broker.deliveries.deadLetters("webhook")).messages, []);
});

Deno.test("a push group without a secret sends no Escrow-Signature", async () => {
  await using receiver = PushReceiver.serve(() => new Response(null, { status: 204 }));
  await using live = await openBroker({
    ...LIVE,
    setUp: async (broker) => {
      await broker.topics.create("Orders");
      await broker.groups.put("webhook", {
        subscriptions: [{ topic: "Orders" }],
        delivery: { mode: "push", url: receiver.url },
      });
    },
  });
  const { messageId } = await live.broker.publisher.publish("Orders", { body: "plain" });
  await waitForDelivery(live.broker, messageId, "webhook", "acked");
  const [call] = receiver.callsFor(messageId);
  assert(call);
  assertEquals(call.headers.get("escrow-signature"), null);
  assertEquals(call.headers.get("escrow-attempt"), "1");
  assertEquals(call.message.body, "plain");
});

Deno.test("a push endpoint that always fails dead-letters the message after maxRetries + 1 attempts; a pull group on the topic is unaffected", async () => {
  await using receiver = PushReceiver.serve(() => new Response("busy", { status: 503 }));
  await using live = await openBroker({
    ...LIVE,
    setUp: async (broker) => {
      await broker.topics.create("Orders");
      await broker.groups.put("webhook", pushGroup(receiver.url, { retryDelaysSeconds: [0.05] }));
      await broker.groups.put("archive", { subscriptions: [{ topic: "Orders" }] });
    },
  });
  const { broker } = live;
  const { messageId } = await broker.publisher.publish("Orders", { tag: "Paid", body: 1 });

  const page = await waitFor(
    () => broker.deliveries.deadLetters("webhook"),
    (p) => p.messages.length > 0,
    { timeoutMs: 5_000, what: "a dead letter in webhook (4 attempts 0.05 s apart)" },
  );
  assertEquals(page.messages.length, 1);
  const dead = page.messages[0]!;
  assertEquals(dead.messageId, messageId);
  assertEquals(dead.topic, "Orders");
  assertEquals(dead.tag, "Paid");
  assertEquals(dead.attempts, 4, "maxRetries 3: the first attempt and 3 retries");
  assertStringIncludes(dead.lastError, "503");

  const view = await waitForDelivery(broker, messageId, "webhook", "deadLettered");
  assertEquals(view.attempts.map((a) => a.attempt), [1, 2, 3, 4]);
  assert(view.attempts.every((a) => a.error?.includes("503")), JSON.stringify(view.attempts));
  assertEquals(await broker.groups.stats("webhook"), {
    backlog: 0,
    inFlight: 0,
    retrying: 0,
    deadLettered: 1,
    acked: 0,
  });

  // The pull group still has the message, untouched by the push group's failures.
  const [received, ...more] = await broker.deliveries.receive("archive", { max: 10 });
  assertEquals(more, []);
  assert(received);
  assertEquals([received.messageId, received.attempt], [messageId, 1]);
  assertEquals((await broker.deliveries.ack("archive", [received.receiptHandle])).settled, 1);
  assertEquals(await broker.groups.stats("archive"), {
    backlog: 0,
    inFlight: 0,
    retrying: 0,
    deadLettered: 0,
    acked: 1,
  });
  assertEquals((await broker.deliveries.deadLetters("archive")).messages, []);

  await broker.stop();
  assertEquals(
    receiver.callsFor(messageId).map((call) => call.message.attempt),
    [1, 2, 3, 4],
    "nothing is pushed after the dead letter",
  );
});

Deno.test("a push group never has more than maxConcurrency requests in flight", async () => {
  await using receiver = PushReceiver.serve(async () => {
    await delay(150);
    return new Response(null, { status: 200 });
  });
  const ids: string[] = [];
  await using live = await openBroker({
    ...LIVE,
    setUp: async (broker) => {
      await broker.topics.create("Orders");
      await broker.groups.put("webhook", {
        subscriptions: [{ topic: "Orders" }],
        delivery: { mode: "push", url: receiver.url, maxConcurrency: 2 },
      });
      // Published before the pumps start, so all six are ready at once.
      for (let i = 0; i < 6; i++) {
        ids.push((await broker.publisher.publish("Orders", { body: { i } })).messageId);
      }
    },
  });
  const { broker } = live;

  await waitFor(
    () => broker.groups.stats("webhook"),
    (stats) => stats.acked === 6,
    { timeoutMs: 5_000, what: "six acks" },
  );

  assertEquals(receiver.maxActive, 2, "two at once, never more");
  assertEquals(receiver.calls.length, 6, "each message pushed once");
  assertEquals(new Set(receiver.calls.map((call) => call.message.messageId)), new Set(ids));
  assert(receiver.calls.every((call) => call.message.attempt === 1));
  const stats = await broker.groups.stats("webhook");
  assertEquals([stats.inFlight, stats.retrying, stats.backlog], [0, 0, 0]);
});

Deno.test("a push endpoint slower than timeoutSeconds counts as a failed attempt and is retried", async () => {
  await using receiver = PushReceiver.serve(async (call) => {
    // The first answer comes after 1 s, long after the broker gave up at 0.3 s.
    if (call.previousCalls === 0) await delay(1_000);
    return new Response(null, { status: 200 });
  });
  await using live = await openBroker({
    ...LIVE,
    setUp: async (broker) => {
      await broker.topics.create("Orders");
      await broker.groups.put("webhook", {
        subscriptions: [{ topic: "Orders" }],
        delivery: { mode: "push", url: receiver.url, timeoutSeconds: 0.3 },
        retryDelaysSeconds: [0.05],
        maxRetries: 3,
      });
    },
  });
  const { broker } = live;
  const { messageId } = await broker.publisher.publish("Orders", { body: "slow" });

  const view = await waitForDelivery(broker, messageId, "webhook", "acked");

  assertEquals(view.attempts.map((a) => a.attempt), [1, 2]);
  assertStringIncludes(view.attempts[0]!.error ?? "", "0.3 s");
  assertEquals(view.attempts[1]!.error, undefined);
  const calls = receiver.callsFor(messageId);
  assertEquals(calls.map((call) => call.message.attempt), [1, 2]);
  assertGreaterOrEqual(
    calls[1]!.receivedAt - calls[0]!.receivedAt,
    300 + 50,
    "the retry comes after the timeout and the retry delay",
  );
});

Deno.test("push retries go out on time: ten messages failing five times 20 ms apart, each dead-lettered within 3 s", async () => {
  await using receiver = PushReceiver.serve(() => new Response(null, { status: 500 }));
  await using live = await openBroker({
    ...LIVE,
    setUp: async (broker) => {
      await broker.topics.create("Orders");
      await broker.groups.put("webhook", {
        subscriptions: [{ topic: "Orders" }],
        delivery: { mode: "push", url: receiver.url, timeoutSeconds: 1 },
        retryDelaysSeconds: [0.02],
        maxRetries: 4,
      });
    },
  });
  const { broker } = live;
  // One at a time: each failure lands while the pump is about to wait for work.
  for (let i = 0; i < 10; i++) {
    const { messageId } = await broker.publisher.publish("Orders", { body: { i } });
    const started = Date.now();
    await waitFor(
      () => deliveryOf(broker, messageId, "webhook"),
      (view) => view?.state === "deadLettered",
      { timeoutMs: 3_000, intervalMs: 20, what: `message ${i} dead-lettered after 5 attempts` },
    );
    assertLessOrEqual(Date.now() - started, 3_000);
    assertEquals(receiver.callsFor(messageId).map((call) => call.message.attempt), [1, 2, 3, 4, 5]);
  }
});
