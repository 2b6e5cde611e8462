/**
 * Rebuilding a transaction's state from its events: the first event is the
 * machine's input, every later one is fed to the pure `transition()`.
 *
 * @module
 */
import { initialTransition, type SnapshotFrom } from "xstate";
import { pureTransition } from "../../../machines/pure_transition.ts";
import { transactionMachine } from "../../../machines/transaction.ts";
import type { TransactionEvent } from "../../domain/events.ts";

/** A transaction machine snapshot. */
export type TransactionSnapshot = SnapshotFrom<typeof transactionMachine>;

/**
 * Replays a transaction stream into its current snapshot.
 *
 * @example
 * ```ts
 * import { replayTransaction } from "./replay.ts";
 * declare const events: import("../../domain/events.ts").TransactionEvent[];
 * console.log(replayTransaction(events).value);
 * ```
 */
export function replayTransaction(events: readonly TransactionEvent[]): TransactionSnapshot {
  const [first, ...rest] = events;
  if (first?.type !== "TransactionPrepared") {
    throw new TypeError(
      `Cannot replay transaction: first event is ${
        first?.type ?? "missing"
      }, expected TransactionPrepared`,
    );
  }
  let [snapshot] = initialTransition(transactionMachine, { prepared: first.data, at: first.at });
  for (const event of rest) {
    [snapshot] = pureTransition(transactionMachine, snapshot, event);
  }
  return snapshot;
}
