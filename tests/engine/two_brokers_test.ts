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
