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
import { startBroker, type TestBroker, waitFor } from "./_broker.ts";

async function setUp(live: TestBroker, extra: { retryDelaysSeconds?: number[] } = {}) {
  await live.client.createTopic("Trade");
  await live.client.putGroup("ops", { subscriptions: [{ topic: "Trade" }], ...extra });
}

async function publishMany(client: EscrowClient, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await client.publish("Trade", { body: i })).messageId);
  return ids;
}

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
  let active = 0;
  let maxActive = 0;
  const handled: string[] = [];
  const errors: unknown[] = [];
  const consumer = new Consumer(client, "ops", async (message) => {
    active++;
    maxActive = Math.max(maxActive, active);
    await delay(50);
    handled.push(message.messageId);
    active--;
  }, { concurrency: 3, onError: (e) => errors.push(e) });

  consumer.start();
  await waitFor(() => handled.length, (n) => n === 8, { what: "8 messages handled" });
  const via = consumer.via;
  await consumer.stop();

  assertEquals(via, "stream");
  assertEquals(maxActive, 3);
  assertEquals(handled.sort(), ids.sort());
  assertEquals([sent("receive"), sent("ack")], [0, 0], "no HTTP receive or ack");
  const stats = await live.client.getGroup("ops");
  assertEquals([stats.acked, stats.inFlight, stats.retrying], [8, 0, 0]);
  assertEquals(errors, []);
});

Deno.test("over the stream a throwing handler's message is nacked with its error and redelivered", async () => {
  await using live = await startBroker();
  await setUp(live, { retryDelaysSeconds: [0] });
  const [id] = await publishMany(live.client, 1);
  const attempts: number[] = [];
  const consumer = new Consumer(live.client, "ops", (message) => {
    attempts.push(message.attempt);
    if (message.attempt === 1) throw new Error("database is down");
  }, { transport: "stream", onError: (e) => console.error(e) });

  consumer.start();
  await waitFor(() => attempts.length, (n) => n === 2, { what: "a second attempt" });
  await consumer.stop();

  const delivery = (await live.client.getMessage(id!)).deliveries[0];
  assertEquals(delivery?.state, "acked");
  assertEquals(delivery?.attempts.map((a) => [a.attempt, a.error]), [
    [1, "nack: database is down"],
    [2, undefined],
  ]);
});

Deno.test("stop() over the stream never strands a message: each is handled and acked, or at once receivable again", async () => {
  await using live = await startBroker();
  await setUp(live);
  type Round = {
    name: string;
    run: (consumer: Consumer, publish: (n: number) => Promise<void>, hold: Hold) => Promise<void>;
  };
  type Hold = { set(held: boolean): void; started(): number };
  const rounds: Round[] = [
    {
      name: "stop right away",
      run: async (consumer, publish) => {
        await publish(3);
        consumer.start();
        await consumer.stop();
      },
    },
    ...[0, 2, 5, 15].map((ms): Round => ({
      name: `stop ${ms} ms after start`,
      run: async (consumer, publish) => {
        await publish(3);
        consumer.start();
        await delay(ms);
        await consumer.stop();
      },
    })),
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
    {
      name: "stop while handlers run",
      run: async (consumer, publish, hold) => {
        hold.set(true);
        await publish(3);
        consumer.start();
        await waitFor(hold.started, (n) => n >= 1, { what: "a handler to start" });
        const stopping = consumer.stop();
        await delay(20);
        hold.set(false);
        await stopping;
      },
    },
  ];

  let published = 0;
  for (const round of [...rounds, ...rounds]) {
    const ids: string[] = [];
    const handled = new Set<string>();
    let release = Promise.withResolvers<void>();
    release.resolve();
    let stopped = false;
    const late: string[] = [];
    const errors: unknown[] = [];
    const consumer = new Consumer(live.client, "ops", async (message) => {
      handled.add(message.messageId);
      await release.promise;
      if (stopped) late.push(message.messageId);
    }, { concurrency: 2, transport: "stream", onError: (e) => errors.push(e) });

    await round.run(consumer, async (n) => {
      for (let i = 0; i < n; i++) {
        ids.push((await live.client.publish("Trade", { body: published++ })).messageId);
      }
    }, {
      set: (held) => {
        if (held) release = Promise.withResolvers<void>();
        else release.resolve();
      },
      started: () => handled.size,
    });
    stopped = true;

    const what = `${round.name}:`;
    assertEquals(late, [], `${what} no handler ran after stop() resolved`);
    for (const id of handled) {
      const delivery = (await live.client.getMessage(id)).deliveries[0];
      assertEquals(delivery?.state, "acked", `${what} a handled message was acked by stop()`);
    }
    const left = ids.filter((id) => !handled.has(id));
    const back = new Map<string, string>();
    await waitFor(
      async () => {
        for (const m of await live.client.receive("ops", { waitSeconds: 0, max: 16 })) {
          back.set(m.messageId, m.receiptHandle);
        }
        return [...back.keys()];
      },
      (got) => left.every((id) => got.includes(id)),
      {
        what: `${what} unhandled messages ${JSON.stringify(left)} receivable again`,
        timeoutMs: 2_000,
      },
    );
    assertEquals([...back.keys()].sort(), left.sort(), `${what} only unhandled ones come back`);
    if (back.size > 0) await live.client.ack("ops", [...back.values()]);
    assertEquals(errors, [], what);
  }

  const stats = await live.client.getGroup("ops");
  assertEquals([stats.acked, stats.inFlight, stats.retrying], [published, 0, 0]);
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
