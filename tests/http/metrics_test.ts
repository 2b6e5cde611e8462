/**
 * `GET /metrics`: Prometheus text from the broker's own registry, with
 * counters moved by real traffic through `app.request()`.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertMatch } from "@std/assert/match";
import { FakeTime } from "@std/testing/time";
import { bearerAuth } from "hono/bearer-auth";
import { createApp } from "../../src/http/app.ts";
import { openBroker } from "../_support/broker.ts";
import { T0 } from "./_helpers.ts";
import {
  ack,
  createGroup,
  createTopic,
  handleOf,
  nack,
  openGroupsApi,
  publish,
  receive,
  type TestApi,
} from "../groups/_helpers.ts";

/** The value of one sample line `name{labels} value`, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

async function scrape(api: TestApi): Promise<string> {
  const res = await api.app.request("/metrics");
  assertEquals(res.status, 200);
  assertMatch(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return await res.text();
}

Deno.test("GET /metrics counts publishes, transactions, deliveries by outcome, retries and dead letters after they commit", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await createTopic(api, "Trade");
  await createGroup(api, "ops", {
    subscriptions: [{ topic: "Trade" }],
    maxRetries: 1,
    retryDelaysSeconds: [1],
  });
  const before = await scrape(api);
  assertEquals(sample(before, 'escrow_messages_published_total{topic="Trade"}'), undefined);

  const first = await publish(api, "Trade", { tag: "Ops", dedupId: "d1" });
  const duplicate = await api.post("/v1/topics/Trade/messages", { tag: "Ops", dedupId: "d1" });
  assertEquals(duplicate.status, 200, "a duplicate publishes nothing");
  await publish(api, "Trade", { tag: "Ops" });
  for (const [id, decision] of [["tx-c", "commit"], ["tx-r", "rollback"]] as const) {
    const res = await api.post(`/v1/topics/Trade/transactions`, { transactionId: id, body: 1 });
    assertEquals(res.status, 201);
    assertEquals((await api.post(`/v1/transactions/${id}/${decision}`)).status, 200);
  }
  time.tick(2_000);
  const messages = await receive(api, "ops", { max: 10 });
  assertEquals(messages.length, 3);
  const acked = messages.find((m) => m.messageId === first.messageId)!;
  await ack(api, "ops", [handleOf(acked)]);
  const others = messages.filter((m) => m !== acked).map(handleOf);
  await nack(api, "ops", others);
  time.tick(1_000);
  const again = await receive(api, "ops", { max: 10 });
  assertEquals(again.length, 2);
  await nack(api, "ops", again.map(handleOf));

  const text = await scrape(api);
  assertEquals(sample(text, 'escrow_messages_published_total{topic="Trade"}'), 3);
  assertEquals(
    sample(text, 'escrow_transactions_total{outcome="committed",reason="producer"}'),
    1,
  );
  assertEquals(
    sample(text, 'escrow_transactions_total{outcome="rolledBack",reason="producer"}'),
    1,
  );
  assertEquals(sample(text, 'escrow_deliveries_total{group="ops",outcome="acked"}'), 1);
  assertEquals(sample(text, 'escrow_deliveries_total{group="ops",outcome="failed"}'), 2);
  assertEquals(sample(text, 'escrow_deliveries_total{group="ops",outcome="deadLettered"}'), 2);
  assertEquals(sample(text, 'escrow_retries_total{group="ops"}'), 2);
  assertEquals(sample(text, 'escrow_dead_letters_total{group="ops"}'), 2);
  assertEquals(sample(text, 'escrow_group_dead_lettered{group="ops"}'), 2);
  assertEquals(sample(text, 'escrow_group_in_flight{group="ops"}'), 0);
  assertEquals(sample(text, 'escrow_group_backlog{group="ops"}'), 0);
  assertEquals(sample(text, 'escrow_publish_duration_seconds_count{kind="message"}'), 3);
  assertEquals(sample(text, 'escrow_publish_duration_seconds_count{kind="prepare"}'), 2);
  assertEquals(sample(text, 'escrow_end_to_end_seconds_count{group="ops"}'), 1);
  // Created at T0, acked 2 s later (the fake clock): in the 2.5 s bucket, not the 1 s one.
  assertEquals(sample(text, 'escrow_end_to_end_seconds_bucket{le="1",group="ops"}'), 0);
  assertEquals(sample(text, 'escrow_end_to_end_seconds_bucket{le="2.5",group="ops"}'), 1);
  assert(text.includes("# TYPE escrow_deliveries_total counter"));
  assert(text.includes("# TYPE escrow_group_backlog gauge"));
  assert(text.includes("# TYPE escrow_end_to_end_seconds histogram"));
});

Deno.test("GET /metrics shows a group's backlog and in-flight gauges at scrape time", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await createTopic(api, "Trade");
  await createGroup(api, "ops", { subscriptions: [{ topic: "Trade" }] });
  for (let i = 0; i < 3; i++) await publish(api, "Trade", {});
  assertEquals(sample(await scrape(api), 'escrow_group_backlog{group="ops"}'), 3);
  await receive(api, "ops", { max: 1 });
  const text = await scrape(api);
  assertEquals(sample(text, 'escrow_group_backlog{group="ops"}'), 2);
  assertEquals(sample(text, 'escrow_group_in_flight{group="ops"}'), 1);
});

Deno.test("a check-back's outcome is counted, and a rollback by exhausted checks names its reason", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await createTopic(api, "Trade");
  const res = await api.post("/v1/topics/Trade/transactions", {
    transactionId: "tx-1",
    body: 1,
    checkUrl: "http://127.0.0.1:9/unreachable",
    checkAfterSeconds: 1,
    checkIntervalSeconds: 1,
    maxChecks: 1,
  });
  assertEquals(res.status, 201);
  for (let i = 0; i < 4; i++) {
    time.tick(1_000);
    await api.broker.scheduler.runDue();
  }
  const text = await scrape(api);
  assertEquals(sample(text, 'escrow_check_backs_total{outcome="failed"}'), 1);
  assertEquals(
    sample(text, 'escrow_transactions_total{outcome="rolledBack",reason="checksExhausted"}'),
    1,
  );
});

Deno.test("two brokers in one process keep their own counts", async () => {
  await using one = await openBroker();
  await using two = await openBroker();
  await one.broker.topics.create("Trade");
  const app = createApp(one.broker);
  const published = await app.request("/v1/topics/Trade/messages", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ body: 1 }),
  });
  assertEquals(published.status, 201);
  const mine = await (await app.request("/metrics")).text();
  const theirs = await (await createApp(two.broker).request("/metrics")).text();
  assertEquals(sample(mine, 'escrow_messages_published_total{topic="Trade"}'), 1);
  assertEquals(sample(theirs, 'escrow_messages_published_total{topic="Trade"}'), undefined);
});

Deno.test("GET /metrics needs the bearer token when the broker has one", async () => {
  await using fixture = await openBroker();
  const app = createApp(fixture.broker, { auth: bearerAuth({ token: "t0k" }) });
  assertEquals((await app.request("/metrics")).status, 401);
  const res = await app.request("/metrics", { headers: { authorization: "Bearer t0k" } });
  assertEquals(res.status, 200);
  await res.body?.cancel();
});
