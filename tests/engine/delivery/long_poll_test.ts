/**
 * Long polls wake for any of a group's topics, however many (up to 32, more
 * than one `kv.watch()` takes), through the process's shared wake hub: a
 * receive on a `:memory:` KV under a fake clock that never moves (so only a
 * watch can wake it), a push pump POSTing to a real endpoint, and thousands
 * of waiters sharing one watch per key and leaving none behind.
 *
 * @module
 */
import { assertEquals } from "@std/assert/equals";
import { FakeTime } from "@std/testing/time";
import type { ReceiveOptions } from "../../../src/engine/delivery/deliveries.ts";
import {
  waitForWork,
  WakeHub,
  wakeKeys,
  wakeState,
  type WatchNews,
} from "../../../src/engine/delivery/long_poll.ts";
import type { ReceivedMessage } from "../../../src/domain/wire.ts";
import { keys } from "../../../src/store/keys.ts";
import { waitFor } from "../../_process.ts";
import { LIVE, openBroker } from "../../_support/broker.ts";
import { PushReceiver } from "../../_support/push_receiver.ts";

const T0 = Date.UTC(2030, 0, 1);

/** Topic names T01, T02, …, sorted as numbered. */
const topicNames = (count: number): string[] =>
  Array.from({ length: count }, (_, i) => `T${String(i + 1).padStart(2, "0")}`);

/**
 * A broker (jobs not started) with `count` topics and group "wide" subscribed
 * to all. Disposing it stops the broker (which ends open long polls) and
 * waits for the receives begun through it before closing the KV.
 */
async function setUp(count: number) {
  const fixture = await openBroker();
  const { kv, broker } = fixture;
  const topics = topicNames(count);
  for (const topic of topics) await broker.topics.create(topic);
  await broker.groups.put("wide", { subscriptions: topics.map((topic) => ({ topic })) });
  const receives: Promise<unknown>[] = [];
  return {
    kv,
    broker,
    topics,
    hub: WakeHub.of(kv),
    /** The number of keys a long poll of "wide" waits on. */
    keyCount: wakeKeys(await broker.groups.compiled("wide")).length,
    receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
      const receiving = broker.deliveries.receive("wide", options);
      receives.push(receiving);
      return receiving;
    },
    async [Symbol.asyncDispose]() {
      await broker.stop();
      await Promise.allSettled(receives);
      await fixture[Symbol.asyncDispose](); // stops again (a no-op), then closes the KV
    },
  };
}

/** Probes in real time (fake time stands still) until `done()`, for at most `timeoutMs`. */
async function until(time: FakeTime, done: () => boolean, what: string, timeoutMs = 10_000) {
  const start = performance.now();
  while (!done()) {
    if (performance.now() - start > timeoutMs) {
      throw new Error(`Cannot wait for ${what}: still unmet after ${timeoutMs} ms`);
    }
    await time.delay(5);
  }
}

/** `promise`, or a failure once `timeoutMs` of real time has passed without it settling. */
async function within<T>(
  time: FakeTime,
  promise: Promise<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const guard = new AbortController();
  const hang = time.delay(timeoutMs, { signal: guard.signal }).then(() => {
    throw new Error(`Cannot wait for ${what}: not settled after ${timeoutMs} ms of real time`);
  });
  hang.catch(() => {});
  try {
    return await Promise.race([promise, hang]);
  } finally {
    guard.abort();
  }
}

Deno.test("a receive waiting 20 s on a group of 32 topics returns a message published on the 10th, then on the 32nd, while fake time stands still", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp(32);
  for (const topic of [t.topics[9]!, t.topics[31]!]) {
    const receiving = t.receive({ max: 16, waitMs: 20_000 });
    await until(time, () => t.hub.counts.listeners === t.keyCount, "the receive to wait");
    const { messageId } = await t.broker.publisher.publish(topic, { body: topic });
    const messages = await within(time, receiving, `the receive after a publish on ${topic}`);
    assertEquals(messages.map((m) => [m.messageId, m.topic]), [[messageId, topic]]);
    assertEquals(Date.now(), T0, "fake time never moved: only a watch can have woken it");
    assertEquals(t.hub.counts, { watches: 0, listeners: 0 }, "nothing watched once it returned");
  }
});

Deno.test("a push group of 12 topics gets a message published on the 12th pushed to its endpoint long before the pump's 10 s idle wait ends", async () => {
  await using receiver = PushReceiver.serve(() => new Response(null, { status: 204 }));
  const topics = topicNames(12);
  await using live = await openBroker({
    ...LIVE,
    setUp: async (broker) => {
      for (const topic of topics) await broker.topics.create(topic);
      await broker.groups.put("hooks", {
        subscriptions: topics.map((topic) => ({ topic })),
        delivery: { mode: "push", url: receiver.url, timeoutSeconds: 5 },
      });
    },
  });
  const hub = WakeHub.of(live.kv);
  const keyCount = wakeKeys(await live.broker.groups.compiled("hooks")).length;
  await waitFor(() => hub.counts.listeners, (n) => n === keyCount, {
    timeoutMs: 5_000,
    what: "the pump to wait",
  });
  const { messageId } = await live.broker.publisher.publish(topics[11]!, { body: "late topic" });
  // The pump began its 10 s wait before the publish: a push within 5 s was woken by the watch.
  await waitFor(() => receiver.callsFor(messageId).length, (n) => n === 1, {
    timeoutMs: 5_000,
    what: "the push of the message published on the 12th topic",
  });
  assertEquals(receiver.calls[0]!.message.topic, topics[11]);
});

Deno.test("1,000 long polls on one group share one watch per key, one publish wakes them and exactly one takes it, and no watch is left once they end by abort or deadline", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp(12);
  const aborts = new AbortController();
  const settled = new Set<number>();
  const receives = Array.from({ length: 1_000 }, (_, i) => {
    const signal = i % 2 === 0 ? { signal: aborts.signal } : {};
    const receiving = t.receive({ waitMs: 20_000, ...signal });
    receiving.then(() => settled.add(i), () => settled.add(i));
    return receiving;
  });
  await until(
    time,
    () => t.hub.counts.listeners === 1_000 * 13,
    "1,000 waiters on 13 keys",
    30_000,
  );
  assertEquals(t.hub.counts.watches, 13, "one watch per key, whatever the number of waiters");

  const { messageId } = await t.broker.publisher.publish("T12", { body: "one" });
  await until(
    time,
    () => settled.size === 1 && t.hub.counts.listeners === 999 * 13,
    "one receive to take the message and the others to wait again",
    30_000,
  );
  const [taker] = settled;
  assertEquals((await receives[taker!]!).map((m) => m.messageId), [messageId]);
  assertEquals(t.hub.counts.watches, 13);

  aborts.abort();
  const aborted = receives.filter((_, i) => i % 2 === 0 && i !== taker);
  for (const messages of await within(time, Promise.all(aborted), "the aborted receives", 30_000)) {
    assertEquals(messages, []);
  }
  const rest = receives.filter((_, i) => i % 2 === 1 && i !== taker);
  assertEquals(t.hub.counts, { watches: 13, listeners: rest.length * 13 });

  time.tick(20_000);
  for (
    const messages of await within(
      time,
      Promise.all(rest),
      "the receives at their deadline",
      30_000,
    )
  ) {
    assertEquals(messages, []);
  }
  assertEquals(t.hub.counts, { watches: 0, listeners: 0 });
});

Deno.test("a long poll whose baseline predates a commit that a shared watch has already seen wakes at once", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp(2);
  const group = await t.broker.groups.compiled("wide");
  const seen: WatchNews[] = [];
  const release = t.hub.subscribe(keys.topicHead("T02"), (news) => seen.push(news));
  await until(time, () => seen.length === 1, "the shared watch's first read");
  const baseline = await wakeState(t.kv, group);
  await t.broker.publisher.publish("T02", { body: "meanwhile" });
  await until(time, () => seen.length === 2, "the shared watch to see the commit");
  await within(
    time,
    waitForWork(t.kv, Date.now, group, { deadline: T0 + 20_000, baseline }),
    "a wait on a baseline older than what the watch saw",
  );
  assertEquals(t.hub.counts, { watches: 1, listeners: 1 }, "the wait released its own keys only");
  await release();
  assertEquals(t.hub.counts, { watches: 0, listeners: 0 });
});

Deno.test("a wait whose KV is closed under it ends instead of hanging until its deadline", async () => {
  using time = new FakeTime(T0);
  const fixture = await openBroker();
  const { kv, broker } = fixture;
  await broker.topics.create("Orders");
  await broker.groups.put("ops", { subscriptions: [{ topic: "Orders" }] });
  const group = await broker.groups.compiled("ops");
  const hub = WakeHub.of(kv);
  const baseline = await wakeState(kv, group);
  const waiting = waitForWork(kv, Date.now, group, { deadline: T0 + 20_000, baseline });
  await until(time, () => hub.counts.listeners === 2, "the wait on its 2 keys");
  await fixture[Symbol.asyncDispose](); // stops the broker, closes the KV
  await within(time, waiting, "the wait after the KV closed");
  assertEquals(hub.counts, { watches: 0, listeners: 0 });
});

Deno.test("a long poll of a group taking Ops is not woken by a CS publish (its cursor stays) but is by an Ops one; groups of * and of an SQL92 filter wake for any tag", async () => {
  using time = new FakeTime(T0);
  await using fixture = await openBroker();
  const { kv, broker } = fixture;
  await broker.topics.create("Orders");
  await broker.groups.put("ops", { subscriptions: [{ topic: "Orders", tags: "Ops" }] });
  await broker.groups.put("all", { subscriptions: [{ topic: "Orders" }] });
  await broker.groups.put("sql", { subscriptions: [{ topic: "Orders", sql: "TAGS IS NOT NULL" }] });
  const hub = WakeHub.of(kv);
  const ops = await broker.groups.compiled("ops");
  assertEquals(wakeKeys(ops), [keys.groupSignal(ops.record.id), keys.tagCount("Orders", "Ops")]);
  const cursor = async () => (await kv.get(keys.cursor(ops.record.id, "Orders"))).versionstamp;
  const before = await cursor();

  const opsReceiving = broker.deliveries.receive("ops", { waitMs: 20_000 });
  let opsDone = false;
  opsReceiving.finally(() => opsDone = true);
  const others = ["all", "sql"].map((g) => broker.deliveries.receive(g, { waitMs: 20_000 }));
  await until(time, () => hub.counts.listeners === 6, "three groups waiting on two keys each");

  const cs = await broker.publisher.publish("Orders", { body: "for CS", tag: "CS" });
  for (const messages of await within(time, Promise.all(others), "* and SQL after a CS publish")) {
    assertEquals(messages.map((m) => m.messageId), [cs.messageId]);
  }
  // Had the CS publish woken "ops", its round would have moved its cursor past the entry.
  for (let probe = 0; probe < 20; probe++) await time.delay(5);
  assertEquals(opsDone, false, "the Ops group still waits");
  assertEquals(await cursor(), before, "no round of the Ops group ran");

  const op = await broker.publisher.publish("Orders", { body: "for Ops", tag: "Ops" });
  const got = await within(time, opsReceiving, "the Ops group after an Ops publish");
  assertEquals(got.map((m) => m.messageId), [op.messageId]);
  assertEquals(Date.now(), T0, "fake time never moved: only a watch can have woken it");
  assertEquals(hub.counts, { watches: 0, listeners: 0 });
});

Deno.test("a long poll whose cursor lags behind more CS entries than one receive scans goes on scanning to the Ops message past them, instead of waiting for a wake-up that will not come", async () => {
  using time = new FakeTime(T0);
  await using fixture = await openBroker();
  const { broker } = fixture;
  await broker.topics.create("Orders");
  await broker.groups.put("ops", { subscriptions: [{ topic: "Orders", tags: "Ops" }] });
  // One receive scans at most 8 rounds of 5,000 entries: 41,000 CS entries outlast it.
  const flood = Array.from({ length: 1_000 }, () => ({ body: "x", tag: "CS" }));
  for (let i = 0; i < 41; i++) await broker.publisher.publishBatch("Orders", flood);
  const op = await broker.publisher.publish("Orders", { body: "for Ops", tag: "Ops" });
  const got = await within(
    time,
    broker.deliveries.receive("ops", { waitMs: 20_000 }),
    "the receive past 41,000 entries it does not take",
  );
  assertEquals(got.map((m) => m.messageId), [op.messageId]);
  assertEquals(Date.now(), T0, "fake time never moved: the receive did not wait for its deadline");
});

Deno.test("a long poll of a group whose last round found work, finding none, reads its baseline, waits on its keys and is woken by the next publish", async () => {
  using time = new FakeTime(T0);
  await using fixture = await openBroker();
  const { kv, broker } = fixture;
  await broker.topics.create("Orders");
  await broker.groups.put("ops", { subscriptions: [{ topic: "Orders" }] });
  const hub = WakeHub.of(kv);
  const first = await broker.publisher.publish("Orders", { body: "one" });
  const got = await broker.deliveries.receive("ops", { waitMs: 20_000 });
  assertEquals(got.map((m) => m.messageId), [first.messageId], "the group's last round found work");

  const waiting = broker.deliveries.receive("ops", { waitMs: 20_000 });
  await until(time, () => hub.counts.listeners === 2, "the receive to wait on its 2 keys");
  const second = await broker.publisher.publish("Orders", { body: "two" });
  const woken = await within(time, waiting, "the receive after the second publish");
  assertEquals(woken.map((m) => m.messageId), [second.messageId]);
  assertEquals(Date.now(), T0, "fake time never moved: only a watch can have woken it");
  assertEquals(hub.counts, { watches: 0, listeners: 0 });
});
