/**
 * Acks by record: one ack call's handles of one lease are acked by one
 * stored value, the `DeliveryAcked` event of each (src/engine/delivery/acks.ts),
 * and the lease it takes them out of is what an ack and any other settle of
 * the same head race on. These tests count what the happy path stores, show
 * the history unchanged, and race acks against nacks, visibility changes
 * and each other.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import type { Broker } from "../../../src/engine/broker.ts";
import { openBroker } from "../../_support/broker.ts";

async function open(groups = ["ops"]) {
  const fixture = await openBroker();
  await fixture.broker.topics.create("Orders");
  for (const name of groups) {
    await fixture.broker.groups.put(name, { subscriptions: [{ topic: "Orders" }] });
  }
  return fixture;
}

/** Every key with its versionstamp: what is stored. */
async function snapshot(kv: Deno.Kv): Promise<Map<string, string>> {
  const stored = new Map<string, string>();
  for await (const entry of kv.list({ prefix: [] })) {
    stored.set(JSON.stringify(entry.key), entry.versionstamp);
  }
  return stored;
}

/** Values written (set, summed or deleted) between two snapshots. */
function written(before: Map<string, string>, after: Map<string, string>): number {
  let n = 0;
  for (const [key, stamp] of after) if (before.get(key) !== stamp) n++;
  for (const key of before.keys()) if (!after.has(key)) n++;
  return n;
}

async function receiveAll(broker: Broker, group: string, n: number) {
  const messages = [];
  while (messages.length < n) {
    const got = await broker.deliveries.receive(group, { max: 256 });
    assert(got.length > 0, "every published message is received");
    messages.push(...got);
  }
  return messages;
}

Deno.test("the happy path stores about one value per delivery, and its acks at most 0.1 per delivery", async () => {
  await using t = await open(["ops", "audit"]);
  const n = 500;
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, j) => t.broker.publisher.publish("Orders", { body: i + j })),
    );
  }
  const published = await snapshot(t.kv);
  const received = new Map<string, string[]>();
  for (const group of ["ops", "audit"]) {
    received.set(group, (await receiveAll(t.broker, group, n)).map((m) => m.receiptHandle));
  }
  const inFlight = await snapshot(t.kv);
  for (const [group, handles] of received) {
    const { settled, failed } = await t.broker.deliveries.ack(group, handles);
    assertEquals([settled, failed], [n, []]);
  }
  const acked = await snapshot(t.kv);
  const deliveries = 2 * n;
  const ackWrites = written(inFlight, acked) / deliveries;
  const stored = (acked.size - published.size) / deliveries;
  assert(ackWrites <= 0.1, `acks wrote ${ackWrites} values per delivery`);
  assert(stored <= 1.1, `the happy path stores ${stored} values per delivery`);
  for (const group of ["ops", "audit"]) {
    const stats = await t.broker.groups.stats(group);
    assertEquals([stats.acked, stats.inFlight], [n, 0]);
  }
});

Deno.test("an acked delivery's history is the same: attempted, then acked at the ack's time", async () => {
  await using t = await open();
  const { messageId } = await t.broker.publisher.publish("Orders", { body: "a" });
  const [message] = await t.broker.deliveries.receive("ops");
  const before = Date.now();
  await t.broker.deliveries.ack("ops", [message!.receiptHandle]);
  const [delivery] = (await t.broker.messages.get(messageId)).deliveries;
  assertEquals(delivery?.state, "acked");
  assertEquals(delivery?.history.map((e) => e.type), ["DeliveryAttempted", "DeliveryAcked"]);
  assertEquals(delivery?.history[1]?.data, { attempt: 1 });
  assertEquals(delivery?.ackedAt, delivery?.history[1]?.at);
  assert(delivery!.ackedAt! >= before);
  const replay = await t.broker.inspection.delivery(messageId, "ops");
  assert(JSON.stringify(replay).includes("DeliveryAcked"), "the inspector replays the ack");
});

Deno.test("a nack then an ack of one handle: the ack is refused and the retry stands", async () => {
  await using t = await open();
  const { messageId } = await t.broker.publisher.publish("Orders", { body: "a" });
  const [message] = await t.broker.deliveries.receive("ops");
  assertEquals(
    (await t.broker.deliveries.nack("ops", [message!.receiptHandle], 60_000)).settled,
    1,
  );
  const ack = await t.broker.deliveries.ack("ops", [message!.receiptHandle]);
  assertEquals(ack.settled, 0);
  const [delivery] = (await t.broker.messages.get(messageId)).deliveries;
  assertEquals(delivery?.state, "retrying");
  assertEquals(delivery?.history.map((e) => e.type), ["DeliveryAttempted", "DeliveryFailed"]);
  const stats = await t.broker.groups.stats("ops");
  assertEquals([stats.acked, stats.retrying, stats.inFlight], [0, 1, 0]);
});

Deno.test("acks and nacks of the same handles at once: exactly one of each pair settles", async () => {
  await using t = await open();
  const n = 40;
  for (let i = 0; i < n; i++) await t.broker.publisher.publish("Orders", { body: i });
  const messages = await receiveAll(t.broker, "ops", n);
  // One pair at a time, so that no ack waits behind another (see ack_batcher.ts): each pair's
  // two commits race, the first named first in the group commit's queue.
  const results = [];
  for (const [i, m] of messages.entries()) {
    const ack = () => t.broker.deliveries.ack("ops", [m.receiptHandle]);
    const nack = () => t.broker.deliveries.nack("ops", [m.receiptHandle], 60_000);
    results.push(await Promise.all(i % 2 === 0 ? [ack(), nack()] : [nack(), ack()]));
  }
  let acked = 0;
  for (const [i, pair] of results.entries()) {
    const settled = pair.map((r) => r.settled);
    assertEquals(settled[0]! + settled[1]!, 1, `message ${i}: one of ack and nack settles`);
    const ackWon = (i % 2 === 0 ? settled[0] : settled[1]) === 1;
    if (ackWon) acked++;
    const [delivery] = (await t.broker.messages.get(messages[i]!.messageId)).deliveries;
    assertEquals(delivery?.state, ackWon ? "acked" : "retrying", `message ${i}`);
  }
  const stats = await t.broker.groups.stats("ops");
  assertEquals([stats.acked, stats.retrying, stats.inFlight], [acked, n - acked, 0]);
});

Deno.test("two acks of the same handles at once settle each once", async () => {
  await using t = await open();
  const n = 30;
  for (let i = 0; i < n; i++) await t.broker.publisher.publish("Orders", { body: i });
  const handles = (await receiveAll(t.broker, "ops", n)).map((m) => m.receiptHandle);
  const results = await Promise.all([
    t.broker.deliveries.ack("ops", handles),
    t.broker.deliveries.ack("ops", handles),
    ...handles.map((h) => t.broker.deliveries.ack("ops", [h])),
  ]);
  assertEquals(results.reduce((sum, r) => sum + r.settled, 0), n);
  assertEquals((await t.broker.groups.stats("ops")).acked, n);
  // Two acks of one handle waiting behind another ack: not settled together, or both say "settled".
  await t.broker.publisher.publish("Orders", { body: "x" });
  await t.broker.publisher.publish("Orders", { body: "y" });
  const [first, second] = await receiveAll(t.broker, "ops", 2);
  const [, a, b] = await Promise.all([
    t.broker.deliveries.ack("ops", [first!.receiptHandle]),
    t.broker.deliveries.ack("ops", [second!.receiptHandle]),
    t.broker.deliveries.ack("ops", [second!.receiptHandle]),
  ]);
  assertEquals(a!.settled + b!.settled, 1, "one of the two acks settles the handle");
  assertEquals((await t.broker.groups.stats("ops")).acked, n + 2);
});

Deno.test("an ack racing a visibility change of one handle: exactly one of them takes effect", async () => {
  await using t = await open();
  const n = 30;
  for (let i = 0; i < n; i++) await t.broker.publisher.publish("Orders", { body: i });
  const messages = await receiveAll(t.broker, "ops", n);
  const outcomes = await Promise.all(messages.map(async (m) => {
    const [ack, change] = await Promise.all([
      t.broker.deliveries.ack("ops", [m.receiptHandle]),
      t.broker.deliveries.changeVisibility("ops", m.receiptHandle, 600),
    ]);
    return { acked: ack.settled === 1, extended: "receiptHandle" in change };
  }));
  for (const [i, { acked, extended }] of outcomes.entries()) {
    assert(acked !== extended, `message ${i}: acked ${acked}, extended ${extended}`);
    const [delivery] = (await t.broker.messages.get(messages[i]!.messageId)).deliveries;
    assertEquals(delivery?.state, acked ? "acked" : "inFlight", `message ${i}`);
  }
  const stats = await t.broker.groups.stats("ops");
  const acked = outcomes.filter((o) => o.acked).length;
  assertEquals([stats.acked, stats.inFlight], [acked, n - acked]);
});

Deno.test("deleting a group collects its ack records with the rest of its keys", async () => {
  await using t = await open();
  await t.broker.publisher.publish("Orders", { body: "a" });
  const groupId = (await t.broker.groups.require("ops")).id;
  const [message] = await t.broker.deliveries.receive("ops");
  await t.broker.deliveries.ack("ops", [message!.receiptHandle]);
  const acks = () => Array.fromAsync(t.kv.list({ prefix: ["ack", groupId] }));
  assertEquals((await acks()).length, 1);
  await t.broker.groups.delete("ops");
  assert(await t.broker.groups.collect(groupId));
  assertEquals((await acks()).length, 0);
});

Deno.test("acks of one message each, all at once (as a push group makes them), settle in a few records", async () => {
  await using t = await open();
  const n = 60;
  for (let i = 0; i < n; i++) await t.broker.publisher.publish("Orders", { body: i });
  const messages = await receiveAll(t.broker, "ops", n);
  const groupId = (await t.broker.groups.require("ops")).id;
  const results = await Promise.all(
    messages.map((m) => t.broker.deliveries.ack("ops", [m.receiptHandle])),
  );
  assertEquals(results.map((r) => r.settled), messages.map(() => 1));
  const records = await Array.fromAsync(t.kv.list({ prefix: ["ack", groupId] }));
  assert(records.length <= 3, `${records.length} ack records for ${n} acks made at once`);
  assertEquals((await t.broker.groups.stats("ops")).acked, n);
});
