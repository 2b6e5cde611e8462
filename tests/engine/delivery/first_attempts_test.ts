/**
 * First attempts by record: a receive that starts deliveries of log entries
 * stores no delivery-stream event for them, one first-attempts record per
 * round and topic, and every reader still sees each delivery's whole
 * history, found from the message's position in its topic's log.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertThrows } from "@std/assert/throws";
import type { DeliveryEvent } from "../../../src/domain/events.ts";
import type { BatchOutcome } from "../../../src/engine/publishing/publisher.ts";
import { FirstAttempts } from "../../../src/engine/delivery/first_attempts.ts";
import { readDelivery } from "../../../src/engine/delivery/history.ts";
import { EventStore } from "../../../src/store/event_store.ts";
import { WriteSet } from "../../../src/store/write_set.ts";
import { openBroker } from "../../_support/broker.ts";

async function open() {
  const fixture = await openBroker();
  await fixture.broker.topics.create("Orders");
  await fixture.broker.groups.put("ops", { subscriptions: [{ topic: "Orders" }] });
  return fixture;
}

function idOf(outcome: BatchOutcome | undefined): string {
  if (!outcome?.ok) throw new Error(`publish failed: ${String(outcome?.error)}`);
  return outcome.result.messageId;
}

async function count(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  return (await Array.fromAsync(kv.list({ prefix }))).length;
}

function types(events: readonly DeliveryEvent[]): string[] {
  return events.map((e) => e.type);
}

Deno.test("the happy path stores at most 0.1 values per delivery, and each message shows attempted then acked", async () => {
  await using t = await open();
  const outcomes = await t.broker.publisher.publishBatch(
    "Orders",
    Array.from({ length: 320 }, (_, i) => ({ body: i })),
  );
  assert(outcomes.every((o) => o.ok));
  let deliveries = 0;
  for (;;) {
    const got = await t.broker.deliveries.receive("ops", { max: 64 });
    if (got.length === 0) break;
    deliveries += got.length;
    const { settled } = await t.broker.deliveries.ack("ops", got.map((m) => m.receiptHandle));
    assertEquals(settled, got.length);
  }
  assertEquals(deliveries, 320);
  assertEquals(await count(t.kv, ["ev", "dlv"]), 0, "no delivery-stream event stored");
  const stored = await count(t.kv, ["att"]) + await count(t.kv, ["ack"]) +
    await count(t.kv, ["lease"]);
  assert(stored / deliveries <= 0.1, `${stored} values for ${deliveries} deliveries`);
  const stats = await t.broker.groups.stats("ops");
  assertEquals([stats.inFlight, stats.acked], [0, 320]);

  const view = await t.broker.messages.get(idOf(outcomes[0]));
  assertEquals(view.deliveries.length, 1);
  const [delivery] = view.deliveries;
  assertEquals(delivery!.state, "acked");
  assertEquals(types(delivery!.history as DeliveryEvent[]), ["DeliveryAttempted", "DeliveryAcked"]);
  const attempted = delivery!.history[0] as Extract<DeliveryEvent, { type: "DeliveryAttempted" }>;
  assertEquals([attempted.data.group, attempted.data.attempt], ["ops", 1]);
  assertEquals(delivery!.attempts.map((a) => a.attempt), [1]);
});

Deno.test("of two messages in one log value, only the one a round started shows a delivery", async () => {
  await using t = await open();
  const [a, b] = await t.broker.publisher.publishBatch("Orders", [{ body: "a" }, { body: "b" }]);
  const ids = [idOf(a), idOf(b)];
  const logs = await Array.fromAsync(t.kv.list({ prefix: ["log", "Orders"] }));
  assertEquals(logs.length, 1, "both in one log value");

  const [got] = await t.broker.deliveries.receive("ops", { max: 1 });
  assertEquals(got?.messageId, ids[0]);
  assertEquals((await t.broker.messages.get(ids[0]!)).deliveries.length, 1);
  assertEquals((await t.broker.messages.get(ids[1]!)).deliveries, [], "b not attempted yet");

  await t.broker.deliveries.receive("ops", { max: 1 });
  const view = await t.broker.messages.get(ids[1]!);
  assertEquals(types(view.deliveries[0]!.history as DeliveryEvent[]), ["DeliveryAttempted"]);
  assertEquals(await count(t.kv, ["att"]), 2);
});

Deno.test("a round over several log values keeps one record under the last, and finds each message's", async () => {
  await using t = await open();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push((await t.broker.publisher.publish("Orders", { body: i })).messageId);
  }
  assertEquals((await Array.fromAsync(t.kv.list({ prefix: ["log", "Orders"] }))).length, 3);
  assertEquals((await t.broker.deliveries.receive("ops", { max: 10 })).length, 3);
  assertEquals(await count(t.kv, ["att"]), 1);
  for (const id of ids) {
    const [delivery] = (await t.broker.messages.get(id)).deliveries;
    assertEquals(delivery?.state, "inFlight", id);
  }
});

Deno.test("a nack after a recorded first attempt appends event 2, and the history reads on from it", async () => {
  await using t = await open();
  const { messageId } = await t.broker.publisher.publish("Orders", { body: "a" });
  const [first] = await t.broker.deliveries.receive("ops");
  assertEquals((await t.broker.deliveries.nack("ops", [first!.receiptHandle], 0)).settled, 1);
  const keys = (await Array.fromAsync(t.kv.list({ prefix: ["ev", "dlv"] }))).map((e) => e.key[3]);
  assertEquals(keys, [2], "the failure is the stream's event 2");
  assertEquals((await t.broker.deliveries.ack("ops", [first!.receiptHandle])).settled, 0);
  const [second] = await t.broker.deliveries.receive("ops");
  assertEquals(second?.attempt, 2);
  assertEquals((await t.broker.deliveries.ack("ops", [second!.receiptHandle])).settled, 1);
  const groupId = (await t.broker.groups.require("ops")).id;
  const history = await readDelivery(t.kv, groupId, { messageId, topic: "Orders" });
  assertEquals(types(history), [
    "DeliveryAttempted",
    "DeliveryFailed",
    "DeliveryRetryDue",
    "DeliveryAttempted",
    "DeliveryAcked",
  ]);
  const stats = await t.broker.groups.stats("ops");
  assertEquals([stats.inFlight, stats.retrying, stats.acked], [0, 0, 1]);
});

Deno.test("a transactional message's first attempt is found from its commit's position, not its prepare's", async () => {
  await using t = await open();
  const { view } = await t.broker.transactions.prepare("Orders", { body: "tx" });
  // Published and delivered between the prepare and the commit: its record comes first.
  const { messageId: before } = await t.broker.publisher.publish("Orders", { body: "before" });
  assertEquals((await t.broker.deliveries.receive("ops")).map((m) => m.messageId), [before]);
  await t.broker.transactions.decide(view.transactionId, "commit");
  assertEquals((await t.broker.deliveries.receive("ops")).map((m) => m.messageId), [
    view.messageId,
  ]);
  const [delivery] = (await t.broker.messages.get(view.messageId)).deliveries;
  assertEquals(delivery?.state, "inFlight");
  assertEquals(types(delivery!.history as DeliveryEvent[]), ["DeliveryAttempted"]);
});

Deno.test("a first-attempts record is written only under the check of the cursor that passes its entries", async () => {
  using kv = await Deno.openKv(":memory:");
  const attempts = new FirstAttempts({ groupId: "g1", group: "ops", at: 0, visibleUntil: 30_000 });
  const pick = {
    head: {
      messageId: "m1",
      topic: "Orders",
      seq: 0,
      state: "pending" as const,
      context: { attempt: 0 },
    },
    at: { vs: "01", index: 0 },
    guardedBy: ["cursor", "g1", "Orders"],
  };
  assertThrows(() => attempts.start(new WriteSet(), new EventStore(kv), pick), TypeError, "check");
  const op = new WriteSet().check({ key: pick.guardedBy, versionstamp: null });
  assertEquals(attempts.start(op, new EventStore(kv), pick)?.after.state, "inFlight");
  assertThrows(
    () => attempts.start(op, new EventStore(kv), { ...pick, head: { ...pick.head, seq: 1 } }),
    TypeError,
    "event 2",
  );
});

Deno.test("deleting a group collects its first-attempts records", async () => {
  await using t = await open();
  await t.broker.publisher.publish("Orders", { body: "a" });
  await t.broker.deliveries.receive("ops");
  assertEquals(await count(t.kv, ["att"]), 1);
  const groupId = (await t.broker.groups.require("ops")).id;
  await t.broker.groups.delete("ops");
  while (!(await t.broker.groups.collect(groupId)));
  assertEquals(await count(t.kv, ["att"]), 0);
});
