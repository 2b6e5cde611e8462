/**
 * `EscrowClient` against a real broker served on 127.0.0.1: every method
 * round-trips, broker errors become `EscrowError` with the problem body,
 * repeatable calls retried after a lost answer never store twice (a real
 * TCP proxy drops the first answer), a receive is never retried, and an
 * unreachable broker ends in `EscrowNetworkError` after the retries allowed.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertExists } from "@std/assert/exists";
import { assertInstanceOf } from "@std/assert/instance-of";
import { assertMatch } from "@std/assert/match";
import { assertNotEquals } from "@std/assert/not-equals";
import { assertRejects } from "@std/assert/rejects";
import { assertStringIncludes } from "@std/assert/string-includes";
import { delay } from "@std/async/delay";
import { encodeBase64 } from "@std/encoding/base64";
import { EscrowClient, EscrowError, EscrowNetworkError } from "../../src/client/mod.ts";
import { RecordingServer } from "../_support/recording_server.ts";
import { answerHoldingProxy, closedPort, startBroker } from "./_broker.ts";
import { startFlakyProxy } from "./_flaky_proxy.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

Deno.test("createTopic is idempotent; getTopic shows zero counts and listTopics lists it", async () => {
  await using live = await startBroker();
  const { client } = live;

  const created = await client.createTopic("Trade");
  const again = await client.createTopic("Trade");
  await client.createTopic("Audit");

  assertEquals(created.name, "Trade");
  assertEquals(again, created);
  assertEquals(new Date(created.createdAt).toISOString(), created.createdAt);
  assertEquals(await client.getTopic("Trade"), {
    ...created,
    counts: { published: 0, prepared: 0, committed: 0, rolledBack: 0 },
  });
  assertEquals((await client.listTopics()).map((t) => t.name).sort(), ["Audit", "Trade"]);
});

Deno.test("publish stores JSON and base64 bodies that getMessage and messagesByKey read back", async () => {
  await using live = await startBroker();
  const { client } = live;
  await client.createTopic("Trade");
  const bytes = new Uint8Array([0, 1, 2, 250, 255]);

  const json = await client.publish("Trade", {
    tag: "Paid",
    keys: ["order-1"],
    properties: { region: "SH" },
    body: { orderId: 1, amount: 100 },
  });
  const binary = await client.publish("Trade", {
    keys: ["order-1"],
    bodyBase64: encodeBase64(bytes),
  });
  await client.publish("Trade", { keys: ["order-2"], body: "other" });

  assertEquals(json.topic, "Trade");
  assertEquals(json.tag, "Paid");
  assertEquals(json.duplicate, false);
  assertEquals(new Date(json.publishedAt).toISOString(), json.publishedAt);
  const read = await client.getMessage(json.messageId);
  assertEquals(read.messageId, json.messageId);
  assertEquals(read.body, { orderId: 1, amount: 100 });
  assertEquals(read.keys, ["order-1"]);
  assertEquals(read.properties, { region: "SH" });
  assertMatch(read.dedupId ?? "", UUID, "the client gives every publish a dedupId");
  const readBinary = await client.getMessage(binary.messageId);
  assertEquals(readBinary.bodyBase64, encodeBase64(bytes));
  assertEquals(readBinary.body, undefined);

  const byKey = await client.messagesByKey("Trade", "order-1");
  assertEquals(byKey.map((m) => m.messageId), [binary.messageId, json.messageId]);
  assertEquals(
    (await client.messagesByKey("Trade", "order-1", 1)).map((m) => m.messageId),
    [binary.messageId],
  );
  assertEquals(await client.messagesByKey("Trade", "order-404"), []);
  assertEquals((await client.getTopic("Trade")).counts.published, 3);
});

Deno.test("publish with the same dedupId twice stores once and returns the first messageId", async () => {
  await using live = await startBroker();
  const { client } = live;
  await client.createTopic("Trade");

  const first = await client.publish("Trade", { dedupId: "pay-7", keys: ["k"], body: 1 });
  const second = await client.publish("Trade", { dedupId: "pay-7", keys: ["k"], body: 1 });

  assertEquals(first.duplicate, false);
  assertEquals(second.duplicate, true);
  assertEquals(second.messageId, first.messageId);
  assertEquals((await client.getTopic("Trade")).counts.published, 1);
});

Deno.test("prepare, commit, rollback, getTransaction and listTransactions round-trip", async () => {
  await using live = await startBroker();
  const { client } = live;
  await client.createTopic("Trade");

  const group = await client.setProducerGroup("wallet", "http://127.0.0.1:9/check");
  assertEquals(group.name, "wallet");
  assertEquals(group.checkUrl, "http://127.0.0.1:9/check");
  assertEquals(new Date(group.updatedAt).toISOString(), group.updatedAt);

  const toCommit = await client.prepare("Trade", {
    tag: "Buy",
    keys: ["order-1"],
    body: { amount: 100 },
    producerGroup: "wallet",
    checkAfterSeconds: 600,
  });
  const toRollBack = await client.prepare("Trade", {
    transactionId: "tx-rollback-1",
    body: { amount: 5 },
    producerGroup: "wallet",
    checkAfterSeconds: 600,
  });
  assertMatch(toCommit.transactionId, UUID, "the client generates a transactionId");
  assertEquals(toCommit.state, "executing");
  assertEquals(toRollBack.transactionId, "tx-rollback-1");
  assertEquals(await client.messagesByKey("Trade", "order-1"), [], "a half message is invisible");

  assertEquals(await client.commit(toCommit.transactionId), { ...toCommit, state: "committed" });
  assertEquals(
    await client.commit(toCommit.transactionId),
    { ...toCommit, state: "committed" },
    "the same decision again changes nothing",
  );
  assertEquals(await client.rollback("tx-rollback-1"), { ...toRollBack, state: "rolledBack" });

  const committed = await client.getTransaction(toCommit.transactionId);
  assertEquals(committed.state, "committed");
  assertEquals(committed.reason, "producer");
  assertEquals(committed.producerGroup, "wallet");
  assertEquals(committed.tag, "Buy");
  assertEquals(committed.messageId, toCommit.messageId);
  assertEquals(committed.history?.map((e) => e.type), [
    "TransactionPrepared",
    "LocalTransactionStarted",
    "TransactionCommitted",
  ]);
  assertEquals(
    (await client.listTransactions({ state: "committed" })).map((t) => t.transactionId),
    [toCommit.transactionId],
  );
  assertEquals(
    (await client.listTransactions({ producerGroup: "wallet" })).map((t) => t.transactionId)
      .sort(),
    [toCommit.transactionId, "tx-rollback-1"].sort(),
  );
  assertEquals((await client.listTransactions({ limit: 1 })).length, 1);
  assertEquals(await client.listTransactions({ producerGroup: "nobody" }), []);

  const message = await client.getMessage(toCommit.messageId);
  assertEquals(message.transactionId, toCommit.transactionId);
  assertEquals(message.transaction?.state, "committed");
  assertEquals((await client.messagesByKey("Trade", "order-1")).length, 1);
  const counts = (await client.getTopic("Trade")).counts;
  assertEquals([counts.prepared, counts.committed, counts.rolledBack], [2, 1, 1]);
});

Deno.test("putGroup, getGroup, listGroups and deleteGroup round-trip", async () => {
  await using live = await startBroker();
  const { client } = live;
  await client.createTopic("Trade");

  const created = await client.putGroup("ops", {
    subscriptions: [{ topic: "Trade", tags: "Buy" }],
  });
  assertEquals(created.name, "ops");
  assertEquals(created.subscriptions, [{ topic: "Trade", tags: "Buy" }]);
  assertEquals(created.delivery, { mode: "pull" });
  assertEquals(created.ordered, false);

  const updated = await client.putGroup("ops", {
    subscriptions: [{ topic: "Trade" }],
    maxRetries: 2,
    retryDelaysSeconds: [0.5, 1],
    visibilityTimeoutSeconds: 7,
  });
  assertEquals(updated.createdAt, created.createdAt);
  assertEquals(updated.maxRetries, 2);
  assertEquals(updated.retryDelaysSeconds, [0.5, 1]);
  assertEquals(updated.visibilityTimeoutSeconds, 7);

  const detail = await client.getGroup("ops");
  assertEquals(detail.name, "ops");
  assertEquals(
    [detail.backlog, detail.inFlight, detail.retrying, detail.deadLettered, detail.acked],
    [0, 0, 0, 0, 0],
  );
  assertEquals((await client.listGroups()).map((g) => g.name), ["ops"]);

  assertEquals(await client.deleteGroup("ops"), undefined);
  assertEquals(await client.listGroups(), []);
  const error = await assertRejects(() => client.getGroup("ops"), EscrowError);
  assertEquals(error.status, 404);
});

Deno.test("receive, changeVisibility, ack and nack with a reason settle deliveries", async () => {
  await using live = await startBroker();
  const { client } = live;
  await client.createTopic("Trade");
  await client.putGroup("ops", { subscriptions: [{ topic: "Trade" }], retryDelaysSeconds: [0.1] });
  const a = await client.publish("Trade", { tag: "A", body: { n: 1 } });
  const b = await client.publish("Trade", { tag: "B", body: { n: 2 } });

  const received = await client.receive("ops", { max: 10, waitSeconds: 2 });
  assertEquals(received.map((m) => [m.messageId, m.attempt, m.body]), [
    [a.messageId, 1, { n: 1 }],
    [b.messageId, 1, { n: 2 }],
  ]);
  const [first, second] = received as [typeof received[0], typeof received[0]];

  const extended = await client.changeVisibility("ops", first.receiptHandle, 60);
  assertNotEquals(extended.receiptHandle, first.receiptHandle);
  assert(Date.parse(extended.visibleUntil) > Date.now() + 50_000);
  const stale = await client.ack("ops", [first.receiptHandle]);
  assertEquals(stale.acked, 0);
  assertEquals(stale.failed.map((f) => f.receiptHandle), [first.receiptHandle]);
  assertEquals(await client.ack("ops", [extended.receiptHandle]), { acked: 1, failed: [] });

  assertEquals(
    await client.nack("ops", [second.receiptHandle], { reason: "inventory locked" }),
    { nacked: 1, failed: [] },
  );
  const again = await client.receive("ops", { max: 10, waitSeconds: 3 });
  assertEquals(again.map((m) => [m.messageId, m.attempt]), [[b.messageId, 2]]);
  assertEquals(await client.ack("ops", [again[0]!.receiptHandle]), { acked: 1, failed: [] });

  const delivery = (await client.getMessage(b.messageId)).deliveries.find((d) => d.group === "ops");
  assertEquals(delivery?.state, "acked");
  assertEquals(delivery?.attempts[0]?.error, "nack: inventory locked");
  const stats = await client.getGroup("ops");
  assertEquals([stats.acked, stats.inFlight, stats.retrying], [2, 0, 0]);
});

Deno.test("changeVisibility of a settled message is a 409 EscrowError", async () => {
  await using live = await startBroker();
  const { client } = live;
  await client.createTopic("Trade");
  await client.putGroup("ops", { subscriptions: [{ topic: "Trade" }] });
  await client.publish("Trade", { body: 1 });
  const [message] = await client.receive("ops", { waitSeconds: 2 });
  assertExists(message);
  await client.ack("ops", [message.receiptHandle]);

  const error = await assertRejects(
    () => client.changeVisibility("ops", message.receiptHandle, 30),
    EscrowError,
  );
  assertEquals(error.status, 409);
  assertEquals(error.problem.status, 409);
  assertEquals(error.problem.title, "Conflict");
});

Deno.test("deadLetters lists an exhausted message and redrive delivers it again from attempt 1", async () => {
  await using live = await startBroker();
  const { client } = live;
  await client.createTopic("Trade");
  await client.putGroup("ops", { subscriptions: [{ topic: "Trade" }], maxRetries: 0 });
  const poison = await client.publish("Trade", { tag: "Bad", body: "poison" });
  const other = await client.publish("Trade", { tag: "Bad", body: "also poison" });
  const received = await client.receive("ops", { max: 2, waitSeconds: 2 });
  assertEquals(received.length, 2);
  await client.nack("ops", received.map((m) => m.receiptHandle), { reason: "cannot parse" });

  const { messages, cursor } = await client.deadLetters("ops");
  assertEquals(cursor, undefined);
  assertEquals(messages.map((m) => [m.messageId, m.topic, m.tag, m.attempts, m.lastError]), [
    [poison.messageId, "Trade", "Bad", 1, "nack: cannot parse"],
    [other.messageId, "Trade", "Bad", 1, "nack: cannot parse"],
  ]);
  const page = await client.deadLetters("ops", { limit: 1 });
  assertEquals(page.messages.map((m) => m.messageId), [poison.messageId]);
  assertExists(page.cursor);
  assertEquals(
    (await client.deadLetters("ops", { limit: 1, cursor: page.cursor })).messages
      .map((m) => m.messageId),
    [other.messageId],
  );
  assertEquals((await client.getGroup("ops")).deadLettered, 2);

  assertEquals(await client.redrive("ops", [poison.messageId]), { redriven: 1 });
  const redriven = await client.receive("ops", { max: 10, waitSeconds: 2 });
  assertEquals(redriven.map((m) => [m.messageId, m.attempt]), [[poison.messageId, 1]]);
  assertEquals(await client.redrive("ops"), { redriven: 1 });
  const rest = await client.receive("ops", { max: 10, waitSeconds: 2 });
  assertEquals(rest.map((m) => [m.messageId, m.attempt]), [[other.messageId, 1]]);
  assertEquals((await client.deadLetters("ops")).messages, []);
});

Deno.test("a 404 from the broker becomes an EscrowError with its status and problem body", async () => {
  await using live = await startBroker();
  const { client } = live;

  const error = await assertRejects(() => client.getTopic("Nope"), EscrowError);

  assertEquals(error.name, "EscrowError");
  assertEquals(error.status, 404);
  assertEquals(error.problem.type, "https://escrow.dev/problems/notfound");
  assertEquals(error.problem.title, "Not found");
  assertEquals(error.problem.topic, "Nope");
  assertEquals(error.message, "Cannot find topic: Nope");
  const missing = await assertRejects(() => client.getTransaction("tx-404"), EscrowError);
  assertEquals([missing.status, missing.problem.transactionId], [404, "tx-404"]);
});

Deno.test("a 409 from the broker becomes an EscrowError carrying the transaction's state", async () => {
  await using live = await startBroker();
  const { client } = live;
  await client.createTopic("Trade");
  const tx = await client.prepare("Trade", { body: 1, checkAfterSeconds: 600 });
  await client.rollback(tx.transactionId);

  const error = await assertRejects(() => client.commit(tx.transactionId), EscrowError);

  assertEquals(error.status, 409);
  assertEquals(error.problem.type, "https://escrow.dev/problems/conflict");
  assertEquals(error.problem.state, "rolledBack");
  assertEquals(error.problem.transactionId, tx.transactionId);
  assertStringIncludes(error.message, "current state is rolledBack");
});

Deno.test("a 400 from the broker becomes an EscrowError listing the invalid fields", async () => {
  await using live = await startBroker();
  const { client } = live;
  await client.createTopic("Trade");

  const error = await assertRejects(
    () => client.publish("Trade", { tag: "no spaces allowed", body: 1 }),
    EscrowError,
  );

  assertEquals(error.status, 400);
  assertEquals(error.problem.type, "https://escrow.dev/problems/validation");
  const issues = error.problem.issues as { path: string; message: string }[];
  assertEquals(issues.map((i) => i.path), ["json.tag"]);
  assertEquals((await client.getTopic("Trade")).counts.published, 0);
});

Deno.test("an error answer that is not JSON still becomes an EscrowError with its text as detail", async () => {
  await using gateway = RecordingServer.serve(() =>
    new Response("<html>502 Bad Gateway</html>", {
      status: 502,
      headers: { "content-type": "text/html" },
    })
  );
  const client = new EscrowClient(gateway.url, { retryDelayMs: 1 });

  const error = await assertRejects(() => client.listTopics(), EscrowError);

  assertEquals(error.status, 502);
  assertEquals(error.problem.detail, "<html>502 Bad Gateway</html>");
});

Deno.test("the token is sent as a bearer token; a refusal is an EscrowError", async () => {
  await using live = await startBroker({
    auth: async (c, next) => {
      if (c.req.header("authorization") !== "Bearer s3cret") {
        return c.json(
          { type: "about:blank", title: "Unauthorized", status: 401, detail: "no" },
          401,
        );
      }
      await next();
    },
  });
  const withToken = new EscrowClient(live.url, { token: "s3cret" });
  const without = new EscrowClient(live.url);

  assertEquals((await withToken.createTopic("Trade")).name, "Trade");
  const error = await assertRejects(() => without.listTopics(), EscrowError);
  assertEquals(error.status, 401);
});

Deno.test("a publish whose answer is lost is retried and stored once under the same messageId", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  await using proxy = startFlakyProxy(live.port, 1);
  const client = new EscrowClient(proxy.url, { retryDelayMs: 10 });

  const result = await client.publish("Trade", { keys: ["pay-1"], body: { amount: 100 } });

  assertEquals(proxy.dropped, 1, "the first answer was lost after the broker handled it");
  assertEquals(proxy.connections, 2);
  assertEquals(result.duplicate, true, "the retry found the message the first attempt stored");
  const stored = await live.client.messagesByKey("Trade", "pay-1");
  assertEquals(stored.map((m) => m.messageId), [result.messageId]);
  assertEquals((await live.client.getTopic("Trade")).counts.published, 1);
});

Deno.test("a publish whose answer breaks off after its headers is retried and stored once", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  await using proxy = startFlakyProxy(live.port, 1, "cutAfterHeaders");
  const client = new EscrowClient(proxy.url, { retryDelayMs: 10 });

  const result = await client.publish("Trade", { keys: ["pay-2"], body: { amount: 100 } });

  assertEquals(proxy.dropped, 1, "the first answer's body was lost after the broker stored it");
  assertEquals(result.duplicate, true);
  const stored = await live.client.messagesByKey("Trade", "pay-2");
  assertEquals(stored.map((m) => m.messageId), [result.messageId]);
  assertEquals((await live.client.getTopic("Trade")).counts.published, 1);
});

Deno.test("a prepare whose answer is lost is retried and starts one transaction", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  await using proxy = startFlakyProxy(live.port, 1);
  const client = new EscrowClient(proxy.url, { retryDelayMs: 10 });

  const result = await client.prepare("Trade", {
    keys: ["buy-1"],
    body: 1,
    checkAfterSeconds: 600,
  });

  assertEquals(proxy.dropped, 1);
  assertEquals(result.state, "executing");
  const transactions = await live.client.listTransactions();
  assertEquals(transactions.map((t) => [t.transactionId, t.messageId]), [
    [result.transactionId, result.messageId],
  ]);
  assertEquals((await live.client.getTopic("Trade")).counts.prepared, 1);
  await client.commit(result.transactionId);
  assertEquals(
    (await live.client.messagesByKey("Trade", "buy-1")).map((m) => m.messageId),
    [result.messageId],
  );
});

Deno.test("a receive whose answer is lost is not retried: its message waits for its visibility timeout", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  await live.client.putGroup("ops", { subscriptions: [{ topic: "Trade" }] });
  await live.client.publish("Trade", { body: 1 });
  await using proxy = startFlakyProxy(live.port, 1);
  const client = new EscrowClient(proxy.url, { retries: 3, retryDelayMs: 10 });

  const error = await assertRejects(
    () => client.receive("ops", { waitSeconds: 1, visibilityTimeoutSeconds: 60 }),
    EscrowNetworkError,
  );

  assertEquals(proxy.connections, 1, "one attempt only");
  assertEquals(proxy.dropped, 1);
  assertStringIncludes(error.message, `Cannot reach ${proxy.url}`);
  const stats = await live.client.getGroup("ops");
  assertEquals(stats.inFlight, 1, "the lost answer's message is in flight until it times out");
});

Deno.test("an unreachable broker is an EscrowNetworkError after the configured retries", async () => {
  const url = `http://127.0.0.1:${closedPort()}`;
  const attempts: string[] = [];
  const client = new EscrowClient(url, {
    retries: 2,
    retryDelayMs: 5,
    fetch: (input, init) => {
      attempts.push(`${init?.method} ${new URL(String(input)).pathname}`);
      return fetch(input, init);
    },
  });

  const error = await assertRejects(() => client.publish("Trade", { body: 1 }), EscrowNetworkError);

  assertEquals(error.name, "EscrowNetworkError");
  assertStringIncludes(error.message, `Cannot reach ${url}`);
  assertInstanceOf(error.cause, TypeError);
  assertEquals(attempts, Array(3).fill("POST /v1/topics/Trade/messages"));

  attempts.length = 0;
  await assertRejects(() => client.receive("ops"), EscrowNetworkError);
  assertEquals(attempts, ["POST /v1/groups/ops/receive"], "receive is never retried");
});

Deno.test("a long-poll receive may take its wait on top of the request timeout", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  await live.client.putGroup("ops", { subscriptions: [{ topic: "Trade" }] });
  const client = new EscrowClient(live.url, { timeoutMs: 300 });

  const started = Date.now();
  const messages = await client.receive("ops", { waitSeconds: 0.8 });

  assertEquals(messages, []);
  assert(Date.now() - started >= 700, "the broker held the poll for its wait");
});

Deno.test("a receive whose signal aborts after the answer's headers arrived still returns its messages", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  await live.client.putGroup("ops", { subscriptions: [{ topic: "Trade" }] });
  const { messageId } = await live.client.publish("Trade", { body: 1 });
  await using proxy = answerHoldingProxy(live.url, { hold: "body" });
  const headers = Promise.withResolvers<void>();
  const client = new EscrowClient(proxy.url, {
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      headers.resolve();
      return response;
    },
  });
  const stop = new AbortController();

  const receiving = client.receive("ops", { waitSeconds: 1, signal: stop.signal });
  receiving.catch(() => {}); // a failure surfaces at the await below, not as an uncaught error
  await headers.promise;
  await delay(10); // the client has taken the headers in
  stop.abort();
  await delay(50); // the abort has long been seen before the body comes
  proxy.release();
  const messages = await receiving;

  assertEquals(messages.map((m) => m.messageId), [messageId]);
  const settled = await live.client.ack("ops", messages.map((m) => m.receiptHandle));
  assertEquals([settled.acked, settled.failed], [1, []], "the returned lease is the live one");
});

Deno.test("a receive whose signal aborts in the turn its headers arrive still returns its messages", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  await live.client.putGroup("ops", { subscriptions: [{ topic: "Trade" }] });
  const { messageId } = await live.client.publish("Trade", { body: 1 });
  await using proxy = answerHoldingProxy(live.url, { hold: "body" });
  const stop = new AbortController();
  // The abort runs as soon as the headers are in, ahead of the client's own
  // code after `fetch`: as when stop() races the broker's answer.
  const client = new EscrowClient(proxy.url, {
    fetch: (input, init) => {
      const response = fetch(input, init);
      response.then(() => stop.abort(), () => {});
      return response;
    },
  });

  const receiving = client.receive("ops", { waitSeconds: 1, signal: stop.signal });
  receiving.catch(() => {}); // a failure surfaces at the await below, not as an uncaught error
  await delay(50);
  proxy.release();
  const messages = await receiving;

  assert(stop.signal.aborted);
  assertEquals(messages.map((m) => m.messageId), [messageId]);
  assertEquals((await live.client.ack("ops", [messages[0]!.receiptHandle])).acked, 1);
});

Deno.test("a receive whose signal aborts while the long poll waits ends at once with an EscrowNetworkError", async () => {
  await using live = await startBroker();
  await live.client.createTopic("Trade");
  await live.client.putGroup("ops", { subscriptions: [{ topic: "Trade" }] });
  const stop = new AbortController();

  const receiving = live.client.receive("ops", { waitSeconds: 20, signal: stop.signal });
  await delay(100);
  stop.abort();
  const error = await assertRejects(() => receiving, EscrowNetworkError);

  assertEquals(error.cause, stop.signal.reason, "cut by the abort, not by the request timeout");
});
