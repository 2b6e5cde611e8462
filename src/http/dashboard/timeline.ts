/**
 * A message's life as rows of states over time, replayed from its stored
 * histories: one row for its transaction (when it has one) and one per
 * consumer group's delivery. Each row is the state the machine was in
 * between consecutive events, and the events themselves.
 *
 * @module
 */
import { getInitialSnapshot, initialTransition } from "xstate";
import { deliveryMachine } from "../../../machines/delivery.ts";
import { pureTransition } from "../../../machines/pure_transition.ts";
import { transactionMachine } from "../../../machines/transaction.ts";
import type { DeliveryEvent, StoredEvent, TransactionEvent } from "../../domain/events.ts";
import type { MessageView } from "../../engine/history/messages.ts";

/** A state held from `from` until `to` (epoch ms). */
export interface Segment {
  readonly state: string;
  readonly from: number;
  readonly to: number;
}

/** One machine's row of the timeline. */
export interface TimelineRow {
  /** "transaction" or the consumer group's name. */
  readonly label: string;
  readonly kind: "transaction" | "delivery";
  readonly segments: readonly Segment[];
  readonly events: readonly StoredEvent[];
  /** The state it is in now. */
  readonly current: string;
}

/** Every row of a message's timeline on one time axis. */
export interface Timeline {
  readonly start: number;
  readonly end: number;
  /** When consumers could first see the message. */
  readonly publishedAt?: number;
  readonly rows: readonly TimelineRow[];
}

/**
 * The states a machine went through, one segment per stay, the last one
 * lasting until `end`.
 */
function segmentsOf(
  states: readonly { state: string; at: number }[],
  end: number,
): Segment[] {
  const segments: Segment[] = [];
  for (const step of states) {
    const last = segments.at(-1);
    if (last?.state === step.state) continue; // a self-transition stays in one segment
    if (last) segments[segments.length - 1] = { ...last, to: step.at };
    segments.push({ state: step.state, from: step.at, to: end });
  }
  return segments;
}

/**
 * Builds the timeline of a message as it is at `now`.
 *
 * @example
 * ```ts
 * import { buildTimeline } from "./timeline.ts";
 * declare const view: import("../../engine/history/messages.ts").MessageView;
 * const timeline = buildTimeline(view, Date.now());
 * console.log(timeline.rows.map((row) => `${row.label}: ${row.current}`));
 * ```
 */
export function buildTimeline(view: MessageView, now: number): Timeline {
  const times: number[] = [view.storedAt];
  const rows: TimelineRow[] = [];
  const history = (view.transaction?.history ?? []) as readonly TransactionEvent[];
  const [first, ...rest] = history;
  for (const event of history) times.push(event.at);
  for (const delivery of view.deliveries) {
    for (const event of delivery.history) times.push(event.at);
  }
  const end = Math.max(now, ...times);
  if (first?.type === "TransactionPrepared") {
    let [snapshot] = initialTransition(transactionMachine, { prepared: first.data, at: first.at });
    const states = [{ state: String(snapshot.value), at: first.at }];
    for (const event of rest) {
      [snapshot] = pureTransition(transactionMachine, snapshot, event);
      states.push({ state: String(snapshot.value), at: event.at });
    }
    rows.push({
      label: "transaction",
      kind: "transaction",
      segments: segmentsOf(states, end),
      events: history,
      current: String(snapshot.value),
    });
  }
  for (const delivery of view.deliveries) {
    let snapshot = getInitialSnapshot(deliveryMachine);
    const from = view.publishedAt ?? delivery.history[0]?.at ?? view.storedAt;
    const states = [{ state: String(snapshot.value), at: from }];
    for (const event of delivery.history as readonly DeliveryEvent[]) {
      [snapshot] = pureTransition(deliveryMachine, snapshot, event);
      states.push({ state: String(snapshot.value), at: event.at });
    }
    rows.push({
      label: delivery.group,
      kind: "delivery",
      segments: segmentsOf(states, end),
      events: delivery.history,
      current: String(snapshot.value),
    });
  }
  return {
    start: Math.min(...times),
    end,
    rows,
    ...(view.publishedAt !== undefined ? { publishedAt: view.publishedAt } : {}),
  };
}
