/**
 * `Consumer` against a real broker: it keeps to its concurrency, acks what
 * succeeded, nacks what threw (the group's retry schedule redelivers it),
 * extends the visibility of slow handlers, and stops gracefully. The tests
 * that count receive requests or hold their answers pin the long-poll
 * transport; consumer_stream_test.ts covers the stream.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertGreaterOrEqual } from "@std/assert/greater-or-equal";
import { assertThrows } from "@std/assert/throws";
import { delay } from "@std/async/delay";
import { Consumer, EscrowClient, type ReceivedMessage } from "../../src/client/mod.ts";
import { RecordingServer } from "../_support/recording_server.ts";
import { answerHoldingProxy, startBroker, type TestBroker, waitFor } from "./_broker.ts";
import {
  assertAckedAfterNack,
  assertAllAcked,
  assertNothingStranded,
  consumeFailingOnce,
  consumeSlowly,
  type Held,
  publishMany,
  setUp,
  stopAfter,
  StopProbe,
  type StopRound,
  stopWhileHandling,
} from "./_consumer.ts";

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
  const ids = await publishMany(live.client, 8);
  const run = await consumeSlowly(live.client, 8, {
    handlerMs: 120,
    concurrency: 3,
    waitSeconds: 1,
  });

  assertEquals(run.maxActive, 3);
  assertEquals(run.handled.sort(), ids.sort());
  await assertAllAcked(live, 8);
  assertEquals(run.errors, []);
});

Deno.test("a throwing handler's message is nacked with its error and redelivered as attempt 2", async () => {
  await using live = await startBroker();
  await setUp(live, { retryDelaysSeconds: [0.1] });
  const [id] = await publishMany(live.client, 1);
  const attempts = await consumeFailingOnce(live.client, { waitSeconds: 1 });

  assertEquals(attempts.map((a) => a.attempt), [1, 2]);
  assertGreaterOrEqual(attempts[1]!.at - attempts[0]!.at, 100, "the group's retry delay passed");
  await assertAckedAfterNack(live, id!);
});

Deno.test("a handler outlasting the visibility timeout is not redelivered meanwhile and its ack succeeds", async () => {
  await using live = await startBroker();
  await setUp(live, { retryDelaysSeconds: [0.1] });
  const [id] = await publishMany(live.client, 1);
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
  const [id] = await publishMany(live.client, 1);
  // The network in front of the broker answers visibility changes late: the
  // broker has already moved the message to a new handle when the handler ends.
  await using slow = RecordingServer.serve(async (_call, request) => {
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
  await publishMany(live.client, 2);
  const { client, sent, answered } = countingClient(live);
  const started: string[] = [];
  const finished: string[] = [];
  const consumer = new Consumer(client, "ops", async (message) => {
    started.push(message.messageId);
    await delay(message.body === 0 ? 200 : 400);
    finished.push(message.messageId);
  }, { concurrency: 4, waitSeconds: 1, onError: () => {}, transport: "poll" });

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

Deno.test("stop() during a receive whose answer has begun arriving runs its message and acks it before resolving", async () => {
  await using live = await startBroker();
  await setUp(live);
  const [id] = await publishMany(live.client, 1);
  await using proxy = answerHoldingProxy(live.url, { hold: "body", only: "/receive" });
  const headers = Promise.withResolvers<void>();
  const client = new EscrowClient(proxy.url, {
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if (String(input).endsWith("/receive")) headers.resolve();
      return response;
    },
  });
  const handled: string[] = [];
  const errors: unknown[] = [];
  const consumer = new Consumer(client, "ops", (message) => {
    handled.push(message.messageId);
  }, { waitSeconds: 1, onError: (e) => errors.push(e) });

  consumer.start();
  await headers.promise;
  const stopping = consumer.stop();
  await delay(50); // stop() has aborted the poll; the body is still held
  const handledBeforeBody = handled.length;
  proxy.release();
  await stopping;

  assertEquals(handledBeforeBody, 0);
  assertEquals(handled, [id]);
  assertEquals((await live.client.getMessage(id!)).deliveries[0]?.state, "acked");
  assertEquals(errors, []);
});

Deno.test("stop() lets an answer already on its way land: its message is handled and acked", async () => {
  await using live = await startBroker();
  await setUp(live);
  const [id] = await publishMany(live.client, 1);
  await using proxy = answerHoldingProxy(live.url, { hold: 50, only: "/receive" }); // the broker has answered; 50 ms on the wire
  const handled: string[] = [];
  const errors: unknown[] = [];
  const consumer = new Consumer(new EscrowClient(proxy.url), "ops", (message) => {
    handled.push(message.messageId);
  }, { waitSeconds: 1, onError: (e) => errors.push(e), transport: "poll" });

  consumer.start();
  await consumer.stop();

  assertEquals(handled, [id]);
  assertEquals((await live.client.getMessage(id!)).deliveries[0]?.state, "acked");
  assertEquals(errors, []);
});

Deno.test("stop() never strands a message: each is handled and acked, or at once receivable again", async () => {
  await using live = await startBroker();
  await setUp(live);
  /** A round may also wait for the consumer's receive requests. */
  type RoundState = Held & { sent: () => number };
  const rounds: StopRound<RoundState>[] = [
    stopAfter(1),
    stopAfter(1, 0),
    stopAfter(1, 2),
    stopAfter(1, 5),
    stopAfter(1, 15),
    {
      name: "stop once the receive was sent, as a message arrives for the waiting poll",
      run: async (consumer, publish, round) => {
        consumer.start();
        await waitFor(round.sent, (n) => n >= 1, { what: "the receive to be sent" });
        await delay(50); // the broker holds the poll
        await publish(1);
        await consumer.stop();
      },
    },
    {
      // The cut poll may still be open on the broker when the message comes:
      // what it leases for a consumer gone must be released, not kept.
      name: "stop while the poll waits, then a message arrives",
      run: async (consumer, publish, round) => {
        consumer.start();
        await waitFor(round.sent, (n) => n >= 1, { what: "the receive to be sent" });
        await delay(50); // the broker holds the poll
        await consumer.stop();
        await publish(1);
      },
    },
    stopWhileHandling(1, 50),
  ];

  let published = 0;
  for (const round of [...rounds, ...rounds]) {
    const { client, sent } = countingClient(live);
    const probe = new StopProbe();
    const consumer = new Consumer(client, "ops", probe.handler, {
      waitSeconds: 5,
      onError: probe.onError,
      transport: "poll",
    });

    await round.run(consumer, async (n) => {
      for (let i = 0; i < n; i++) {
        probe.ids.push((await live.client.publish("Trade", { body: published++ })).messageId);
      }
    }, { sent: () => sent("receive"), started: probe.started, hold: probe.hold });
    probe.stopped();

    await assertNothingStranded(live, probe, { name: round.name });
  }

  await assertAllAcked(live, published);
});

Deno.test("start() after stop() throws a TypeError; stop() again returns the same promise", async () => {
  await using live = await startBroker();
  await setUp(live);
  const consumer = new Consumer(live.client, "ops", () => {}, { waitSeconds: 1 });
  consumer.start();
  const stopping = consumer.stop();

  assert(consumer.stop() === stopping);
  await stopping;
  assertThrows(() => consumer.start(), TypeError, "Cannot start a consumer: it has been stopped");
});
