/**
 * `Consumer` over the consumer stream against a real broker: it is the
 * default, keeps to its concurrency, settles on the socket, never strands a
 * message when stopped, authenticates with its token, and falls back to long
 * polls when the broker has no stream route or refuses the handshake.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertGreaterOrEqual } from "@std/assert/greater-or-equal";
import { delay } from "@std/async/delay";
import { Consumer, EscrowClient } from "../../src/client/mod.ts";
import { createApp } from "../../src/http/app.ts";
import { TokenSet } from "../../src/http/auth/mod.ts";
import { LIVE, openBroker, serveBroker } from "../_support/broker.ts";
import { startBroker, waitFor } from "./_broker.ts";
import {
  assertAckedAfterNack,
  assertAllAcked,
  assertNothingStranded,
  consumeFailingOnce,
  consumeSlowly,
  publishMany,
  setUp,
  stopAfter,
  StopProbe,
  type StopRound,
  stopWhileHandling,
} from "./_consumer.ts";

/** A client of `url` that counts the HTTP requests it sends, by the path's last segment. */
function countingClient(url: string, token?: string) {
  const sent: string[] = [];
  const client = new EscrowClient(url, {
    retryDelayMs: 10,
    ...(token ? { token } : {}),
    fetch: (input, init) => {
      sent.push(new URL(String(input)).pathname.split("/").pop()!);
      return fetch(input, init);
    },
  });
  return { client, sent: (what: string) => sent.filter((r) => r === what).length };
}

Deno.test("by default a consumer takes messages over the stream, within its concurrency, and acks on the socket", async () => {
  await using live = await startBroker();
  await setUp(live);
  const ids = await publishMany(live.client, 8);
  const { client, sent } = countingClient(live.url);
  const run = await consumeSlowly(client, 8, { handlerMs: 50, concurrency: 3 });

  assertEquals(run.via, "stream");
  assertEquals(run.maxActive, 3);
  assertEquals(run.handled.sort(), ids.sort());
  assertEquals([sent("receive"), sent("ack")], [0, 0], "no HTTP receive or ack");
  await assertAllAcked(live, 8);
  assertEquals(run.errors, []);
});

Deno.test("over the stream a throwing handler's message is nacked with its error and redelivered", async () => {
  await using live = await startBroker();
  await setUp(live, { retryDelaysSeconds: [0] });
  const [id] = await publishMany(live.client, 1);
  await consumeFailingOnce(live.client, { transport: "stream" });
  await assertAckedAfterNack(live, id!);
});

Deno.test("stop() over the stream never strands a message: each is handled and acked, or at once receivable again", async () => {
  await using live = await startBroker();
  await setUp(live);
  const rounds: StopRound[] = [
    stopAfter(3),
    ...[0, 2, 5, 15].map((ms) => stopAfter(3, ms)),
    {
      name: "stop while messages arrive",
      run: async (consumer, publish) => {
        consumer.start();
        await waitFor(() => consumer.via, (via) => via === "stream", { what: "the stream" });
        const publishing = publish(4);
        await delay(5);
        await consumer.stop();
        await publishing;
      },
    },
    stopWhileHandling(3, 20),
  ];

  let published = 0;
  for (const round of [...rounds, ...rounds]) {
    const probe = new StopProbe();
    const consumer = new Consumer(live.client, "ops", probe.handler, {
      concurrency: 2,
      transport: "stream",
      onError: probe.onError,
    });

    await round.run(consumer, async (n) => {
      for (let i = 0; i < n; i++) {
        probe.ids.push((await live.client.publish("Trade", { body: published++ })).messageId);
      }
    }, probe);
    probe.stopped();

    await assertNothingStranded(live, probe, { name: round.name, max: 16 });
  }

  await assertAllAcked(live, published);
});

Deno.test("a consumer with a token streams with it", async () => {
  const tokens = TokenSet.of([
    { name: "admin", token: "admin-secret", permissions: ["admin"] },
    { name: "ops", token: "ops-secret", permissions: ["consume:ops"] },
  ]);
  await using live = await serveBroker({ ...LIVE, app: { tokens } });
  const admin = new EscrowClient(live.url, { token: "admin-secret" });
  await admin.createTopic("Trade");
  await admin.putGroup("ops", { subscriptions: [{ topic: "Trade" }] });
  const [id] = await publishMany(admin, 1);
  const { client, sent } = countingClient(live.url, "ops-secret");
  const handled: string[] = [];
  const consumer = new Consumer(
    client,
    "ops",
    (message) => void handled.push(message.messageId),
    { transport: "stream", onError: (e) => console.error(e) },
  );

  consumer.start();
  await waitFor(() => handled.length, (n) => n === 1, { what: "the message" });
  await consumer.stop();

  assertEquals(handled, [id]);
  assertEquals(sent("receive"), 0);
  assertEquals((await admin.getMessage(id!)).deliveries[0]?.state, "acked");
});

for (
  const [what, answer] of [
    ["has no stream route (404)", 404],
    ["refuses the stream's handshake (503)", 503],
  ] as const
) {
  Deno.test(`a consumer falls back to long polls when the broker ${what}`, async () => {
    await using t = await openBroker(LIVE);
    const app = createApp(t.broker);
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request, info) =>
        new URL(request.url).pathname.endsWith("/stream")
          ? new Response(null, { status: answer })
          : app.fetch(request, info),
    );
    const url = `http://127.0.0.1:${server.addr.port}`;
    const { client, sent } = countingClient(url);
    await client.createTopic("Trade");
    await client.putGroup("ops", { subscriptions: [{ topic: "Trade" }] });
    const ids = await publishMany(client, 3);
    const handled: string[] = [];
    const errors: unknown[] = [];
    const consumer = new Consumer(client, "ops", (message) => {
      handled.push(message.messageId);
    }, { waitSeconds: 1, onError: (e) => errors.push(e) });

    consumer.start();
    await waitFor(() => handled.length, (n) => n === 3, { what: "3 messages over long polls" });
    const via = consumer.via;
    await consumer.stop();

    assertEquals(via, "poll");
    assertEquals(handled.sort(), ids.sort());
    assertGreaterOrEqual(sent("receive"), 1);
    assert(sent("ack") >= 1);
    const stats = await client.getGroup("ops");
    assertEquals([stats.acked, stats.inFlight], [3, 0]);
    assertEquals(errors, []);
  });
}
