/**
 * The delivery machine on its own, through XState's pure `transition()`:
 * which events each state takes, what its guards refuse, and which named
 * actions it asks the engine for.
 */
import { assertEquals } from "@std/assert/equals";
import { transition } from "xstate";
import {
  type DeliveryContext,
  deliveryMachine,
  type DeliveryState,
} from "../../machines/delivery.ts";
import type { DeliveryEvent } from "../../src/domain/events.ts";

function at(state: DeliveryState, context: DeliveryContext) {
  return deliveryMachine.resolveState({ value: state, context });
}

function step(state: DeliveryState, context: DeliveryContext, event: DeliveryEvent) {
  const snapshot = at(state, context);
  const [next, actions] = transition(deliveryMachine, snapshot, event);
  return {
    refused: next === snapshot,
    state: next.value,
    context: next.context,
    actions: actions.map((a) => a.type),
  };
}

const attempted = (attempt: number): DeliveryEvent => ({
  type: "DeliveryAttempted",
  data: { group: "ops", attempt, visibleUntil: 30_000 },
  at: 0,
});

Deno.test("pending takes the next attempt only: attempt 1 from 0, never attempt 2", () => {
  const ok = step("pending", { attempt: 0 }, attempted(1));
  assertEquals(ok.state, "inFlight");
  assertEquals(ok.context, { attempt: 1, visibleUntil: 30_000 });
  // assign() actions update the context inside XState; the engine gets the effectful ones.
  assertEquals(ok.actions, ["trackVisibility"]);
  assertEquals(step("pending", { attempt: 0 }, attempted(2)).refused, true);
  assertEquals(step("pending", { attempt: 3 }, attempted(3)).refused, true);
});

Deno.test("in flight, only the current attempt can be acked, failed, dead-lettered or extended", () => {
  const ctx = { attempt: 2, visibleUntil: 30_000 };
  const ack = step("inFlight", ctx, { type: "DeliveryAcked", data: { attempt: 2 }, at: 1 });
  assertEquals([ack.state, ack.actions], ["acked", ["forgetVisibility", "releaseOrder"]]);
  assertEquals(
    step("inFlight", ctx, { type: "DeliveryAcked", data: { attempt: 1 }, at: 1 }).refused,
    true,
  );
  const failed = step("inFlight", ctx, {
    type: "DeliveryFailed",
    data: { attempt: 2, error: "nack", retryAt: 99 },
    at: 1,
  });
  assertEquals(failed.state, "retrying");
  assertEquals(failed.context.lastError, "nack");
  assertEquals(failed.actions, ["forgetVisibility", "scheduleRetry"]);
  const dead = step("inFlight", ctx, {
    type: "DeliveryDeadLettered",
    data: { attempt: 2, error: "boom" },
    at: 1,
  });
  assertEquals(dead.state, "deadLettered");
  assertEquals(dead.actions, ["forgetVisibility", "deadLetter", "releaseOrder"]);
  const extended = step("inFlight", ctx, {
    type: "DeliveryVisibilityExtended",
    data: { attempt: 2, visibleUntil: 60_000 },
    at: 1,
  });
  assertEquals(extended.state, "inFlight");
  assertEquals(extended.context.visibleUntil, 60_000);
  assertEquals(extended.actions, ["forgetVisibility", "trackVisibility"]);
});

Deno.test("a settled delivery takes nothing: acked refuses every event, retrying refuses acks", () => {
  const events: DeliveryEvent[] = [
    attempted(2),
    { type: "DeliveryAcked", data: { attempt: 1 }, at: 0 },
    { type: "DeliveryFailed", data: { attempt: 1, error: "x", retryAt: 0 }, at: 0 },
    { type: "DeliveryRedriven", data: {}, at: 0 },
  ];
  for (const event of events) assertEquals(step("acked", { attempt: 1 }, event).refused, true);
  assertEquals(
    step("retrying", { attempt: 1 }, { type: "DeliveryAcked", data: { attempt: 1 }, at: 0 })
      .refused,
    true,
  );
  const due = step("retrying", { attempt: 1 }, {
    type: "DeliveryRetryDue",
    data: { attempt: 1 },
    at: 0,
  });
  assertEquals(due.state, "pending");
  assertEquals(
    step("retrying", { attempt: 1 }, { type: "DeliveryRetryDue", data: { attempt: 2 }, at: 0 })
      .refused,
    true,
  );
});

Deno.test("a redriven dead letter starts again from attempt 0 and is requeued", () => {
  const redriven = step("deadLettered", { attempt: 16, lastError: "boom" }, {
    type: "DeliveryRedriven",
    data: {},
    at: 0,
  });
  assertEquals(redriven.state, "pending");
  assertEquals(redriven.context.attempt, 0);
  assertEquals(redriven.actions, ["leaveDeadLetters", "requeue"]);
  assertEquals(step("pending", redriven.context, attempted(1)).state, "inFlight");
});

Deno.test("a dead letter takes its alert's outcome without leaving deadLettered: no exit, no entry, no effect but the context", () => {
  const context = { attempt: 3, lastError: "boom" };
  const sent: DeliveryEvent = {
    type: "DeliveryAlertSent",
    data: { url: "http://alerts", status: 200, alertAttempt: 2 },
    at: 0,
  };
  const failed: DeliveryEvent = {
    type: "DeliveryAlertFailed",
    data: { url: "http://alerts", alertAttempt: 1, error: "HTTP 500", status: 500 },
    at: 0,
  };
  for (const [event, lastAlert] of [[sent, "sent"], [failed, "failed"]] as const) {
    const next = step("deadLettered", context, event);
    assertEquals(next.refused, false, "the engine tells a taken event by a new snapshot");
    assertEquals(next.state, "deadLettered");
    assertEquals(next.context, { ...context, lastAlert });
    assertEquals(next.actions, [], "no exit (leaveDeadLetters) and no entry (deadLetter) again");
  }
  // A second alert outcome in a row is still taken (a new snapshot each time).
  const twice = step("deadLettered", { ...context, lastAlert: "sent" }, sent);
  assertEquals([twice.refused, twice.state], [false, "deadLettered"]);
  for (const state of ["pending", "inFlight", "retrying", "acked"] as const) {
    assertEquals(step(state, { attempt: 1 }, sent).refused, true, `${state} takes no alert`);
  }
});
