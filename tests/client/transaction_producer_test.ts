// deno-lint-ignore-file require-await -- local transactions and checks are async functions in the SDK API; several here answer at once.
/**
 * `TransactionProducer` against a real broker: the local transaction's
 * answer decides, and when it throws or answers "unknown" the broker's
 * check-back reaches `producer.fetch`, mounted with `Deno.serve` on
 * 127.0.0.1, which asks `checkLocalTransaction`.
 *
 * @module
 */
import { assertEquals } from "@std/assert/equals";
import { assertRejects } from "@std/assert/rejects";
import {
  type CheckBackMessage,
  type LocalTransactionState,
  TransactionProducer,
  type TransactionProducerOptions,
} from "../../src/client/mod.ts";
import { RecordingServer } from "../_support/recording_server.ts";
import { startBroker, type TestBroker, waitFor } from "./_broker.ts";

/** A producer whose `fetch` is served on 127.0.0.1 as its check URL. */
function servedProducer(
  live: TestBroker,
  checkLocalTransaction: TransactionProducerOptions["checkLocalTransaction"],
  extra: Partial<TransactionProducerOptions> = {},
) {
  // The check URL is only known once served; the broker calls it later.
  const server = RecordingServer.serve((_call, request) => producer.fetch(request), {
    path: "/check",
  });
  const producer = new TransactionProducer(live.client, {
    topic: "Trade",
    producerGroup: "wallet",
    checkLocalTransaction,
    checkUrl: server.url,
    checkAfterSeconds: 0.2,
    ...extra,
  });
  return { producer, server };
}

async function waitForState(live: TestBroker, transactionId: string, state: string) {
  return await waitFor(
    () => live.client.getTransaction(transactionId),
    (tx) => tx.state === state,
    { what: `transaction ${transactionId} to be ${state}` },
  );
}

async function setUp(live: TestBroker): Promise<void> {
  await live.client.createTopic("Trade");
  await live.client.putGroup("ops", { subscriptions: [{ topic: "Trade" }] });
}

Deno.test("send with a local commit commits the half message and it is delivered", async () => {
  await using live = await startBroker();
  await setUp(live);
  const checks: CheckBackMessage[] = [];
  const { producer, server } = servedProducer(live, async (m) => {
    checks.push(m);
    return "rollback";
  });
  await using _server = server;
  const seen: unknown[] = [];

  const result = await producer.send(
    { tag: "Buy", keys: ["order-1"], body: { amount: 100 } },
    async (tx) => {
      seen.push(tx);
      return "commit";
    },
  );

  assertEquals(result.state, "committed");
  assertEquals(result.localState, "commit");
  assertEquals("error" in result, false);
  assertEquals(seen, [{
    transactionId: result.transactionId,
    messageId: result.messageId,
    topic: "Trade",
  }]);
  const [delivered] = await live.client.receive("ops", { waitSeconds: 2 });
  assertEquals(delivered?.messageId, result.messageId);
  assertEquals(delivered?.transactionId, result.transactionId);
  assertEquals(delivered?.body, { amount: 100 });
  const tx = await live.client.getTransaction(result.transactionId);
  assertEquals([tx.reason, tx.producerGroup], ["producer", "wallet"]);
  assertEquals(checks, [], "a decided transaction is never checked");
});

Deno.test("send with a local rollback rolls back and nothing is delivered", async () => {
  await using live = await startBroker();
  await setUp(live);
  const { producer, server } = servedProducer(live, async () => "commit");
  await using _server = server;

  const result = await producer.send({ keys: ["order-2"], body: 1 }, async () => "rollback");

  assertEquals(result.state, "rolledBack");
  assertEquals(result.localState, "rollback");
  assertEquals(await live.client.receive("ops", { waitSeconds: 0 }), []);
  assertEquals(await live.client.messagesByKey("Trade", "order-2"), []);
  assertEquals((await live.client.getTransaction(result.transactionId)).reason, "producer");
});

Deno.test("a local transaction that throws stays executing until check-back commits it", async () => {
  await using live = await startBroker();
  await setUp(live);
  const ledger = new Set<string>();
  const checks: CheckBackMessage[] = [];
  const { producer, server } = servedProducer(live, async (m) => {
    checks.push(m);
    return ledger.has(m.transactionId) ? "commit" : "rollback";
  });
  await using _server = server;
  const failure = new Error("crashed after writing the ledger");

  const result = await producer.send(
    { tag: "Buy", keys: ["order-3"], properties: { region: "SH" }, body: { amount: 7 } },
    async (tx) => {
      ledger.add(tx.transactionId);
      throw failure;
    },
  );

  assertEquals(result.state, "executing");
  assertEquals(result.localState, "unknown");
  assertEquals(result.error, failure);
  const tx = await waitForState(live, result.transactionId, "committed");
  assertEquals(tx.reason, "checkBack");
  assertEquals(checks, [{
    transactionId: result.transactionId,
    messageId: result.messageId,
    topic: "Trade",
    tag: "Buy",
    keys: ["order-3"],
    properties: { region: "SH" },
    producerGroup: "wallet",
    checkCount: 1,
  }]);
  const [delivered] = await live.client.receive("ops", { waitSeconds: 2 });
  assertEquals(delivered?.messageId, result.messageId);
});

Deno.test("a local 'unknown' leaves the decision to check-back", async () => {
  await using live = await startBroker();
  await setUp(live);
  const { producer, server } = servedProducer(live, async () => "rollback");
  await using _server = server;

  const result = await producer.send({ body: 1 }, async () => "unknown");

  assertEquals([result.state, result.localState], ["executing", "unknown"]);
  const tx = await waitForState(live, result.transactionId, "rolledBack");
  assertEquals(tx.reason, "checkBack");
  assertEquals(tx.checks, 1);
  assertEquals(await live.client.receive("ops", { waitSeconds: 0 }), []);
});

Deno.test("register() sets the producer group's URL, where transactions without a checkUrl are checked", async () => {
  await using live = await startBroker();
  await setUp(live);
  const checked: string[] = [];
  const { producer: registered, server } = servedProducer(live, async (m) => {
    checked.push(m.transactionId);
    return "commit";
  });
  await using _server = server;
  const withoutUrl = new TransactionProducer(live.client, {
    topic: "Trade",
    producerGroup: "wallet",
    checkLocalTransaction: async () => "rollback",
    checkAfterSeconds: 0.2,
  });
  await assertRejects(() => withoutUrl.register(), TypeError, "checkUrl is not set");

  await registered.register();
  const result = await withoutUrl.send({ body: 1 }, async () => "unknown");

  const tx = await waitForState(live, result.transactionId, "committed");
  assertEquals(tx.reason, "checkBack");
  assertEquals(checked, [result.transactionId], "the group's URL answered the check-back");
  const prepared = tx.history?.[0]?.data as { checkUrl?: string };
  assertEquals(prepared.checkUrl, undefined, "the transaction carried no URL of its own");
});

Deno.test("a throwing checkLocalTransaction answers 'unknown' and a later check decides", async () => {
  await using live = await startBroker();
  await setUp(live);
  let calls = 0;
  const { producer, server } = servedProducer(live, async () => {
    calls++;
    if (calls === 1) throw new Error("ledger unreachable");
    return "commit";
  }, { checkIntervalSeconds: 0.2 });
  await using _server = server;

  const result = await producer.send({ body: 1 }, async () => "unknown");

  const tx = await waitForState(live, result.transactionId, "committed");
  const answers = tx.history?.filter((e) => e.type === "CheckBackAnswered").map((e) => e.data);
  assertEquals(answers, [{ check: 1, answer: "unknown" }, { check: 2, answer: "commit" }]);
});

Deno.test("fetch answers 405 to GET, 400 to bad JSON and 'unknown' when the check throws", async () => {
  await using live = await startBroker();
  let answer: () => LocalTransactionState = () => "commit";
  const { producer, server } = servedProducer(live, async () => answer());
  await using _server = server;
  const body = JSON.stringify({
    transactionId: "tx-1",
    messageId: "m-1",
    topic: "Trade",
    keys: [],
    properties: {},
    checkCount: 1,
  });
  const post = (text: string) =>
    fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: text,
    });

  const get = await fetch(server.url);
  assertEquals(get.status, 405);
  await get.body?.cancel();
  const bad = await post("{not json");
  assertEquals(bad.status, 400);
  await bad.body?.cancel();
  const ok = await post(body);
  assertEquals([ok.status, await ok.json()], [200, { state: "commit" }]);
  answer = () => {
    throw new Error("database down");
  };
  const failed = await post(body);
  assertEquals([failed.status, await failed.json()], [200, { state: "unknown" }]);
  const handle = producer.fetch; // bound, so it can be handed to any server as is
  answer = () => "rollback";
  const direct = await handle(new Request(server.url, { method: "POST", body }));
  assertEquals(await direct.json(), { state: "rollback" });
});
