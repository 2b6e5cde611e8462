/**
 * One machine's inspection, built from its stored events: the messages a
 * live XState actor of that machine would have sent the Stately inspector,
 * had it been fed the same `{ type, data, at }` events, with `createdAt` the
 * events' stored time. Snapshots come from XState's pure transitions, so
 * nothing the machine asks for (timers, check-backs, dead letters) is run
 * again: replaying writes nothing and calls no one.
 *
 * A transaction's first event, `TransactionPrepared`, is the machine's input
 * (as the engine starts it: `{ prepared, at }`), so it becomes the actor's
 * `xstate.init` event; a delivery starts at `pending` with no input, and
 * every stored event is fed to it.
 *
 * @module
 */
import { type AnyMachineSnapshot, type AnyStateMachine, initialTransition } from "xstate";
import { deliveryMachine } from "../../../machines/delivery.ts";
import { pureTransition } from "../../../machines/pure_transition.ts";
import { transactionMachine } from "../../../machines/transaction.ts";
import type { StoredEvent, TransactionPreparedData } from "../../domain/events.ts";
import {
  type ActorMessage,
  definitionOf,
  INSPECT_VERSION,
  type InspectionMessage,
  toInspectionJson,
} from "./wire.ts";

/** The machines a trace can follow. */
export type MachineKind = "transaction" | "delivery";

/** The machine of each kind. */
export const MACHINES: Readonly<Record<MachineKind, AnyStateMachine>> = {
  transaction: transactionMachine,
  delivery: deliveryMachine,
};

/**
 * The inspector session id of a transaction's machine.
 *
 * @example
 * ```ts
 * import { transactionSession } from "./trace.ts";
 * transactionSession("t1"); // "transaction:t1"
 * ```
 */
export function transactionSession(transactionId: string): string {
  return `transaction:${transactionId}`;
}

/**
 * The inspector session id of a message's delivery to a consumer group.
 *
 * @example
 * ```ts
 * import { deliverySession } from "./trace.ts";
 * deliverySession("m1", "ops"); // "delivery:m1:ops"
 * ```
 */
export function deliverySession(messageId: string, group: string): string {
  return `delivery:${messageId}:${group}`;
}

/**
 * Follows one machine through its stored events, producing its inspection
 * messages. Feed it each event once, in seq order.
 *
 * @example Replay a delivery that was received and acked
 * ```ts
 * import { MachineTrace } from "./trace.ts";
 * const trace = new MachineTrace("delivery", "delivery:m1:ops");
 * const messages = trace.apply(1, [
 *   { type: "DeliveryAttempted", data: { group: "ops", attempt: 1, visibleUntil: 9 }, at: 1 },
 *   { type: "DeliveryAcked", data: { attempt: 1 }, at: 2 },
 * ]);
 * messages.map((m) => m.type); // actor, event, snapshot (init), event, snapshot, event, snapshot
 * ```
 */
export class MachineTrace {
  /** Which machine this is. */
  readonly kind: MachineKind;
  /** The actor's session id in the inspector (also its root id). */
  readonly sessionId: string;
  #snapshot: AnyMachineSnapshot | undefined;
  #version = 0;

  /** A trace of a machine that has not started. */
  constructor(kind: MachineKind, sessionId: string) {
    this.kind = kind;
    this.sessionId = sessionId;
  }

  /** Seq of the last event taken (0 before any). */
  get version(): number {
    return this.#version;
  }

  /** Whether the machine has started (its `@xstate.actor` has been produced). */
  get started(): boolean {
    return this.#snapshot !== undefined;
  }

  /**
   * Starts a delivery's machine with no events yet (a transaction starts with
   * its first event): the actor and its init event and snapshot.
   */
  start(at: number): InspectionMessage[] {
    if (this.kind !== "delivery") {
      throw new TypeError("Cannot start a transaction's machine without its TransactionPrepared");
    }
    return this.#begin(undefined, at);
  }

  /**
   * Takes the events from seq `fromSeq` on and returns their messages; those
   * already taken are skipped. Throws a RangeError when `fromSeq` leaves a gap.
   */
  apply(fromSeq: number, events: readonly StoredEvent[]): InspectionMessage[] {
    const skip = this.#version + 1 - fromSeq;
    if (skip < 0) {
      throw new RangeError(
        `Cannot follow ${this.sessionId} from seq ${fromSeq}: current value is ${this.#version}`,
      );
    }
    const out: InspectionMessage[] = [];
    for (const event of events.slice(skip)) {
      this.#version++;
      if (this.kind === "transaction" && this.#version === 1) {
        if (event.type !== "TransactionPrepared") {
          throw new TypeError(
            `Cannot replay ${this.sessionId}: first event is ${event.type}, expected TransactionPrepared`,
          );
        }
        out.push(
          ...this.#begin(
            { prepared: event.data as TransactionPreparedData, at: event.at },
            event.at,
          ),
        );
        continue;
      }
      if (!this.#snapshot) out.push(...this.#begin(undefined, event.at));
      const [next] = pureTransition(MACHINES[this.kind], this.#snapshot!, event as never);
      this.#snapshot = next;
      out.push(
        this.#message("@xstate.event", event, event.at),
        this.#snapshotMessage(event, event.at),
      );
    }
    return out;
  }

  /** The actor's registration as it stands now, for a watcher that joins late. */
  actor(at: number): ActorMessage {
    if (!this.#snapshot) {
      throw new TypeError(`Cannot register ${this.sessionId}: its machine has not started`);
    }
    return toInspectionJson({
      type: "@xstate.actor",
      name: MACHINES[this.kind].config.id,
      definition: definitionOf(MACHINES[this.kind]),
      snapshot: this.#snapshot,
      ...this.#base(at),
    }) as ActorMessage;
  }

  #begin(input: unknown, at: number): InspectionMessage[] {
    const [snapshot] = input === undefined
      ? initialTransition(MACHINES[this.kind])
      : initialTransition(MACHINES[this.kind], input);
    this.#snapshot = snapshot as AnyMachineSnapshot;
    const init = { type: "xstate.init", input };
    return [
      this.actor(at),
      this.#message("@xstate.event", init, at),
      this.#snapshotMessage(init, at),
    ];
  }

  #message(type: "@xstate.event", event: unknown, at: number): InspectionMessage {
    return toInspectionJson({ type, event, ...this.#base(at) }) as InspectionMessage;
  }

  #snapshotMessage(event: unknown, at: number): InspectionMessage {
    // The library writes the snapshot through its replacer first, then the message.
    const snapshot = toInspectionJson(this.#snapshot, { functionsAsType: true });
    return toInspectionJson({
      type: "@xstate.snapshot",
      event,
      snapshot,
      ...this.#base(at),
    }) as InspectionMessage;
  }

  #base(at: number) {
    return {
      _version: INSPECT_VERSION,
      createdAt: String(at),
      id: null,
      rootId: this.sessionId,
      sessionId: this.sessionId,
    };
  }
}
