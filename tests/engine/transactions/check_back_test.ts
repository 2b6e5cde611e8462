/**
 * The check-back schedule, driven by a fake clock: the engine on a `:memory:`
 * KV calling a real endpoint on 127.0.0.1.
 */
import { assert, assertEquals, assertFalse } from "@std/assert";
import { FakeTime } from "@std/testing/time";
import type { Broker } from "../../../src/engine/broker.ts";
import type { PrepareInput } from "../../../src/engine/transactions/transactions.ts";
import { openBroker } from "../../_support/broker.ts";
import { CheckEndpoint, type CheckReply } from "../../_support/check_endpoint.ts";

const T0 = Date.UTC(2026, 0, 1);

async function setUp(input: Partial<PrepareInput> = {}, url?: string) {
  const fixture = await openBroker();
  const { broker } = fixture;
  await broker.topics.create("Trade");
  const { view } = await broker.transactions.prepare("Trade", {
    tag: "DiscountPurchase",
    body: { amount: 100 },
    keys: ["order-1"],
    properties: { region: "SH" },
    producerGroup: "wallet",
    ...(url ? { checkUrl: url } : {}),
    ...input,
  });
  return {
    broker,
    id: view.transactionId,
    messageId: view.messageId,
    [Symbol.asyncDispose]: () => fixture[Symbol.asyncDispose](),
  };
}

const checkTimes = (history: readonly { type: string; at: number }[]) =>
  history.filter((e) => e.type === "CheckBackRequested").map((e) => e.at - T0);

Deno.test("the first check-back comes checkAfterSeconds after prepare, not before", async () => {
  using time = new FakeTime(T0);
  await using server = CheckEndpoint.serve(() => "commit");
  await using t = await setUp({}, server.url);
  time.tick(5_999);
  assertEquals(await t.broker.scheduler.runDue(), 0);
  assertEquals((await t.broker.transactions.get(t.id)).state, "executing");
  time.tick(1);
  await t.broker.scheduler.runDue();
  const view = await t.broker.transactions.get(t.id);
  assertEquals(view.state, "committed");
  assertEquals(view.reason, "checkBack");
  assertEquals(checkTimes(view.history), [6_000]);
  assertEquals(server.calls.length, 1);
  const { receivedAt: _, ...request } = server.calls[0]!;
  assertEquals(request, {
    transactionId: t.id,
    messageId: t.messageId,
    topic: "Trade",
    tag: "DiscountPurchase",
    keys: ["order-1"],
    properties: { region: "SH" },
    producerGroup: "wallet",
    checkCount: 1,
  });
});

Deno.test("unknown answers repeat every checkIntervalSeconds until maxChecks, then roll back", async () => {
  using time = new FakeTime(T0);
  await using server = CheckEndpoint.serve(() => "unknown");
  await using t = await setUp({}, server.url);
  for (let i = 0; i < 20; i++) {
    time.tick(i === 0 ? 6_000 : 30_000);
    await t.broker.scheduler.runDue();
  }
  const view = await t.broker.transactions.get(t.id);
  assertEquals(view.state, "rolledBack");
  assertEquals(view.reason, "checksExhausted");
  assertEquals(view.checks, 15);
  assertEquals(server.calls.length, 15);
  assertEquals(checkTimes(view.history), Array.from({ length: 15 }, (_, i) => 6_000 + i * 30_000));
  const message = await t.broker.messages.get(t.messageId);
  assertEquals(message.publishedAt, undefined);
  assertEquals(await t.broker.messages.byKey("Trade", "order-1"), []);
  assertEquals(await t.broker.scheduler.nextDueAt(), undefined);
});

Deno.test("fractional durations are honoured", async () => {
  using time = new FakeTime(T0);
  await using server = CheckEndpoint.serve(() => "unknown");
  await using t = await setUp(
    { checkAfterSeconds: 0.25, checkIntervalSeconds: 0.5, maxChecks: 2 },
    server.url,
  );
  time.tick(249);
  assertEquals(await t.broker.scheduler.runDue(), 0);
  time.tick(1);
  await t.broker.scheduler.runDue();
  time.tick(500);
  await t.broker.scheduler.runDue();
  const view = await t.broker.transactions.get(t.id);
  assertEquals(checkTimes(view.history), [250, 750]);
  assertEquals([view.state, view.reason], ["rolledBack", "checksExhausted"]);
});

Deno.test("a commit answer makes the message visible; a rollback answer never does", async () => {
  using time = new FakeTime(T0);
  const answers = new Map<string, CheckReply>();
  await using server = CheckEndpoint.serve((call) => answers.get(call.transactionId)!);
  await using a = await setUp({ transactionId: "tx-commit" }, server.url);
  answers.set("tx-commit", "commit");
  time.tick(6_000);
  await a.broker.scheduler.runDue();
  const committed = await a.broker.messages.get(a.messageId);
  assertEquals(committed.publishedAt, T0 + 6_000);
  assertEquals(committed.history.map((e) => e.type), ["MessagePublished"]);
  assertEquals((await a.broker.messages.byKey("Trade", "order-1")).length, 1);

  await using b = await setUp({ transactionId: "tx-rollback", keys: ["order-2"] }, server.url);
  answers.set("tx-rollback", "rollback");
  time.tick(6_000);
  await b.broker.scheduler.runDue();
  assertEquals((await b.broker.transactions.get("tx-rollback")).state, "rolledBack");
  assertEquals((await b.broker.messages.get(b.messageId)).publishedAt, undefined);
});

Deno.test("a non-2xx, bad JSON or a missing state each count as one failed check", async () => {
  using time = new FakeTime(T0);
  const replies: CheckReply[] = [{ status: 500 }, { raw: "{not json" }, { raw: '{"x":1}' }];
  await using server = CheckEndpoint.serve(() => replies.shift() ?? "commit");
  await using t = await setUp({}, server.url);
  for (let i = 0; i < 4; i++) {
    time.tick(i === 0 ? 6_000 : 30_000);
    await t.broker.scheduler.runDue();
  }
  const view = await t.broker.transactions.get(t.id);
  const failures = view.history.filter((e) => e.type === "CheckBackFailed")
    .map((e) => (e.data as { error: string }).error);
  assertEquals(failures.length, 3);
  assert(failures[0]!.includes("500"));
  assert(failures[1]!.includes("invalid JSON"));
  assert(failures[2]!.includes("valid state"));
  assertEquals([view.state, view.checks], ["committed", 4]);
});

Deno.test("a producer that cannot be reached counts as a failed check", async () => {
  using time = new FakeTime(T0);
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${closed.addr.port}/check`;
  closed.close();
  await using t = await setUp({ maxChecks: 1 }, url);
  time.tick(6_000);
  await t.broker.scheduler.runDue();
  const view = await t.broker.transactions.get(t.id);
  assertEquals([view.state, view.reason], ["rolledBack", "checksExhausted"]);
  assert(view.history.some((e) => e.type === "CheckBackFailed"));
});

Deno.test("without its own checkUrl a transaction is checked at its producer group's URL", async () => {
  using time = new FakeTime(T0);
  await using server = CheckEndpoint.serve(() => "commit");
  await using t = await setUp();
  await t.broker.topics.setProducerGroup("wallet", { checkUrl: server.url });
  time.tick(6_000);
  await t.broker.scheduler.runDue();
  assertEquals((await t.broker.transactions.get(t.id)).state, "committed");
  assertEquals(server.calls.length, 1);
});

Deno.test("with no check URL at all the check fails with a reason", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp({ maxChecks: 1 });
  time.tick(6_000);
  await t.broker.scheduler.runDue();
  const view = await t.broker.transactions.get(t.id);
  const failed = view.history.find((e) => e.type === "CheckBackFailed");
  assert((failed?.data as { error: string }).error.includes("no check URL"));
});

Deno.test("a decision through the API while a check is in flight wins; the late answer is recorded", async () => {
  using time = new FakeTime(T0);
  const ref: { broker?: Broker } = {};
  await using server = CheckEndpoint.serve(async (request): Promise<CheckReply> => {
    await ref.broker!.transactions.decide(request.transactionId, "commit");
    return "rollback";
  });
  await using t = await setUp({}, server.url);
  ref.broker = t.broker;
  time.tick(6_000);
  await t.broker.scheduler.runDue();
  const view = await t.broker.transactions.get(t.id);
  assertEquals([view.state, view.reason], ["committed", "producer"]);
  assertEquals(view.history.map((e) => e.type).slice(-3), [
    "CheckBackRequested",
    "TransactionCommitted",
    "CheckBackAnswered",
  ]);
});

Deno.test("a decided transaction is never checked back", async () => {
  using time = new FakeTime(T0);
  await using server = CheckEndpoint.serve(() => "rollback");
  await using t = await setUp({}, server.url);
  await t.broker.transactions.decide(t.id, "commit");
  time.tick(60_000);
  await t.broker.scheduler.runDue();
  assertEquals(server.calls.length, 0);
  assertEquals((await t.broker.transactions.get(t.id)).history.length, 3);
});

Deno.test("a stale or repeated timer changes nothing", async () => {
  using time = new FakeTime(T0);
  await using t = await setUp();
  const stale = { type: "CheckBackRequested", data: { check: 3 }, at: T0 } as const;
  assertFalse(await t.broker.transactions.record(t.id, stale));
  assertEquals((await t.broker.transactions.get(t.id)).history.length, 2);
  time.tick(1);
});
