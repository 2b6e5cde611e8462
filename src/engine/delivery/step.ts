/**
 * One step of a delivery: the delivery machine decides an event at the
 * delivery's head, and the event is appended to the delivery's stream at
 * that head's version, checked, with what the machine's actions ask for.
 *
 * A head is the delivery's state at a stream version, as the broker itself
 * recorded it: in a signed receipt handle, a lease, a due entry or a dead
 * letter, each written in the same commit as the event at that version. The
 * append's check that `seq + 1` is still free proves the head is still the
 * stream's last event, so the state the machine decides from is the
 * delivery's real state; if anything else happened first, the commit fails
 * and nothing is written.
 *
 * @module
 */
import { flatTransition } from "../../../machines/flat_transition.ts";
import {
  type DeliveryAction,
  type DeliveryContext,
  deliveryMachine,
  type DeliveryState,
} from "../../../machines/delivery.ts";
import type { DeliveryEvent } from "../../domain/events.ts";
import type { EventStore } from "../../store/event_store.ts";
import { keys } from "../../store/keys.ts";
import type { WriteSet } from "../../store/write_set.ts";

/** A delivery's state at one version of its stream. */
export interface DeliveryHead {
  readonly messageId: string;
  readonly topic: string;
  readonly messageGroup?: string;
  /** Seq of the stream's last event (0 before the first). */
  readonly seq: number;
  readonly state: DeliveryState;
  readonly context: DeliveryContext;
}

/** Which delivery, apart from its group: its message, the message's topic and message group. */
export interface DeliveryOf {
  readonly messageId: string;
  readonly topic: string;
  readonly messageGroup?: string;
}

/** What the machine made of one event at a head. */
export interface DeliveryStep {
  readonly event: DeliveryEvent;
  /** The head the event was decided at. */
  readonly before: DeliveryHead;
  /** The head after it (seq + 1). */
  readonly after: DeliveryHead;
  /** The machine's actions, in order. */
  readonly actions: readonly DeliveryAction[];
}

/**
 * The delivery machine's transitions, read from its definition once: its
 * guards and assigns run on every call (see machines/flat_transition.ts, and
 * its test against XState's own `transition()`).
 */
const transitionOf = flatTransition(deliveryMachine);

/**
 * The delivery stream's id for a message and a group incarnation.
 *
 * @example
 * ```ts
 * import { deliveryStream } from "./step.ts";
 * deliveryStream("m1", "g1"); // { kind: "dlv", id: "m1:g1" }
 * ```
 */
export function deliveryStream(messageId: string, groupId: string): { kind: "dlv"; id: string } {
  return { kind: "dlv", id: keys.deliveryStreamId(messageId, groupId) };
}

/**
 * Lets the delivery machine decide `event` at `head`; undefined when the
 * state cannot take it (its guards or its transitions refuse).
 *
 * @example
 * ```ts
 * import { decideDelivery } from "./step.ts";
 * const head = { messageId: "m1", topic: "T", seq: 1, state: "inFlight" as const,
 *   context: { attempt: 1, visibleUntil: 30_000 } };
 * decideDelivery(head, { type: "DeliveryAcked", data: { attempt: 1 }, at: 0 })?.after.state;
 * // "acked"
 * decideDelivery(head, { type: "DeliveryAcked", data: { attempt: 2 }, at: 0 }); // undefined
 * ```
 */
export function decideDelivery(
  head: DeliveryHead,
  event: DeliveryEvent,
): DeliveryStep | undefined {
  const next = transitionOf(head.state, head.context, event);
  if (!next) return undefined;
  return {
    event,
    before: head,
    after: { ...head, seq: head.seq + 1, state: next.value, context: next.context },
    actions: next.actions as DeliveryAction[],
  };
}

/**
 * Decides `events` one after another from `head` and adds their append at
 * `head.seq` (checked, or for a new stream guarded by a check `op` carries:
 * see `EventStore.append`) to `op`; returns the steps, or undefined (and
 * adds nothing) when the machine refuses one of them.
 *
 * @example
 * ```ts
 * import { appendDelivery } from "./step.ts";
 * import { EventStore } from "../../store/event_store.ts";
 * import { WriteSet } from "../../store/write_set.ts";
 * using kv = await Deno.openKv(":memory:");
 * const steps = appendDelivery(new WriteSet(), new EventStore(kv), "g1",
 *   { messageId: "m1", topic: "T", seq: 0, state: "pending", context: { attempt: 0 } },
 *   [{ type: "DeliveryAttempted", data: { group: "ops", attempt: 1, visibleUntil: 1 }, at: 0 }]);
 * steps?.length; // 1
 * ```
 */
export function appendDelivery(
  op: WriteSet,
  store: EventStore,
  groupId: string,
  head: DeliveryHead,
  events: readonly DeliveryEvent[],
  options: { readonly guardedBy?: Deno.KvKey } = {},
): DeliveryStep[] | undefined {
  const steps: DeliveryStep[] = [];
  let at = head;
  for (const event of events) {
    const step = decideDelivery(at, event);
    if (!step) return undefined;
    steps.push(step);
    at = step.after;
  }
  store.append(op, deliveryStream(head.messageId, groupId), head.seq, events, options);
  return steps;
}

/**
 * Replays a delivery stream into its head (for a stream read after a
 * conflict, or for a view); an empty stream is a pending delivery at seq 0.
 *
 * @example
 * ```ts
 * import { replayDelivery } from "./step.ts";
 * replayDelivery({ messageId: "m1", topic: "T" }, []).state; // "pending"
 * ```
 */
export function replayDelivery(
  of: DeliveryOf,
  events: readonly DeliveryEvent[],
): DeliveryHead {
  let state: DeliveryState = "pending";
  let context: DeliveryContext = { attempt: 0 };
  for (const event of events) {
    // An event the machine would not take leaves the head as it is, as XState leaves a snapshot.
    const next = transitionOf(state, context, event);
    if (next) ({ value: state, context } = next);
  }
  return {
    messageId: of.messageId,
    topic: of.topic,
    ...(of.messageGroup !== undefined ? { messageGroup: of.messageGroup } : {}),
    seq: events.length,
    state,
    context,
  };
}
