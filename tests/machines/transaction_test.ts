import { assert, assertEquals, assertFalse } from "@std/assert";
import { initialTransition, transition } from "xstate";
import { transactionMachine } from "../../machines/transaction.ts";
import type { TransactionEvent, TransactionPreparedData } from "../../src/domain/events.ts";

const prepared: TransactionPreparedData = {
  transactionId: "t1",
  messageId: "m1",
  topic: "Trade",
  checkAfterMs: 6_000,
  checkIntervalMs: 30_000,
  maxChecks: 2,
};

function run(...events: TransactionEvent[]) {
  let [snapshot, actions] = initialTransition(transactionMachine, { prepared, at: 0 });
  for (const event of events) [snapshot, actions] = transition(transactionMachine, snapshot, event);
  return { snapshot, actions: actions.map((a) => ({ type: a.type, params: a.params })) };
}

const started: TransactionEvent = { type: "LocalTransactionStarted", data: {}, at: 1 };
const requested = (check: number, at = 10): TransactionEvent => ({
  type: "CheckBackRequested",
  data: { check },
  at,
});
const answered = (check: number, answer: "commit" | "rollback" | "unknown"): TransactionEvent => ({
  type: "CheckBackAnswered",
  data: { check, answer },
  at: 20,
});

Deno.test("a new transaction starts prepared with no checks", () => {
  const { snapshot, actions } = run();
  assertEquals(snapshot.value, "prepared");
  assertEquals(snapshot.context.checks, 0);
  assertEquals(actions, []);
});

Deno.test("starting the local transaction arms the first check after checkAfterMs", () => {
  const { snapshot, actions } = run(started);
  assertEquals(snapshot.value, "executing");
  assertEquals(actions, [{ type: "armCheckTimer", params: { check: 1, delayMs: 6_000 } }]);
});

Deno.test("commit by the producer publishes the message and records the reason", () => {
  const { snapshot, actions } = run(started, { type: "TransactionCommitted", data: {}, at: 5 });
  assertEquals(snapshot.value, "committed");
  assertEquals(snapshot.context.reason, "producer");
  assertEquals(snapshot.context.decidedAt, 5);
  assert(actions.some((a) => a.type === "publishMessage"));
});

Deno.test("rollback by the producer never publishes", () => {
  const { snapshot, actions } = run(started, { type: "TransactionRolledBack", data: {}, at: 5 });
  assertEquals(snapshot.value, "rolledBack");
  assertFalse(actions.some((a) => a.type === "publishMessage"));
});

Deno.test("a due check moves to checking, counts it and requests the call", () => {
  const { snapshot, actions } = run(started, requested(1));
  assertEquals(snapshot.value, "checking");
  assertEquals(snapshot.context.checks, 1);
  assertEquals(actions.at(-1), { type: "requestCheckBack", params: { check: 1 } });
});

Deno.test("a stale or duplicate check timer is refused", () => {
  const { snapshot } = run(started, requested(1));
  assertFalse(snapshot.can(requested(1)));
  const executing = run(started).snapshot;
  assertFalse(executing.can(requested(2)));
});

Deno.test("an unknown answer goes back to executing and arms the next check after the interval", () => {
  const { snapshot, actions } = run(started, requested(1), answered(1, "unknown"));
  assertEquals(snapshot.value, "executing");
  assertEquals(actions, [{ type: "armCheckTimer", params: { check: 2, delayMs: 30_000 } }]);
});

Deno.test("check-back answers commit or rollback decide the transaction", () => {
  const committed = run(started, requested(1), answered(1, "commit")).snapshot;
  assertEquals([committed.value, committed.context.reason], ["committed", "checkBack"]);
  const rolledBack = run(started, requested(1), answered(1, "rollback")).snapshot;
  assertEquals([rolledBack.value, rolledBack.context.reason], ["rolledBack", "checkBack"]);
});

Deno.test("an answer to another check than the current one is refused", () => {
  const { snapshot } = run(started, requested(1));
  assertFalse(snapshot.can(answered(2, "commit")));
});

Deno.test("when the check budget is spent the transaction rolls back as checksExhausted", () => {
  const failed: TransactionEvent = {
    type: "CheckBackFailed",
    data: { check: 2, error: "HTTP 500" },
    at: 50,
  };
  const { snapshot, actions } = run(
    started,
    requested(1),
    answered(1, "unknown"),
    requested(2),
    failed,
  );
  assertEquals(snapshot.value, "rolledBack");
  assertEquals(snapshot.context.reason, "checksExhausted");
  assertEquals(snapshot.context.checks, 2);
  assertFalse(actions.some((a) => a.type === "armCheckTimer"));
});

Deno.test("a decision through the API wins over a check in flight; the late answer is only recorded", () => {
  const { snapshot } = run(started, requested(1), {
    type: "TransactionCommitted",
    data: {},
    at: 12,
  });
  assertEquals(snapshot.value, "committed");
  assert(snapshot.can(answered(1, "rollback")));
  const [after, actions] = transition(transactionMachine, snapshot, answered(1, "rollback"));
  assertEquals(after.value, "committed");
  assertEquals(actions.map((a) => a.type), ["ignoreLateAnswer"]);
});

Deno.test("a final state refuses the opposite decision and further timers", () => {
  const { snapshot } = run(started, { type: "TransactionRolledBack", data: {}, at: 5 });
  assertFalse(snapshot.can({ type: "TransactionCommitted", data: {}, at: 6 }));
  assertFalse(snapshot.can(requested(1)));
});
