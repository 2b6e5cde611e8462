/**
 * Turning the delivery machine's actions into writes: one exhaustive switch
 * over {@linkcode DeliveryAction}, so an action added to the machine and not
 * carried out here does not compile. Every write lands in the same commit
 * as the event that asked for it (a dead letter's alert job too); log lines
 * and metrics wait for that commit.
 *
 * @module
 */
import type { DeliveryState } from "../../../machines/delivery.ts";
import type { WriteSet } from "../../store/write_set.ts";
import { keys } from "../../store/keys.ts";
import type { EngineDeps } from "../deps.ts";
import type { CompiledGroup, GroupCounter } from "../groups/mod.ts";
import { releaseOrder, requeueInOrder } from "./message_order.ts";
import {
  countDeliveries,
  type DeadLetterRecord,
  type DueRecord,
  type InflightRecord,
  putDue,
} from "./records.ts";
import type { DeliveryStep } from "./step.ts";

/** Where the effects of one step are written. */
export interface EffectScope {
  readonly kv: Deno.Kv;
  readonly group: CompiledGroup;
  /**
   * Collects in-flight records for one lease entry written by the caller
   * (a receive starts many deliveries with one lease); without it, each
   * `trackVisibility` writes a lease entry of its own.
   */
  readonly lease?: InflightRecord[];
  /** Makes the lease id of an entry written here (ULIDs in production). */
  readonly leaseId: () => string;
  /**
   * What ends an attempt needs: the scheduler for a dead letter's alert, the
   * logger for its line, the metrics for the attempt's outcome. A step that
   * dead-letters throws without it; other steps count nothing without it.
   */
  readonly deps?: Pick<EngineDeps, "scheduler" | "logger" | "metrics" | "clock">;
}

/** The error text a released attempt carries (see `Deliveries.release`). */
const RELEASED_PREFIX = "released:";

/** The counter a state is counted in, if any. */
const COUNTED: Partial<Record<DeliveryState, GroupCounter>> = {
  inFlight: "inFlight",
  retrying: "retrying",
  deadLettered: "deadLettered",
  acked: "acked",
};

/**
 * Adds to `op` what the step's actions ask for, and the change of the
 * group's counters from the state it left to the one it entered.
 *
 * @example
 * ```ts
 * import { carryOutDelivery } from "./effects.ts";
 * import { WriteSet } from "../../store/write_set.ts";
 * declare const scope: import("./effects.ts").EffectScope;
 * declare const step: import("./step.ts").DeliveryStep;
 * await carryOutDelivery(new WriteSet(), scope, step);
 * ```
 */
export async function carryOutDelivery(
  op: WriteSet,
  scope: EffectScope,
  step: DeliveryStep,
): Promise<void> {
  const { kv, group } = scope;
  const groupId = group.record.id;
  const { event, after } = step;
  const seq = after.seq;
  const messageGroup = after.messageGroup;
  const ordered = group.record.ordered && messageGroup !== undefined;
  const base = {
    messageId: after.messageId,
    topic: after.topic,
    ...(messageGroup !== undefined ? { messageGroup } : {}),
  };
  for (const action of step.actions) {
    switch (action) {
      case "trackVisibility": {
        const record: InflightRecord = { ...base, seq, attempt: after.context.attempt };
        if (scope.lease) scope.lease.push(record);
        else {
          const until = after.context.visibleUntil ?? event.at;
          op.set(keys.lease(groupId, until, scope.leaseId()), [record]);
        }
        break;
      }
      case "forgetVisibility":
        // Nothing to write: a lease is swept when it ends and skips a delivery whose
        // stream has moved on (its head is no longer the one the lease names).
        break;
      case "scheduleRetry": {
        if (event.type !== "DeliveryFailed") {
          throw new TypeError(`Cannot schedule a retry on ${event.type}`);
        }
        const due: DueRecord = {
          ...base,
          seq,
          attempt: after.context.attempt,
          retry: true,
          publishedAt: 0,
        };
        putDue(op, groupId, event.data.retryAt, due);
        break;
      }
      case "deadLetter": {
        const error = after.context.lastError ?? "unknown error";
        const record: DeadLetterRecord = {
          ...base,
          attempts: after.context.attempt,
          lastError: error,
          deadLetteredAt: event.at,
          seq,
        };
        op.set(keys.deadLetter(groupId, after.messageId), record);
        const deps = scope.deps;
        if (!deps) {
          throw new TypeError(
            `Cannot dead-letter message ${after.messageId}: the effect scope has no engine deps`,
          );
        }
        if (group.record.alertUrl !== undefined) {
          deps.scheduler.schedule(op, {
            kind: "deadLetterAlert",
            group: group.record.name,
            groupId,
            messageId: after.messageId,
            seq,
          }, event.at);
        }
        op.onCommitted(() =>
          deps.logger.warn(
            "delivery.deadLettered",
            `dead-lettered message ${after.messageId} for group ${group.record.name} after ${after.context.attempt} attempts: ${error}`,
            {
              messageId: after.messageId,
              group: group.record.name,
              topic: after.topic,
              attempts: after.context.attempt,
              error,
            },
          )
        );
        break;
      }
      case "leaveDeadLetters":
        op.delete(keys.deadLetter(groupId, after.messageId));
        break;
      case "requeue": {
        const due: DueRecord = { ...base, seq, attempt: 0, retry: false, publishedAt: 0 };
        if (ordered) await requeueInOrder(kv, op, groupId, messageGroup, due, event.at);
        else putDue(op, groupId, event.at, due);
        break;
      }
      case "releaseOrder":
        if (ordered) await releaseOrder(kv, op, groupId, messageGroup, after.messageId, event.at);
        break;
      case "recordAttempt":
      case "recordVisibility":
      case "recordError":
      case "restartAttempts":
      case "recordAlert":
        break; // the machine's own context: already in `after`
      default: {
        const never: never = action;
        throw new TypeError(`Cannot carry out delivery action ${never}`);
      }
    }
  }
  countOutcome(op, scope, step);
  const left = COUNTED[step.before.state];
  const entered = COUNTED[after.state];
  if (left !== entered) {
    countDeliveries(op, groupId, {
      ...(left ? { [left]: -1 } : {}),
      ...(entered ? { [entered]: 1 } : {}),
    });
  }
}

/** Counts how the step ended an attempt, once its commit succeeded. */
function countOutcome(op: WriteSet, scope: EffectScope, step: DeliveryStep): void {
  const deps = scope.deps;
  if (!deps) return;
  const { event } = step;
  const group = scope.group.record.name;
  switch (event.type) {
    case "DeliveryAcked":
      op.onCommitted(() => {
        deps.metrics.delivery(group, "acked");
        deps.metrics.acked(group, step.after.messageId, deps.clock());
      });
      return;
    case "DeliveryFailed": {
      const outcome = event.data.error.startsWith(RELEASED_PREFIX) ? "released" : "failed";
      op.onCommitted(() => deps.metrics.delivery(group, outcome));
      return;
    }
    case "DeliveryDeadLettered":
      op.onCommitted(() => deps.metrics.delivery(group, "deadLettered"));
      return;
    default:
      return;
  }
}
