/**
 * `Consumer` against a real broker: it keeps to its concurrency, acks what
 * succeeded, nacks what threw (the group's retry schedule redelivers it),
 * extends the visibility of slow handlers, and stops gracefully.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertGreaterOrEqual } from "@std/assert/greater-or-equal";
import { delay } from "@std/async/delay";
import { Consumer, EscrowClient, type ReceivedMessage } from "../../src/client/mod.ts";
import { serveLocal, startBroker, type TestBroker, waitFor } from "./_broker.ts";

async function setUp(live: TestBroker, extra: { retryDelaysSeconds?: number[] } = {}) {
  await live.client.createTopic("Trade");
  await live.client.putGroup("ops", { subscriptions: [{ topic: "Trade" }], ...extra });
}

async function publishMany(live: TestBroker, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await live.client.publish("Trade", { body: i })).messageId);
  return ids;
}

/** A client of `live` that records the requests it starts and the answers it gets, by path end. */
function countingClient(live: TestBroker) {
  const sent: string[] = [];
  const answered: string[] = [];
  const client = new EscrowClient(live.url, {
    retryDelayMs: 10,
    fetch: async (input, init) => {
      const what = new URL(String(input)).pathname.split("/").pop()!;
      sent.push(what);
      const response = await fetch(input, init);
      answered.push(what);
      return response;
    },
  });
  const count = (list: string[], what: string) => list.filter((r) => r === what).length;
  return {
    client,
    sent: (what: string) => count(sent, what),
    answered: (what: string) => count(answered, what),
  };
}

Deno.test("a consumer never runs more handlers at once than its concurrency, and acks each", async () => {
  await using live = await startBroker();
  await setUp(live);
  const ids = await publishMany(live, 8);
  let active = 0;
  let maxActive = 0;
  const handled: string[] = [];
  const errors: unknown[] = [];
  const consumer = new Consumer(live.client, "ops", async (message) => {
    active++;
    maxActive = Math.max(maxActive, active);
    await delay(120);
    handled.push(message.messageId);
    active--;
  }, { concurrency: 3, waitSeconds: 1, onError: (e) => errors.push(e) });

  consumer.start();
  await waitFor(() => handled.length, (n) => n === 8, { what: "8 messages handled" });
  await consumer.stop();

  assertEquals(maxActive, 3);
  assertEquals(handled.sort(), ids.sort());
  const stats = await live.client.getGroup("ops");
  assertEquals([stats.acked, stats.inFlight, stats.retrying], [8, 0, 0]);
  assertEquals(errors, []);
});

Deno.test("a throwing handler's message is nacked with its error and redelivered as attempt 2", async () => {
  await using live = await startBroker();
  await setUp(live, { retryDelaysSeconds: [0.1] });
  const [id] = await publishMany(live, 1);
  const attempts: { attempt: number; at: number }[] = [];
  const consumer = new Consumer(live.client, "ops", (message) => {
    attempts.push({ attempt: message.attempt, at: Date.now() });
    if (message.attempt === 1) throw new Error("database is down");
  }, { waitSeconds: 1, onError: (e) => console.error(e) });

  consumer.start();
  await waitFor(() => attempts.length, (n) => n === 2, { what: "a second attempt" });
  await consumer.stop();

  assertEquals(attempts.map((a) => a.attempt), [1, 2]);
  assertGreaterOrEqual(attempts[1]!.at - attempts[0]!.at, 100, "the group's retry delay passed");
  const delivery = (await live.client.getMessage(id!)).deliveries[0];
  assertEquals(delivery?.state, "acked");
  assertEquals(delivery?.attempts.map((a) => [a.attempt, a.error]), [
    [1, "nack: database is down"],
    [2, undefined],
  ]);
});

Deno.test("a handler outlasting the visibility timeout is not redelivered meanwhile and its ack succeeds", async () => {
  await using live = await startBroker();
  await setUp(live, { retryDelaysSeconds: [0.1] });
  const [id] = await publishMany(live, 1);
  const calls: ReceivedMessage[] = [];
  const errors: unknown[] = [];
  const consumer = new Consumer(live.client, "ops", async (message) => {
    calls.push(message);
    await delay(1_800);
  }, { visibilityTimeoutSeconds: 1, waitSeconds: 1, onError: (e) => errors.push(e) });

  consumer.start();
  await waitFor(() => calls.length, (n) => n === 1, { what: "the handler to start" });
  await delay(1_200); // past the first visibility timeout
  const meanwhile = await live.client.receive("ops", { waitSeconds: 0 });
  await waitFor(
    () => live.client.getGroup("ops"),
    (g) => g.acked === 1,
    { what: "the ack" },
  );
  await consumer.stop();

  assertEquals(meanwhile, [], "nobody else got the message while the handler ran");
  assertEquals(calls.length, 1);
  const delivery = (await live.client.getMessage(id!)).deliveries[0];
  assertEquals(delivery?.state, "acked");
  assertEquals(delivery?.attempts.map((a) => a.attempt), [1]);
  assertGreaterOrEqual(
    delivery?.history.filter((e) => e.type === "DeliveryVisibilityExtended").length ?? 0,
    2,
  );
  assertEquals(errors, []);
});

Deno.test("an ack racing a slow visibility extension still settles the message", async () => {
  await using live = await startBroker();
  await setUp(live, { retryDelaysSeconds: [0.1] });
  const [id] = await publishMany(live, 1);
  // The network in front of the broker answers visibility changes late: the
  // broker has already moved the message to a new handle when the handler ends.
  await using slow = serveLocal(async (request) => {
    const url = new URL(request.url);
    try {
      const response = await fetch(`${live.url}${url.pathname}${url.search}`, {
        method: request.method,
        headers: request.headers,
        signal: request.signal, // a consumer's aborted long poll ends here too
        ...(request.body ? { body: await request.arrayBuffer() } : {}),
      });
      const body = await response.arrayBuffer();
      if (url.pathname.endsWith("/visibility")) await delay(500);
      return new Response(body, { status: response.status, headers: response.headers });
    } catch (error) {
      if (request.signal.aborted) return new Response(null, { status: 499 }); // nobody listens
      throw error;
    }
  });
  const calls: number[] = [];
  const errors: unknown[] = [];
  const consumer = new Consumer(new EscrowClient(slow.url), "ops", async (message) => {
    calls.push(message.attempt);
    await delay(900); // extension sent at ~667 ms, answered at ~1167 ms
  }, { visibilityTimeoutSeconds: 1, waitSeconds: 1, onError: (e) => errors.push(e) });

  consumer.start();
  await waitFor(() => calls.length, (n) => n === 1, { what: "the handler to start" });
  await delay(1_000);
  await consumer.stop();
  await delay(1_200); // past the extended visibility timeout

  const delivery = (await live.client.getMessage(id!)).deliveries[0];
  assertEquals(delivery?.state, "acked", JSON.stringify(delivery?.history.map((e) => e.type)));
  assertEquals(errors.map(String), []);
  assertEquals(calls, [1]);
});

Deno.test("stop() waits for running handlers, acks them, then resolves; no receive follows", async () => {
  await using live = await startBroker();
  await setUp(live);
  await publishMany(live, 2);
  const { client, sent, answered } = countingClient(live);
  const started: string[] = [];
  const finished: string[] = [];
  const consumer = new Consumer(client, "ops", async (message) => {
    started.push(message.messageId);
    await delay(message.body === 0 ? 200 : 400);
    finished.push(message.messageId);
  }, { concurrency: 4, waitSeconds: 1, onError: () => {} });

  consumer.start();
  await waitFor(() => started.length, (n) => n === 2, { what: "both handlers to start" });
  await consumer.stop();
  const finishedAtStop = finished.length;
  const acksAnsweredAtStop = answered("ack");
  const acksSentAtStop = sent("ack");
  const receivesAtStop = sent("receive");
  const statsAtStop = await live.client.getGroup("ops");
  await live.client.publish("Trade", { body: "after stop" });
  await delay(300);

  assertEquals(finishedAtStop, 2, "stop() waited for the handlers");
  assert(acksSentAtStop >= 1);
  assertEquals(acksAnsweredAtStop, acksSentAtStop, "stop() waited for the broker to take the acks");
  assertEquals([statsAtStop.acked, statsAtStop.inFlight], [2, 0]);
  assertEquals(sent("receive"), receivesAtStop, "no receive after stop");
  assertEquals(started.length, 2);
  assert(receivesAtStop >= 1);
});
