/**
 * What a delivery transition asks the engine to do, worked out by the
 * delivery machine once per (state, event type) and reused.
 *
 * @module
 */
import { transition } from "xstate";
import {
  type DeliveryContext,
  deliveryMachine,
  type DeliveryState,
} from "../../../machines/delivery.ts";
import type { DeliveryEvent } from "../../domain/events.ts";

/** Plans already worked out, by state and event type. */
const plans = new Map<string, { next: DeliveryState; actions: string[] }>();

/**
 * The target state and named actions of a delivery transition, from the
 * machine. The engine only sends events whose attempt numbers it derived from
 * the same stream head (and the append at that head is checked), so the
 * machine's attempt guards always pass and the plan depends on the state and
 * the event type alone: it is worked out once per pair and reused, which
 * keeps XState off the per-message hot path.
 *
 * @example
 * ```ts
 * import { planDelivery } from "./delivery_plan.ts";
 * planDelivery("inFlight", { attempt: 1 }, { type: "DeliveryAcked", data: { attempt: 1 }, at: 0 })
 *   .next; // "acked"
 * ```
 */
export function planDelivery(
  state: DeliveryState,
  context: DeliveryContext,
  event: DeliveryEvent,
): { next: DeliveryState; actions: string[] } {
  const id = `${state}|${event.type}`;
  const known = plans.get(id);
  if (known) return known;
  const snapshot = deliveryMachine.resolveState({ value: state, context });
  if (!snapshot.can(event)) {
    throw new TypeError(`Cannot apply ${event.type}: current state is ${state}`);
  }
  const [next, actions] = transition(deliveryMachine, snapshot, event);
  const plan = { next: next.value as DeliveryState, actions: actions.map((a) => a.type) };
  plans.set(id, plan);
  return plan;
}
