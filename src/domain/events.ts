/**
 * The facts the broker records. Every state change is one of these events,
 * appended to a stream in Deno KV; replaying a stream rebuilds its state.
 * Events carry ids, never message bodies.
 *
 * @module
 */

/** A recorded fact: its type, its data and when it happened (epoch ms). */
export interface StoredEvent<T extends string = string, D = unknown> {
  /** Past-tense name of the fact. */
  readonly type: T;
  /** The fact's data (ids and small values only). */
  readonly data: D;
  /** When the broker recorded it, in epoch milliseconds. */
  readonly at: number;
}

/** How a check-back answer or a producer decision resolves a transaction. */
export type CheckBackAnswer = "commit" | "rollback" | "unknown";

/** Who or what decided a transaction's outcome. */
export type DecisionReason = "producer" | "checkBack" | "checksExhausted";

/** Data of {@linkcode TransactionPrepared}. */
export interface TransactionPreparedData {
  readonly transactionId: string;
  readonly messageId: string;
  readonly topic: string;
  readonly tag?: string;
  readonly producerGroup?: string;
  readonly checkUrl?: string;
  readonly checkAfterMs: number;
  readonly checkIntervalMs: number;
  readonly maxChecks: number;
}

/** The half message is stored, invisible to consumers. */
export type TransactionPrepared = StoredEvent<"TransactionPrepared", TransactionPreparedData>;
/** The producer was told the half message is stored and runs its local transaction. */
export type LocalTransactionStarted = StoredEvent<"LocalTransactionStarted", Record<never, never>>;
/** The producer stayed silent: check-back number `check` was sent to it. */
export type CheckBackRequested = StoredEvent<"CheckBackRequested", { readonly check: number }>;
/** The producer answered check-back number `check`. */
export type CheckBackAnswered = StoredEvent<
  "CheckBackAnswered",
  { readonly check: number; readonly answer: CheckBackAnswer }
>;
/** Check-back number `check` failed: no answer, a non-2xx, a timeout or bad JSON. */
export type CheckBackFailed = StoredEvent<
  "CheckBackFailed",
  { readonly check: number; readonly error: string }
>;
/** The producer committed through the API. */
export type TransactionCommitted = StoredEvent<"TransactionCommitted", Record<never, never>>;
/** The producer rolled back through the API. */
export type TransactionRolledBack = StoredEvent<"TransactionRolledBack", Record<never, never>>;

/** Every event of a transaction stream: a closed union. */
export type TransactionEvent =
  | TransactionPrepared
  | LocalTransactionStarted
  | CheckBackRequested
  | CheckBackAnswered
  | CheckBackFailed
  | TransactionCommitted
  | TransactionRolledBack;

/** A message became visible to consumers on its topic. */
export type MessagePublished = StoredEvent<
  "MessagePublished",
  { readonly topic: string; readonly tag?: string; readonly transactionId?: string }
>;

/** Every event of a message stream. */
export type MessageEvent = MessagePublished;

/** A consumer group got the message: attempt number `attempt`, invisible to others until `visibleUntil`. */
export type DeliveryAttempted = StoredEvent<
  "DeliveryAttempted",
  { readonly group: string; readonly attempt: number; readonly visibleUntil: number }
>;
/** The consumer asked for more time before the message becomes visible again. */
export type DeliveryVisibilityExtended = StoredEvent<
  "DeliveryVisibilityExtended",
  { readonly attempt: number; readonly visibleUntil: number }
>;
/** The consumer acknowledged the message: done for this group. */
export type DeliveryAcked = StoredEvent<"DeliveryAcked", { readonly attempt: number }>;
/** The attempt failed (nack, visibility timeout, push error); redelivery at `retryAt`. */
export type DeliveryFailed = StoredEvent<
  "DeliveryFailed",
  { readonly attempt: number; readonly error: string; readonly retryAt: number }
>;
/** The last allowed attempt failed: the message is in the group's dead-letter queue. */
export type DeliveryDeadLettered = StoredEvent<
  "DeliveryDeadLettered",
  { readonly attempt: number; readonly error: string }
>;
/** The retry delay passed: the message is ready for its next attempt. */
export type DeliveryRetryDue = StoredEvent<"DeliveryRetryDue", { readonly attempt: number }>;
/** An operator redrove the dead letter: it is delivered again from attempt 1. */
export type DeliveryRedriven = StoredEvent<"DeliveryRedriven", Record<never, never>>;

/**
 * The group's alert URL answered 2xx to the alert about this dead letter
 * (call number `alertAttempt`); it changes no state.
 */
export type DeliveryAlertSent = StoredEvent<
  "DeliveryAlertSent",
  { readonly url: string; readonly status: number; readonly alertAttempt: number }
>;
/**
 * The alert about this dead letter failed (a non-2xx, a redirect, a timeout
 * or no connection); it is called again after its back-off.
 */
export type DeliveryAlertFailed = StoredEvent<
  "DeliveryAlertFailed",
  {
    readonly url: string;
    readonly alertAttempt: number;
    readonly error: string;
    readonly status?: number;
  }
>;

/** Every event of a delivery stream (one per group and message): a closed union. */
export type DeliveryEvent =
  | DeliveryAttempted
  | DeliveryVisibilityExtended
  | DeliveryAcked
  | DeliveryFailed
  | DeliveryDeadLettered
  | DeliveryRetryDue
  | DeliveryRedriven
  | DeliveryAlertSent
  | DeliveryAlertFailed;
