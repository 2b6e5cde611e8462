/**
 * What settling and starting deliveries guarantee beyond the API's happy
 * path: a receive whose consumer went away gives its messages back at once;
 * a dead-letter warning is logged only once its commit succeeded; a stream
 * is only ever appended at its head; receives of many messages take several
 * commits, one checked append per delivery stream.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { stub } from "@std/testing/mock";
import type { Broker } from "../../../src/engine/broker.ts";
import type { DeliveryEvent } from "../../../src/domain/events.ts";
import { appendDelivery } from "../../../src/engine/delivery/step.ts";
import { EventStore } from "../../../src/store/event_store.ts";
import { WriteSet } from "../../../src/store/write_set.ts";
import { GroupCommitter } from "../../../src/store/group_commit.ts";
import { openBroker } from "../../_support/broker.ts";

async function open(groupInput: Parameters<Broker["groups"]["put"]>[1] = {
  subscriptions: [{ topic: "Orders" }],
}) {
  const fixture = await openBroker();
  await fixture.broker.topics.create("Orders");
  await fixture.broker.groups.put("ops", groupInput);
  return fixture;
}

Deno.test("a receive whose consumer went away releases what it started: the next receive gets it at once", async () => {
  await using t = await open();
  const { messageId } = await t.broker.publisher.publish("Orders", { body: "a" });
  const gone = new AbortController();
  gone.abort();
  assertEquals(await t.broker.deliveries.receive("ops", { signal: gone.signal }), []);
  const [again] = await t.broker.deliveries.receive("ops");
  assertEquals(again?.messageId, messageId);
  assertEquals(again?.attempt, 2);
  const stats = await t.broker.groups.stats("ops");
  assertEquals([stats.inFlight, stats.retrying], [1, 0]);
  const view = await t.broker.messages.get(messageId);
  assertEquals(
    view.deliveries[0]!.attempts.map((a) => a.error),
    ["released: the consumer went away before the messages reached it", undefined],
  );
});

Deno.test("a dead-letter warning is logged once, after its commit, even when two nacks race", async () => {
  await using t = await open({ subscriptions: [{ topic: "Orders" }], maxRetries: 0 });
  await t.broker.publisher.publish("Orders", { body: "a" });
  const [message] = await t.broker.deliveries.receive("ops");
  using warn = stub(console, "warn");
  const results = await Promise.all([
    t.broker.deliveries.nack("ops", [message!.receiptHandle]),
    t.broker.deliveries.nack("ops", [message!.receiptHandle]),
    t.broker.deliveries.ack("ops", [message!.receiptHandle]),
  ]);
  assertEquals(results.map((r) => r.settled).reduce((a, b) => a + b), 1);
  const deadLettered = (await t.broker.groups.stats("ops")).deadLettered;
  assertEquals(warn.calls.length, deadLettered, "one warning per dead letter, none for losers");
});

Deno.test("a delivery event is only appended at its stream's head: a stale head commits nothing", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new EventStore(kv);
  const committer = new GroupCommitter(kv);
  const head = {
    messageId: "m1",
    topic: "Orders",
    seq: 0,
    state: "pending" as const,
    context: { attempt: 0 },
  };
  const attempted: DeliveryEvent = {
    type: "DeliveryAttempted",
    data: { group: "ops", attempt: 1, visibleUntil: 10 },
    at: 0,
  };
  const first = new WriteSet();
  assert(appendDelivery(first, store, "g1", head, [attempted]));
  assert(await committer.commit(first));
  const second = new WriteSet();
  assert(appendDelivery(second, store, "g1", head, [attempted]));
  assertEquals(await committer.commit(second), false, "event 1 exists: the append must fail");
  assertEquals((await store.read({ kind: "dlv", id: "m1:g1" })).version, 1);
  // The machine refuses what the head's state cannot take, and nothing is added.
  const refused = new WriteSet();
  assertEquals(
    appendDelivery(refused, store, "g1", head, [{
      type: "DeliveryAcked",
      data: { attempt: 1 },
      at: 0,
    }]),
    undefined,
  );
  assertEquals(refused.mutations + refused.checks, 0);
});

Deno.test("the engine's decision is the machine's guard: an in-flight delivery takes no event of another attempt", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new EventStore(kv);
  const head = {
    messageId: "m1",
    topic: "Orders",
    seq: 1,
    state: "inFlight" as const,
    context: { attempt: 2, visibleUntil: 30_000 },
  };
  for (
    const event of [
      { type: "DeliveryAcked", data: { attempt: 1 }, at: 0 },
      { type: "DeliveryFailed", data: { attempt: 1, error: "late", retryAt: 5 }, at: 0 },
      { type: "DeliveryVisibilityExtended", data: { attempt: 3, visibleUntil: 60_000 }, at: 0 },
    ] satisfies DeliveryEvent[]
  ) {
    const op = new WriteSet();
    assertEquals(appendDelivery(op, store, "g1", head, [event]), undefined, event.type);
    assertEquals(op.mutations + op.checks, 0);
  }
  const op = new WriteSet();
  const steps = appendDelivery(op, store, "g1", head, [{
    type: "DeliveryAcked",
    data: { attempt: 2 },
    at: 0,
  }]);
  assertEquals(steps?.map((step) => step.after.state), ["acked"]);
});

Deno.test("a receive of 256 messages takes several commits of at most 90 checks and returns them all", async () => {
  await using t = await open();
  for (let i = 0; i < 300; i++) await t.broker.publisher.publish("Orders", { body: i });
  const messages = await t.broker.deliveries.receive("ops", { max: 256 });
  assertEquals(messages.length, 256);
  assertEquals(new Set(messages.map((m) => m.messageId)).size, 256);
  const { settled, failed } = await t.broker.deliveries.ack(
    "ops",
    messages.map((m) => m.receiptHandle),
  );
  assertEquals([settled, failed.length], [256, 0]);
  assertEquals((await t.broker.deliveries.receive("ops", { max: 256 })).length, 44);
});
