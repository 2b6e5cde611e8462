/**
 * Two brokers on one KV file, as two processes would be: the optimistic
 * check on every append means no transition is ever applied twice.
 */
import { assertEquals } from "@std/assert";
import { ConflictError } from "../../src/domain/errors.ts";
import { openBroker, tempKvFile } from "../_support/broker.ts";
import { CheckEndpoint } from "../_support/check_endpoint.ts";

async function twoBrokers() {
  await using stack = new AsyncDisposableStack();
  const file = stack.use(await tempKvFile());
  const a = stack.use(await openBroker({ kv: { path: file.path } }));
  const b = stack.use(await openBroker({ kv: { path: file.path } }));
  await a.broker.topics.create("Trade");
  const owned = stack.move();
  return {
    a: a.broker,
    b: b.broker,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

Deno.test("racing commit and rollback from two brokers: one decision, one publication", async () => {
  await using t = await twoBrokers();
  for (let i = 0; i < 20; i++) {
    const { view } = await t.a.transactions.prepare("Trade", { tag: "X", body: i });
    const outcomes = await Promise.allSettled([
      t.a.transactions.decide(view.transactionId, "commit"),
      t.b.transactions.decide(view.transactionId, "rollback"),
    ]);
    const fulfilled = outcomes.filter((o) => o.status === "fulfilled");
    const rejected = outcomes.filter((o) => o.status === "rejected");
    assertEquals(fulfilled.length, 1);
    assertEquals(rejected.length, 1);
    assertEquals((rejected[0] as PromiseRejectedResult).reason instanceof ConflictError, true);
    const final = await t.b.transactions.get(view.transactionId);
    const decisions = final.history.filter((e) =>
      e.type === "TransactionCommitted" || e.type === "TransactionRolledBack"
    );
    assertEquals(decisions.length, 1);
    const message = await t.a.messages.get(view.messageId);
    assertEquals(message.history.length, final.state === "committed" ? 1 : 0);
  }
  const counts = (await t.a.topics.view("Trade")).counts;
  assertEquals(counts.committed + counts.rolledBack, 20);
  assertEquals(counts.published, counts.committed);
});

Deno.test("two brokers sweeping the same due check-backs check each transaction once per round", async () => {
  await using server = CheckEndpoint.serve(() => "commit");
  await using t = await twoBrokers();
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) {
    const { view } = await t.a.transactions.prepare("Trade", {
      body: i,
      checkUrl: server.url,
      checkAfterSeconds: 0,
    });
    ids.push(view.transactionId);
  }
  await Promise.all([t.a.scheduler.runDue(), t.b.scheduler.runDue()]);
  for (const id of ids) {
    const view = await t.a.transactions.get(id);
    assertEquals(view.state, "committed");
    assertEquals(view.history.filter((e) => e.type === "CheckBackRequested").length, 1);
    assertEquals(view.history.filter((e) => e.type === "CheckBackAnswered").length, 1);
  }
  assertEquals(server.calls.length, 30);
  assertEquals((await t.b.topics.view("Trade")).counts.published, 30);
});

Deno.test("a message reads the same on the broker that published it (from memory) and on another (from KV)", async () => {
  await using t = await twoBrokers();
  for (const name of ["here", "there"]) {
    await t.a.groups.put(name, { subscriptions: [{ topic: "Trade" }] });
  }
  const published = [
    (await t.a.publisher.publish("Trade", {
      tag: "Ops",
      body: { fund: "F1", amount: 10 },
      keys: ["order-1"],
      properties: { region: "eu" },
    })).messageId,
    ...(await t.a.publisher.publishBatch("Trade", [{ body: "b1" }, { bodyBase64: "AAEC" }])).map(
      (o) => o.ok ? o.result.messageId : "",
    ),
    // Over the inline limit: the body sits in chunks beside the record.
    (await t.a.publisher.publish("Trade", { body: "x".repeat(100 * 1024) })).messageId,
  ];
  const { view } = await t.a.transactions.prepare("Trade", { tag: "CS", body: { tx: 1 } });
  await t.a.transactions.decide(view.transactionId, "commit");
  published.push(view.messageId);
  const withoutHandles = (messages: { receiptHandle: string }[]) =>
    messages.map(({ receiptHandle: _, ...rest }) => rest);
  const here = await t.a.deliveries.receive("here", { max: 10 });
  const there = await t.b.deliveries.receive("there", { max: 10 });
  assertEquals(here.map((m) => m.messageId), published);
  assertEquals(withoutHandles(here), withoutHandles(there));
  assertEquals(here[0]!.body, { fund: "F1", amount: 10 });
  assertEquals(here[2]!.bodyBase64, "AAEC");
  assertEquals((here[3]!.body as string).length, 100 * 1024);
});

/** `kv` as it is, but counting the message records (`["msg", id]`) its `getMany` reads. */
function countingRecordReads(kv: Deno.Kv): { kv: Deno.Kv; reads: () => number } {
  let reads = 0;
  const counted = new Proxy(kv, {
    get(target, prop) {
      if (prop === "getMany") {
        return (keys: Deno.KvKey[], options?: { consistency?: Deno.KvConsistencyLevel }) => {
          reads += keys.filter((key) => key[0] === "msg").length;
          return target.getMany(keys, options);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: counted, reads: () => reads };
}

Deno.test("a receive reads from KV only the records of messages another broker published", async () => {
  await using stack = new AsyncDisposableStack();
  const file = stack.use(await tempKvFile());
  const kvA = stack.use(await Deno.openKv(file.path));
  const spied = countingRecordReads(kvA);
  const a = stack.use(await openBroker({ kv: { handle: spied.kv } }));
  const b = stack.use(await openBroker({ kv: { path: file.path } }));
  await a.broker.topics.create("Trade");
  await a.broker.groups.put("audit", { subscriptions: [{ topic: "Trade" }] });
  for (let i = 0; i < 3; i++) await a.broker.publisher.publish("Trade", { body: `a${i}` });
  for (let i = 0; i < 2; i++) await b.broker.publisher.publish("Trade", { body: `b${i}` });
  const before = spied.reads();
  const got = await a.broker.deliveries.receive("audit", { max: 10 });
  assertEquals(got.map((m) => m.body), ["a0", "a1", "a2", "b0", "b1"]);
  assertEquals(spied.reads() - before, 2);
});
