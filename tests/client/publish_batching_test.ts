/**
 * `EscrowClient.publish()` coalescing: concurrent publishes to a topic go
 * as one batch request against a real broker on 127.0.0.1, each caller
 * gets its own result or error, a lone publish goes alone, a lost batch
 * answer is retried and stores nothing twice, and `batchPublishes: false`
 * sends one request per publish.
 *
 * @module
 */
import { assert, assertEquals, assertInstanceOf, assertRejects, assertThrows } from "@std/assert";
import { EscrowClient, EscrowError } from "../../src/client/mod.ts";
import { startBroker } from "./_broker.ts";
import { startFlakyProxy } from "./_flaky_proxy.ts";

/** A real fetch that records the path of every request. */
function countingFetch(): { fetch: typeof fetch; paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    fetch: (input, init) => {
      paths.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
      return fetch(input, init);
    },
  };
}

Deno.test("concurrent publishes to a topic go as one batch request; each caller gets its own message", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  const counting = countingFetch();
  const client = new EscrowClient(live.url, { fetch: counting.fetch });

  const results = await Promise.all(
    Array.from({ length: 20 }, (_, n) => client.publish("Trade", { tag: "Ops", body: { n } })),
  );

  assertEquals(counting.paths, ["/v1/topics/Trade/messages/batch"]);
  assertEquals(new Set(results.map((r) => r.messageId)).size, 20);
  for (const [n, result] of results.entries()) {
    assertEquals(Object.keys(result).sort(), [
      "duplicate",
      "messageId",
      "publishedAt",
      "tag",
      "topic",
    ]);
    const stored = await live.client.getMessage(result.messageId);
    assertEquals(stored.body, { n }, "each caller got the id of its own message");
  }
  assertEquals((await live.client.getTopic("Trade")).counts.published, 20);
});

Deno.test("a lone publish goes as a single publish request", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  const counting = countingFetch();
  const client = new EscrowClient(live.url, { fetch: counting.fetch });

  await client.publish("Trade", { body: 1 });
  await client.publish("Trade", { body: 2 });

  assertEquals(counting.paths, ["/v1/topics/Trade/messages", "/v1/topics/Trade/messages"]);
});

Deno.test("an invalid message in a coalesced batch rejects its own caller only", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  const counting = countingFetch();
  const client = new EscrowClient(live.url, { fetch: counting.fetch });

  const settled = await Promise.allSettled([
    client.publish("Trade", { body: 1 }),
    client.publish("Trade", { tag: "no spaces allowed", body: 2 }),
    client.publish("Trade", { body: 3 }),
  ]);

  assertEquals(counting.paths.length, 1);
  assertEquals(settled.map((s) => s.status), ["fulfilled", "rejected", "fulfilled"]);
  const error = (settled[1] as PromiseRejectedResult).reason;
  assertInstanceOf(error, EscrowError);
  assertEquals(error.status, 400);
  assert(error.message.includes("tag"), error.message);
  assertEquals((await live.client.getTopic("Trade")).counts.published, 2);
});

Deno.test("a batch to an unknown topic rejects every caller with the 404", async () => {
  await using live = await startBroker();
  const settled = await Promise.allSettled([
    live.client.publish("Nope", { body: 1 }),
    live.client.publish("Nope", { body: 2 }),
  ]);
  for (const s of settled) {
    assertEquals(s.status, "rejected");
    assertEquals(((s as PromiseRejectedResult).reason as EscrowError).status, 404);
  }
});

Deno.test("a coalesced batch whose answer is lost is retried and stores every message once", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  await using proxy = startFlakyProxy(live.port, 1);
  const client = new EscrowClient(proxy.url, { retryDelayMs: 10 });

  const results = await Promise.all(
    Array.from({ length: 5 }, (_, n) => client.publish("Trade", { keys: [`k${n}`], body: n })),
  );

  assertEquals(proxy.dropped, 1);
  assert(results.every((r) => r.duplicate), "the retry found what the first attempt stored");
  for (const [n, result] of results.entries()) {
    const stored = await live.client.messagesByKey("Trade", `k${n}`);
    assertEquals(stored.map((m) => m.messageId), [result.messageId]);
  }
  assertEquals((await live.client.getTopic("Trade")).counts.published, 5);
});

Deno.test("a caller's own dedupId is kept in a batch: a repeat is a duplicate of the first", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  const first = await live.client.publish("Trade", { dedupId: "pay-1", body: 1 });
  const [again, other] = await Promise.all([
    live.client.publish("Trade", { dedupId: "pay-1", body: 1 }),
    live.client.publish("Trade", { body: 2 }),
  ]);
  assertEquals([again.messageId, again.duplicate], [first.messageId, true]);
  assertEquals(other.duplicate, false);
  assertEquals((await live.client.getTopic("Trade")).counts.published, 2);
});

Deno.test("batchPublishes: false sends every publish as its own request", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  const counting = countingFetch();
  const client = new EscrowClient(live.url, { fetch: counting.fetch, batchPublishes: false });

  await Promise.all([1, 2, 3].map((n) => client.publish("Trade", { body: n })));

  assertEquals(counting.paths, Array(3).fill("/v1/topics/Trade/messages"));
});

Deno.test("publishBatch answers each message's status in order", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  const answers = await live.client.publishBatch("Trade", [{ body: 1 }, { tag: "bad tag" }]);
  assertEquals(answers.map((a) => a.status), [201, 400]);
});

Deno.test("a negative lingerMs is a RangeError", () => {
  assertThrows(() => new EscrowClient("http://127.0.0.1:1", { lingerMs: -1 }), RangeError);
});

Deno.test("an unreachable broker rejects every caller of a batch", async () => {
  const client = new EscrowClient("http://127.0.0.1:1", { retries: 0 });
  const calls = [client.publish("Trade", { body: 1 }), client.publish("Trade", { body: 2 })];
  for (const call of calls) await assertRejects(() => call);
});
