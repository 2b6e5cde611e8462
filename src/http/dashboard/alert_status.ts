/**
 * Where a dead letter's alert stands, read off its delivery history: the
 * last `DeliveryAlertSent` or `DeliveryAlertFailed` after it was last
 * dead-lettered (a redrive and a second death start a new alert).
 *
 * @module
 */
import type { StoredEvent } from "../../domain/events.ts";

/** A dead letter's alert: sent, failed so far (retried with back-off), or not called yet. */
export type AlertStatus =
  | { readonly state: "sent"; readonly at: number; readonly status: number }
  | {
    readonly state: "failed";
    readonly at: number;
    readonly attempt: number;
    readonly error: string;
  }
  | { readonly state: "pending" };

/**
 * The alert status of the latest dead-lettering in `history`, or undefined
 * when the delivery was never dead-lettered.
 *
 * @example
 * ```ts
 * import { alertStatus } from "./alert_status.ts";
 * alertStatus([{ type: "DeliveryDeadLettered", data: {}, at: 1 }]); // { state: "pending" }
 * ```
 */
export function alertStatus(history: readonly StoredEvent[]): AlertStatus | undefined {
  let status: AlertStatus | undefined;
  for (const event of history) {
    const data = event.data as Record<string, unknown>;
    if (event.type === "DeliveryDeadLettered") status = { state: "pending" };
    else if (event.type === "DeliveryRedriven") status = undefined;
    else if (event.type === "DeliveryAlertSent" && status) {
      status = { state: "sent", at: event.at, status: Number(data.status) };
    } else if (event.type === "DeliveryAlertFailed" && status) {
      status = {
        state: "failed",
        at: event.at,
        attempt: Number(data.alertAttempt),
        error: String(data.error),
      };
    }
  }
  return status;
}
