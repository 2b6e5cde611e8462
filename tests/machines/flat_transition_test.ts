/**
 * The flat-machine transition against XState's own `transition()`: the same
 * decision (none, or the same next state, context and actions in order) on
 * every state of the delivery machine and every event, with random
 * contexts and event data; and machines it cannot take are refused.
 */
import { assertEquals } from "@std/assert/equals";
import { assertThrows } from "@std/assert/throws";
import fc from "fast-check";
import { assign, setup, transition } from "xstate";
import {
  type DeliveryContext,
  deliveryMachine,
  type DeliveryState,
} from "../../machines/delivery.ts";
import { flatTransition } from "../../machines/flat_transition.ts";
import type { DeliveryEvent } from "../../src/domain/events.ts";

const STATES: DeliveryState[] = ["pending", "inFlight", "retrying", "acked", "deadLettered"];

const small = fc.integer({ min: 0, max: 3 });
const time = fc.integer({ min: 0, max: 2_000_000_000_000 });
const text = fc.string({ maxLength: 8 });

const contexts: fc.Arbitrary<DeliveryContext> = fc.record({
  attempt: small,
  visibleUntil: time,
  lastError: text,
  lastAlert: fc.constantFrom("sent" as const, "failed" as const),
}, { requiredKeys: ["attempt"] });

const events: fc.Arbitrary<DeliveryEvent> = fc.oneof(
  fc.record({ group: text, attempt: small, visibleUntil: time }).map((data) => ({
    type: "DeliveryAttempted" as const,
    data,
  })),
  fc.record({ attempt: small, visibleUntil: time }).map((data) => ({
    type: "DeliveryVisibilityExtended" as const,
    data,
  })),
  fc.record({ attempt: small }).map((data) => ({ type: "DeliveryAcked" as const, data })),
  fc.record({ attempt: small, error: text, retryAt: time }).map((data) => ({
    type: "DeliveryFailed" as const,
    data,
  })),
  fc.record({ attempt: small, error: text }).map((data) => ({
    type: "DeliveryDeadLettered" as const,
    data,
  })),
  fc.record({ attempt: small }).map((data) => ({ type: "DeliveryRetryDue" as const, data })),
  fc.constant({ type: "DeliveryRedriven" as const, data: {} }),
  fc.record({ url: text, status: fc.integer({ min: 200, max: 599 }), alertAttempt: small }).map(
    (data) => ({ type: "DeliveryAlertSent" as const, data }),
  ),
  fc.record({ url: text, alertAttempt: small, error: text }).map((data) => ({
    type: "DeliveryAlertFailed" as const,
    data,
  })),
).chain((event) => time.map((at) => ({ ...event, at }) as DeliveryEvent));

/** XState's decision: undefined when it takes no transition (the very same snapshot back). */
function byXState(state: DeliveryState, context: DeliveryContext, event: DeliveryEvent) {
  const snapshot = deliveryMachine.resolveState({ value: state, context });
  const [next, actions] = transition(deliveryMachine, snapshot, event);
  if (next === snapshot) return undefined;
  return { value: next.value, context: next.context, actions: actions.map((a) => a.type) };
}

const decide = flatTransition(deliveryMachine);

Deno.test("the flat transition decides as XState's transition() on every delivery state and event", () => {
  let taken = 0;
  fc.assert(
    fc.property(fc.constantFrom(...STATES), contexts, events, (state, context, event) => {
      const expected = byXState(state, context, event);
      const got = decide(state, context, event);
      assertEquals(
        got && { value: got.value, context: got.context, actions: [...got.actions] },
        expected,
      );
      if (expected) taken++;
    }),
    { numRuns: 20_000 },
  );
  // Not only refusals: a good share of the pairs take a transition.
  assertEquals(taken > 1_000, true, `${taken} transitions taken`);
});

Deno.test("the flat transition decides the happy path as XState does, step by step", () => {
  const attempted = decide("pending", { attempt: 0 }, {
    type: "DeliveryAttempted",
    data: { group: "ops", attempt: 1, visibleUntil: 30_000 },
    at: 0,
  });
  assertEquals(attempted, {
    value: "inFlight",
    context: { attempt: 1, visibleUntil: 30_000 },
    actions: ["trackVisibility"],
  });
  const acked = decide("inFlight", attempted!.context, {
    type: "DeliveryAcked",
    data: { attempt: 1 },
    at: 1,
  });
  assertEquals(acked?.value, "acked");
  assertEquals(acked?.actions, ["forgetVisibility", "releaseOrder"]);
  // A guard refuses: another attempt's ack.
  assertEquals(
    decide("inFlight", attempted!.context, { type: "DeliveryAcked", data: { attempt: 2 }, at: 1 }),
    undefined,
  );
});

Deno.test("the flat transition refuses machines that are not flat", () => {
  const base = setup({ actions: { mark: () => {} }, guards: { yes: () => true } });
  const refused = {
    "nested states": base.createMachine({
      initial: "a",
      states: { a: { initial: "x", states: { x: {} } } },
    }),
    "eventless transitions": base.createMachine({
      initial: "a",
      states: { a: { always: { target: "b" } }, b: {} },
    }),
    "delayed transitions": base.createMachine({
      initial: "a",
      states: { a: { after: { 1000: "b" } }, b: {} },
    }),
    "a wildcard event": base.createMachine({
      initial: "a",
      states: { a: { on: { "*": "b" } }, b: {} },
    }),
    "an inline action": base.createMachine({
      initial: "a",
      states: { a: { on: { GO: { target: "b", actions: () => {} } } }, b: {} },
    }),
    "an inline guard": base.createMachine({
      initial: "a",
      states: { a: { on: { GO: { target: "b", guard: () => true } } }, b: {} },
    }),
    "root transitions": base.createMachine({
      initial: "a",
      on: { GO: ".b" },
      states: { a: {}, b: {} },
    }),
  };
  for (const [why, machine] of Object.entries(refused)) {
    assertThrows(() => flatTransition(machine), TypeError, undefined, why);
  }
  // The same shapes it does take: named guards and actions, assign, re-entry.
  const flat = base.extend({ actions: { count: assign({}) } }).createMachine({
    initial: "a",
    states: {
      a: { on: { GO: { target: "a", reenter: true, guard: "yes", actions: ["mark", "count"] } } },
    },
  });
  assertEquals(flatTransition(flat)("a", {}, { type: "GO" })?.actions, ["mark"]);
});
