/**
 * A slow push endpoint never starves the other groups: two real endpoints on
 * 127.0.0.1, one holding every request it gets until the test lets go (its
 * group's timeout is longer than the test), the other answering at once.
 * The checks are orderings, not timings: the fast group gets everything
 * while the slow endpoint still holds its first requests.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertLessOrEqual } from "@std/assert/less-or-equal";
import { waitFor } from "../../_process.ts";
import type { Broker } from "../../../src/engine/broker.ts";
import { LIVE, openBroker } from "../../_support/broker.ts";
import { PushReceiver } from "../../_support/push_receiver.ts";

/** An endpoint that holds every request until `release()`, and counts those it answered. */
function holdingReceiver() {
  const released = Promise.withResolvers<void>();
  let answered = 0;
  const receiver = PushReceiver.serve(async () => {
    await released.promise;
    answered++;
    return new Response(null, { status: 204 });
  });
  return {
    receiver,
    release: () => released.resolve(),
    get answered() {
      return answered;
    },
  };
}

/**
 * A live broker with topic `Orders` and group `slow` pushing to a
 * {@linkcode holdingReceiver} (its timeout longer than any test) at most
 * `maxConcurrency` at a time, a fast endpoint beside it, and what `setUp`
 * adds before the broker starts.
 */
async function slowGroupBroker(
  maxConcurrency: number,
  setUp: (broker: Broker, fast: PushReceiver) => Promise<void> = async () => {},
) {
  const slow = holdingReceiver();
  const fast = PushReceiver.serve(() => new Response(null, { status: 204 }));
  const closeReceivers = async () => {
    await fast[Symbol.asyncDispose]();
    await slow.receiver[Symbol.asyncDispose]();
  };
  try {
    const live = await openBroker({
      ...LIVE,
      setUp: async (broker) => {
        await broker.topics.create("Orders");
        await broker.groups.put("slow", {
          subscriptions: [{ topic: "Orders" }],
          delivery: { mode: "push", url: slow.receiver.url, timeoutSeconds: 120, maxConcurrency },
        });
        await setUp(broker, fast);
      },
    });
    return {
      slow,
      fast,
      broker: live.broker,
      async [Symbol.asyncDispose]() {
        await live[Symbol.asyncDispose]();
        await closeReceivers();
      },
    };
  } catch (error) {
    await closeReceivers();
    throw error;
  }
}

Deno.test("a push endpoint that holds every request does not delay another group's pushes", async () => {
  await using live = await slowGroupBroker(2, async (broker, fast) => {
    await broker.groups.put("fast", {
      subscriptions: [{ topic: "Orders" }],
      delivery: { mode: "push", url: fast.url, timeoutSeconds: 5 },
    });
  });
  const { slow, fast, broker } = live;
  try {
    const ids = new Set<string>();
    for (let i = 0; i < 40; i++) {
      ids.add((await broker.publisher.publish("Orders", { body: { i } })).messageId);
    }
    await waitFor(
      () => broker.groups.stats("fast"),
      (stats) => stats.acked === 40,
      { timeoutMs: 20_000, what: "the fast group to ack all 40" },
    );
    assertEquals(new Set(fast.calls.map((call) => call.message.messageId)), ids);
    assertEquals(slow.answered, 0, "the slow endpoint has not answered a single push yet");
    assert(slow.receiver.calls.length >= 1, "the slow group is pushing");
    assertLessOrEqual(slow.receiver.maxActive, 2, "and holds no more than its maxConcurrency");
  } finally {
    slow.release();
  }
  await waitFor(
    () => broker.groups.stats("slow"),
    (stats) => stats.acked === 40,
    { timeoutMs: 20_000, what: "the slow group to catch up once its endpoint answers" },
  );
});

Deno.test("removing a group whose endpoint holds its pushes does not hold up another group's new pump", async () => {
  await using live = await slowGroupBroker(1);
  const { slow, fast, broker } = live;
  try {
    await broker.publisher.publish("Orders", { body: "held" });
    await waitFor(() => slow.receiver.calls.length, (n) => n === 1, {
      timeoutMs: 10_000,
      what: "the slow endpoint to hold a push",
    });
    // Its pump stops but still has the held request in flight (for up to 120 s).
    await broker.groups.delete("slow");
    await broker.groups.put("late", {
      subscriptions: [{ topic: "Orders" }],
      delivery: { mode: "push", url: fast.url, timeoutSeconds: 5 },
    });
    const { messageId } = await broker.publisher.publish("Orders", { body: "for late" });
    await waitFor(() => fast.callsFor(messageId).length, (n) => n === 1, {
      timeoutMs: 10_000,
      what: "the new group's pump to push while the old one finishes",
    });
    assertEquals(slow.answered, 0, "the removed group's push is still held");
  } finally {
    slow.release();
  }
});
