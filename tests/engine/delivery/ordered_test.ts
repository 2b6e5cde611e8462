/**
 * Ordered groups: messages of one message group are delivered one at a time
 * in commit order (the next waits until the previous is acked or
 * dead-lettered), while other message groups, and other consumer groups on
 * the same topic, keep flowing. Driven by a fake clock on a `:memory:` KV.
 *
 * @module
 */
import { assertEquals } from "@std/assert/equals";
import { FakeTime } from "@std/testing/time";
import type { ReceivedMessage } from "../../../src/engine/delivery/deliveries.ts";
import type { GroupInput } from "../../../src/engine/groups/groups.ts";
import { openBroker } from "../../_support/broker.ts";

const T0 = Date.UTC(2030, 0, 1);

const ORDERED: GroupInput = {
  subscriptions: [{ topic: "Orders" }],
  ordered: true,
  maxRetries: 2,
  retryDelaysSeconds: [10],
  visibilityTimeoutSeconds: 20,
};

/** Topic Orders with an ordered group `fulfil` and a plain group `ledger`. */
async function setUp() {
  const fixture = await openBroker();
  const { broker } = fixture;
  await broker.topics.create("Orders");
  await broker.groups.put("fulfil", ORDERED);
  await broker.groups.put("ledger", { subscriptions: [{ topic: "Orders" }] });
  const names = new Map<string, string>();
  return {
    broker,
    /** Publishes a message named `name` (e.g. "A1") in message group `name[0]`. */
    async publish(name: string): Promise<string> {
      const { messageId } = await broker.publisher.publish("Orders", {
        messageGroup: name[0]!,
        body: { name },
      });
      names.set(messageId, name);
      return messageId;
    },
    /** Receives from `group` and names what came as "A1@2" (message A1, attempt 2). */
    async receive(group: string): Promise<{ got: string[]; messages: ReceivedMessage[] }> {
      const messages = await broker.deliveries.receive(group, { max: 16 });
      return {
        got: messages.map((m) => `${names.get(m.messageId)}@${m.attempt}`),
        messages,
      };
    },
    async ack(group: string, messages: ReceivedMessage[]): Promise<void> {
      const result = await broker.deliveries.ack(group, messages.map((m) => m.receiptHandle));
      assertEquals(result.settled, messages.length, JSON.stringify(result.failed));
    },
    async nack(group: string, messages: ReceivedMessage[]): Promise<void> {
      const result = await broker.deliveries.nack(group, messages.map((m) => m.receiptHandle));
      assertEquals(result.settled, messages.length, JSON.stringify(result.failed));
    },
    [Symbol.asyncDispose]: () => fixture[Symbol.asyncDispose](),
  };
}

/** The messages of `received` whose names start with `prefix`. */
const pick = (received: { got: string[]; messages: ReceivedMessage[] }, prefix: string) =>
  received.messages.filter((_, i) => received.got[i]!.startsWith(prefix));

Deno.test("an ordered group holds A's next message behind its failing first one while B flows; the dead letter releases A in commit order", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp();
  for (const name of ["A1", "B1", "A2", "B2", "A3", "B3"]) await t.publish(name);

  let r = await t.receive("fulfil");
  assertEquals(r.got, ["A1@1", "B1@1"], "only the head of each message group");
  await t.nack("fulfil", pick(r, "A1"));
  await t.ack("fulfil", pick(r, "B1"));

  for (const next of ["B2", "B3"]) {
    r = await t.receive("fulfil");
    assertEquals(r.got, [`${next}@1`], "B goes on while A1 waits for its retry");
    await t.ack("fulfil", r.messages);
  }
  assertEquals((await t.receive("fulfil")).got, [], "A2 waits behind A1");

  for (const attempt of [2, 3]) {
    time.tick(10_000);
    r = await t.receive("fulfil");
    assertEquals(r.got, [`A1@${attempt}`], "A1 retried; A2 still waits");
    await t.nack("fulfil", r.messages);
  }
  const dead = (await t.broker.deliveries.deadLetters("fulfil")).messages;
  assertEquals(dead.map((d) => [d.attempts, d.lastError, d.messageGroup]), [[3, "nack", "A"]]);

  r = await t.receive("fulfil");
  assertEquals(r.got, ["A2@1"], "the dead letter released A2");
  assertEquals((await t.receive("fulfil")).got, [], "A3 waits behind A2");
  await t.ack("fulfil", r.messages);
  r = await t.receive("fulfil");
  assertEquals(r.got, ["A3@1"]);
  await t.ack("fulfil", r.messages);
  assertEquals((await t.receive("fulfil")).got, []);
  assertEquals(await t.broker.groups.stats("fulfil"), {
    backlog: 0,
    inFlight: 0,
    retrying: 0,
    deadLettered: 1,
    acked: 5,
  });

  // The plain group on the same topic saw everything at once, in commit order.
  r = await t.receive("ledger");
  assertEquals(r.got, ["A1@1", "B1@1", "A2@1", "B2@1", "A3@1", "B3@1"]);
  await t.ack("ledger", r.messages);
  assertEquals((await t.broker.groups.stats("ledger")).acked, 6);
});

Deno.test("acking A's first message after a failure lets A's second through", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp();
  for (const name of ["A1", "A2", "B1"]) await t.publish(name);

  let r = await t.receive("fulfil");
  assertEquals(r.got, ["A1@1", "B1@1"]);
  await t.nack("fulfil", pick(r, "A1"));
  await t.ack("fulfil", pick(r, "B1"));
  time.tick(10_000);
  r = await t.receive("fulfil");
  assertEquals(r.got, ["A1@2"]);
  await t.ack("fulfil", r.messages);
  r = await t.receive("fulfil");
  assertEquals(r.got, ["A2@1"]);
  await t.ack("fulfil", r.messages);
  assertEquals((await t.broker.groups.stats("fulfil")).acked, 3);
});

Deno.test("a lapsed visibility timeout does not let the next message of the group through", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp();
  for (const name of ["A1", "A2"]) await t.publish(name);

  let r = await t.receive("fulfil");
  assertEquals(r.got, ["A1@1"]);
  time.tick(20_000);
  await t.broker.scheduler.runDue();
  assertEquals((await t.broker.groups.stats("fulfil")).retrying, 1, "A1 expired");
  assertEquals((await t.receive("fulfil")).got, [], "A2 still waits for A1");
  time.tick(10_000);
  r = await t.receive("fulfil");
  assertEquals(r.got, ["A1@2"]);
  await t.ack("fulfil", r.messages);
  assertEquals((await t.receive("fulfil")).got, ["A2@1"]);
});

Deno.test("messages published while their group is blocked follow in commit order", async () => {
  using _time = new FakeTime(T0);
  await using t = await setUp();
  await t.publish("A1");
  let r = await t.receive("fulfil");
  assertEquals(r.got, ["A1@1"]);
  await t.publish("A2");
  assertEquals((await t.receive("fulfil")).got, []);
  await t.publish("A3");
  await t.publish("B1");
  assertEquals((await t.receive("fulfil")).got, ["B1@1"]);
  await t.publish("A4");
  const order: string[] = [];
  for (let i = 0; i < 3; i++) {
    await t.ack("fulfil", r.messages);
    r = await t.receive("fulfil");
    order.push(...r.got);
  }
  assertEquals(order, ["A2@1", "A3@1", "A4@1"]);
});

Deno.test("a redriven dead letter waits behind its message group's current message, then goes first", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp();
  const a1 = await t.publish("A1");
  for (const name of ["A2", "A3"]) await t.publish(name);
  // A1 fails three times (maxRetries 2) and is dead-lettered; A2 then takes A's turn.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const r = await t.receive("fulfil");
    assertEquals(r.got, [`A1@${attempt}`]);
    await t.nack("fulfil", r.messages);
    time.tick(10_000);
  }
  let r = await t.receive("fulfil");
  assertEquals(r.got, ["A2@1"]);
  assertEquals(await t.broker.deliveries.redrive("fulfil", [a1]), 1);
  assertEquals((await t.receive("fulfil")).got, [], "A1 waits for A2, the message in progress");
  await t.ack("fulfil", r.messages);
  r = await t.receive("fulfil");
  assertEquals(r.got, ["A1@1"], "the redriven message goes before A3");
  await t.ack("fulfil", r.messages);
  assertEquals((await t.receive("fulfil")).got, ["A3@1"]);
});

Deno.test("a redriven dead letter of an idle message group is delivered at once", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp();
  const a1 = await t.publish("A1");
  for (let attempt = 1; attempt <= 3; attempt++) {
    const r = await t.receive("fulfil");
    await t.nack("fulfil", r.messages);
    time.tick(10_000);
  }
  assertEquals((await t.receive("fulfil")).got, []);
  assertEquals(await t.broker.deliveries.redrive("fulfil", [a1]), 1);
  const r = await t.receive("fulfil");
  assertEquals(r.got, ["A1@1"]);
  await t.publish("A2");
  assertEquals((await t.receive("fulfil")).got, [], "A2 waits for the redriven A1");
  await t.ack("fulfil", r.messages);
  assertEquals((await t.receive("fulfil")).got, ["A2@1"]);
});
