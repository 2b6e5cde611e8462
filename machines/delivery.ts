/**
 * The delivery machine: one actor per (consumer group, message).
 *
 * ```
 *            ┌──────────────── DeliveryRetryDue ───────────────┐
 *            ▼                                                 │
 * pending ──DeliveryAttempted──▶ inFlight ──DeliveryFailed──▶ retrying
 *    ▲                          │  │  ▲ DeliveryVisibilityExtended
 *    │                          │  └──┘
 *    │                          ├──DeliveryAcked──────────▶ acked
 *    │                          └──DeliveryDeadLettered───▶ deadLettered
 *    └───────────────────── DeliveryRedriven ──────────────────┘
 *
 * deadLettered ──DeliveryAlertSent / DeliveryAlertFailed──▶ deadLettered (no state change)
 * ```
 *
 * Pure: whether a failure is retried or dead-lettered is decided by the
 * retry policy (a pure function) before the event is recorded; the machine
 * says which events each state takes and names what the engine must do:
 * `trackVisibility` / `forgetVisibility` keep the in-flight index,
 * `scheduleRetry` stores the redelivery, `deadLetter` files the message in
 * the group's dead-letter queue, `releaseOrder` lets the next message of the
 * same message group through, `leaveDeadLetters` takes it out again and
 * `requeue` makes it deliverable. The group's dead-letter alert leaves its
 * outcome in the dead letter's history without changing its state.
 *
 * @module
 */
import type { ActionTypeOf } from "./action_type.ts";
import { assign, setup } from "xstate";
import type { DeliveryEvent } from "../src/domain/events.ts";

/** What the machine remembers about one delivery. */
export interface DeliveryContext {
  /** Attempts made so far (the current one while in flight). */
  readonly attempt: number;
  readonly visibleUntil?: number;
  readonly lastError?: string;
  /** How the last dead-letter alert call went, once one was made. */
  readonly lastAlert?: "sent" | "failed";
}

/** State names a delivery can be in. */
export type DeliveryState = "pending" | "inFlight" | "retrying" | "acked" | "deadLettered";

/**
 * The delivery machine.
 *
 * @example
 * ```ts
 * import { transition } from "xstate";
 * import { deliveryMachine } from "./delivery.ts";
 * const snapshot = deliveryMachine.resolveState({ value: "pending", context: { attempt: 0 } });
 * const [next] = transition(deliveryMachine, snapshot,
 *   { type: "DeliveryAttempted", data: { group: "ops", attempt: 1, visibleUntil: 30_000 }, at: 0 });
 * console.log(next.value); // "inFlight"
 * ```
 */
export const deliveryMachine = setup({
  types: {
    context: {} as DeliveryContext,
    events: {} as DeliveryEvent,
  },
  actions: {
    /** Engine: index the message as in flight until `visibleUntil`. */
    trackVisibility: () => {},
    /** Engine: remove the in-flight index entry. */
    forgetVisibility: () => {},
    /** Engine: store the redelivery at the failure's `retryAt`. */
    scheduleRetry: () => {},
    /** Engine: file the message in the group's dead-letter queue (and warn). */
    deadLetter: () => {},
    /** Engine: take the message out of the dead-letter queue. */
    leaveDeadLetters: () => {},
    /** Engine: let the next message of the same message group through (ordered groups). */
    releaseOrder: () => {},
    /** Engine: make the redriven message deliverable now. */
    requeue: () => {},
    recordAttempt: assign(({ event }) =>
      event.type === "DeliveryAttempted"
        ? { attempt: event.data.attempt, visibleUntil: event.data.visibleUntil }
        : {}
    ),
    recordVisibility: assign(({ event }) =>
      event.type === "DeliveryVisibilityExtended" ? { visibleUntil: event.data.visibleUntil } : {}
    ),
    recordError: assign(({ event }) =>
      event.type === "DeliveryFailed" || event.type === "DeliveryDeadLettered"
        ? { lastError: event.data.error }
        : {}
    ),
    restartAttempts: assign({ attempt: 0 }),
    recordAlert: assign(({ event }) =>
      event.type === "DeliveryAlertSent"
        ? { lastAlert: "sent" as const }
        : event.type === "DeliveryAlertFailed"
        ? { lastAlert: "failed" as const }
        : {}
    ),
  },
  guards: {
    isNextAttempt: ({ context, event }) =>
      event.type === "DeliveryAttempted" && event.data.attempt === context.attempt + 1,
    isCurrentAttempt: ({ context, event }) =>
      "attempt" in event.data && event.data.attempt === context.attempt,
  },
}).createMachine({
  id: "delivery",
  initial: "pending",
  context: { attempt: 0 },
  states: {
    pending: {
      on: {
        DeliveryAttempted: { guard: "isNextAttempt", target: "inFlight", actions: "recordAttempt" },
      },
    },
    inFlight: {
      entry: "trackVisibility",
      exit: "forgetVisibility",
      on: {
        DeliveryVisibilityExtended: {
          guard: "isCurrentAttempt",
          target: "inFlight",
          reenter: true,
          actions: "recordVisibility",
        },
        DeliveryAcked: { guard: "isCurrentAttempt", target: "acked" },
        DeliveryFailed: { guard: "isCurrentAttempt", target: "retrying", actions: "recordError" },
        DeliveryDeadLettered: {
          guard: "isCurrentAttempt",
          target: "deadLettered",
          actions: "recordError",
        },
      },
    },
    retrying: {
      entry: "scheduleRetry",
      on: { DeliveryRetryDue: { guard: "isCurrentAttempt", target: "pending" } },
    },
    acked: {
      entry: "releaseOrder",
    },
    deadLettered: {
      entry: ["deadLetter", "releaseOrder"],
      exit: "leaveDeadLetters",
      on: {
        DeliveryRedriven: { target: "pending", actions: ["restartAttempts", "requeue"] },
        // Targetless: the alert's outcome is history, not a state; no exit, no entry.
        DeliveryAlertSent: { actions: "recordAlert" },
        DeliveryAlertFailed: { actions: "recordAlert" },
      },
    },
  },
});

/**
 * Every action name the delivery machine can ask for, read off the machine
 * itself: a closed union, so an action added to the machine and not handled
 * by the engine's exhaustive switch does not compile.
 */
export type DeliveryAction = ActionTypeOf<typeof deliveryMachine>;
