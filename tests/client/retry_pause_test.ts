/**
 * A consumer whose receive the broker refused for load waits as long as the
 * broker asked (`retryAfterSeconds`, also sent as `Retry-After`), at most
 * 30 s; after any other failure, 1 s. The refusal is the broker's own: a real
 * app with a rate limit, reached through the SDK's client.
 */
import { assert, assertEquals, assertInstanceOf, assertRejects } from "@std/assert";
import { Consumer, EscrowClient, EscrowError } from "../../src/client/mod.ts";
import { retryPauseMs } from "../../src/client/consumer.ts";
import { TokenSet } from "../../src/http/auth/mod.ts";
import { createApp } from "../../src/http/app.ts";
import { Overload } from "../../src/http/limits/mod.ts";
import { openBroker } from "../_support/broker.ts";

/**
 * A broker with topic Orders and pull group ops behind an app whose one
 * token may send one request every 5 s, with a bucket that never refills (its
 * clock stands still): every request after the first is a 429 asking for 5 s.
 * The SDK client reaches it in memory and records each answer's status.
 */
async function rateLimitedClient() {
  const fixture = await openBroker();
  await fixture.broker.topics.create("Orders");
  await fixture.broker.groups.put("ops", { subscriptions: [{ topic: "Orders" }] });
  const overload = new Overload({
    maxConcurrentRequests: 0,
    maxConcurrentRequestsPerToken: 0,
    maxLongPolls: 0,
    maxLongPollsPerToken: 0,
    ratePerToken: 0.2,
    burstPerToken: 1,
  }, { clock: () => 0 });
  const app = createApp(fixture.broker, { tokens: TokenSet.admin("s3cret"), overload });
  const statuses: number[] = [];
  const client = new EscrowClient("http://escrow.test", {
    token: "s3cret",
    fetch: async (input, init) => {
      const res = await app.request(input instanceof Request ? input : String(input), init);
      statuses.push(res.status);
      return res;
    },
  });
  return { client, statuses, [Symbol.asyncDispose]: () => fixture[Symbol.asyncDispose]() };
}

Deno.test("after a 429 for its rate, a consumer pauses for the broker's Retry-After", async () => {
  await using t = await rateLimitedClient();
  const { client } = t;
  assertEquals(await client.receive("ops", { max: 1 }), []);
  const refused = await assertRejects(() => client.receive("ops", { max: 1 }), EscrowError);
  assertEquals(refused.status, 429);
  assertEquals(retryPauseMs(refused), 5_000);
});

Deno.test("retryPauseMs: other failures wait 1 s; a huge Retry-After is capped at 30 s", () => {
  assertEquals(retryPauseMs(new TypeError("connection reset")), 1_000);
  const problem = { type: "x", title: "t", detail: "d" };
  assertEquals(retryPauseMs(new EscrowError({ ...problem, status: 400 })), 1_000);
  const busy = new EscrowError({ ...problem, status: 503, retryAfterSeconds: 3_600 });
  assertInstanceOf(busy, EscrowError);
  assertEquals(retryPauseMs(busy), 30_000);
  assert(retryPauseMs(new EscrowError({ ...problem, status: 429 })) === 1_000);
});

Deno.test("a polling consumer refused with Retry-After: 5 asks again only after it", async () => {
  await using t = await rateLimitedClient();
  const { client, statuses } = t;
  const errors: unknown[] = [];
  const consumer = new Consumer(client, "ops", () => {}, {
    transport: "poll",
    waitSeconds: 0,
    onError: (error) => errors.push(error),
  });
  consumer.start();
  // A consumer pausing the old fixed 1 s would have asked again twice by now.
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  await consumer.stop();
  assertEquals(statuses, [200, 429]);
  assertEquals((errors[0] as EscrowError).status, 429);
});
