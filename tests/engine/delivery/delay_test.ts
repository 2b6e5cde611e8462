/**
 * Delayed messages: a message published with `delaySeconds` reaches no
 * consumer group before then, in each group independently, while other
 * messages keep flowing. Driven by a fake clock on a `:memory:` KV.
 *
 * @module
 */
import { assertEquals } from "@std/assert/equals";
import { FakeTime } from "@std/testing/time";
import type { GroupInput } from "../../../src/engine/groups/groups.ts";
import { openBroker } from "../../_support/broker.ts";

const T0 = Date.UTC(2030, 0, 1);

/** Topic Orders with `groups`; names messages by their body. */
async function setUp(groups: Record<string, GroupInput>) {
  const fixture = await openBroker();
  const { broker } = fixture;
  await broker.topics.create("Orders");
  for (const [name, input] of Object.entries(groups)) await broker.groups.put(name, input);
  const names = new Map<string, string>();
  return {
    broker,
    async publish(name: string, delaySeconds?: number, messageGroup?: string): Promise<string> {
      const { messageId } = await broker.publisher.publish("Orders", {
        body: name,
        ...(delaySeconds !== undefined ? { delaySeconds } : {}),
        ...(messageGroup !== undefined ? { messageGroup } : {}),
      });
      names.set(messageId, name);
      return messageId;
    },
    /** Receives from `group`, acks everything, and names what came. */
    async take(group: string): Promise<string[]> {
      const messages = await broker.deliveries.receive(group, { max: 16 });
      if (messages.length > 0) {
        const { settled } = await broker.deliveries.ack(
          group,
          messages.map((m) => m.receiptHandle),
        );
        assertEquals(settled, messages.length);
      }
      return messages.map((m) => `${names.get(m.messageId)}@${m.attempt}`);
    },
    [Symbol.asyncDispose]: () => fixture[Symbol.asyncDispose](),
  };
}

const ALL = { subscriptions: [{ topic: "Orders" }] } satisfies GroupInput;

Deno.test("a message with delaySeconds 60 reaches each group at 60 s, not a millisecond before, while others flow meanwhile", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp({ billing: ALL, audit: ALL });
  const delayed = await t.publish("D", 60);
  await t.publish("N1");
  assertEquals(await t.take("billing"), ["N1@1"], "the delayed message is held back");

  time.tick(10_000);
  await t.publish("N2");
  await t.publish("S", 5);
  assertEquals(await t.take("billing"), ["N2@1"]);
  time.tick(4_999);
  assertEquals(await t.take("billing"), []);
  time.tick(1);
  assertEquals(await t.take("billing"), ["S@1"], "a shorter delay published later comes first");

  time.tick(15_000); // 30 s: audit reads for the first time
  assertEquals(await t.take("audit"), ["N1@1", "N2@1", "S@1"]);
  const pending = await t.broker.messages.get(delayed);
  assertEquals(pending.delaySeconds, 60);
  assertEquals(pending.deliveries.flatMap((d) => d.attempts), [], "no group has attempted it");

  time.tick(29_999); // 59.999 s
  assertEquals(await t.take("billing"), []);
  assertEquals(await t.take("audit"), []);
  assertEquals((await t.broker.groups.stats("billing")).backlog, 1, "still counted as backlog");

  time.tick(1); // 60 s
  const billing = await t.broker.deliveries.receive("billing", { max: 16 });
  assertEquals(billing.map((m) => [m.messageId, m.attempt, m.body]), [[delayed, 1, "D"]]);
  assertEquals(billing[0]!.publishedAt, T0, "publishedAt stays the time of publishing");
  assertEquals(await t.take("audit"), ["D@1"]);
  const view = await t.broker.messages.get(delayed);
  assertEquals(view.deliveries.map((d) => d.attempts.map((a) => a.at - T0)), [[60_000], [60_000]]);
});

Deno.test("a group that reads only after the delay has passed gets the delayed message at once, in commit order", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp({ late: ALL });
  await t.publish("D", 60);
  await t.publish("N");
  time.tick(60_000);
  assertEquals(await t.take("late"), ["D@1", "N@1"]);
});

Deno.test("in an ordered group, a delayed message still comes first in its message group; other groups flow", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp({ fulfil: { ...ALL, ordered: true } });
  await t.publish("A1", 60, "A");
  await t.publish("A2", undefined, "A");
  await t.publish("B1", undefined, "B");
  assertEquals(await t.take("fulfil"), ["B1@1"], "A2 waits behind the delayed A1");
  time.tick(59_999);
  assertEquals(await t.take("fulfil"), []);
  time.tick(1);
  assertEquals(await t.take("fulfil"), ["A1@1"]);
  assertEquals(await t.take("fulfil"), ["A2@1"]);
});
