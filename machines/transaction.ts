/**
 * The transaction machine: one actor per transactional (half) message.
 *
 * ```
 * prepared ──LocalTransactionStarted──▶ executing ──TransactionCommitted / CheckBackAnswered(commit)──▶ committed
 *                                        │   ▲    └─TransactionRolledBack / CheckBackAnswered(rollback)─▶ rolledBack
 *                     CheckBackRequested │   │ CheckBackAnswered(unknown) / CheckBackFailed (budget left)
 *                                        ▼   │
 *                                      checking ──(budget spent)──▶ rolledBack (checksExhausted)
 * ```
 *
 * The machine is pure: it reads no clock and does no I/O. Its events are the
 * stored facts themselves (`{ type, data, at }`), so replaying a stream is
 * feeding it the stream. The named actions are carried out by the engine:
 * `armCheckTimer` writes a durable timer, `requestCheckBack` a check-back job,
 * `publishMessage` makes the message visible to consumers.
 *
 * @module
 */
import type { ActionTypeOf } from "./action_type.ts";
import { and, assign, setup } from "xstate";
import type {
  DecisionReason,
  TransactionEvent,
  TransactionPreparedData,
} from "../src/domain/events.ts";

/** What the machine remembers about one transaction. */
export interface TransactionContext extends TransactionPreparedData {
  /** Check-backs sent so far. */
  readonly checks: number;
  readonly preparedAt: number;
  readonly decidedAt?: number;
  readonly reason?: DecisionReason;
}

/** The machine's input: the first event of every transaction stream. */
export interface TransactionInput {
  readonly prepared: TransactionPreparedData;
  readonly at: number;
}

/** State names a transaction can be in. */
export type TransactionState = "prepared" | "executing" | "checking" | "committed" | "rolledBack";

/** States a transaction cannot leave. */
export const FINAL_STATES: readonly TransactionState[] = ["committed", "rolledBack"];

/** Parameters of the engine action that arms the next check-back timer. */
export interface ArmCheckTimerParams {
  /** Number of the check-back the timer will start. */
  readonly check: number;
  /** Delay from the event that armed it, in milliseconds. */
  readonly delayMs: number;
}

/** Types, named actions and guards of the transaction machine. */
const transactionSetup = setup({
  types: {
    context: {} as TransactionContext,
    input: {} as TransactionInput,
    events: {} as TransactionEvent,
  },
  actions: {
    /** Engine: store a timer that sends `CheckBackRequested` when it is due. */
    armCheckTimer: (_, _params: ArmCheckTimerParams) => {},
    /** Engine: store a job that calls the producer's check URL now. */
    requestCheckBack: (_, _params: { check: number }) => {},
    /** Engine: make the message visible on its topic for consumer groups. */
    publishMessage: () => {},
    /** Engine: nothing to do; the late check-back answer is only recorded. */
    ignoreLateAnswer: () => {},
    countCheck: assign({ checks: ({ context }) => context.checks + 1 }),
    decideBy: assign((
      { event },
      params: { reason: DecisionReason },
    ) => ({ decidedAt: event.at, reason: params.reason })),
  },
  guards: {
    isNextCheck: ({ context, event }) =>
      event.type === "CheckBackRequested" && event.data.check === context.checks + 1,
    isCurrentCheck: ({ context, event }) =>
      (event.type === "CheckBackAnswered" || event.type === "CheckBackFailed") &&
      event.data.check === context.checks,
    answersCommit: ({ event }) =>
      event.type === "CheckBackAnswered" && event.data.answer === "commit",
    answersRollback: ({ event }) =>
      event.type === "CheckBackAnswered" && event.data.answer === "rollback",
    checksLeft: ({ context }) => context.checks < context.maxChecks,
  },
});

/** The producer's own commit or rollback, taken while executing or while a check is in flight. */
const producerDecides = {
  TransactionCommitted: {
    target: "committed",
    actions: { type: "decideBy", params: { reason: "producer" } },
  },
  TransactionRolledBack: {
    target: "rolledBack",
    actions: { type: "decideBy", params: { reason: "producer" } },
  },
} as const;

/**
 * The transaction machine, built with `setup()`: pure states, events, guards
 * and named actions.
 *
 * @example
 * ```ts
 * import { initialTransition, transition } from "xstate";
 * import { transactionMachine } from "./transaction.ts";
 * const prepared = { transactionId: "t1", messageId: "m1", topic: "Trade", checkAfterMs: 6000,
 *   checkIntervalMs: 30000, maxChecks: 15 };
 * let [snapshot] = initialTransition(transactionMachine, { prepared, at: 0 });
 * [snapshot] = transition(transactionMachine, snapshot,
 *   { type: "LocalTransactionStarted", data: {}, at: 1 });
 * console.log(snapshot.value); // "executing"
 * ```
 */
export const transactionMachine = transactionSetup.createMachine({
  id: "transaction",
  initial: "prepared",
  context: ({ input }) => ({ ...input.prepared, checks: 0, preparedAt: input.at }),
  states: {
    prepared: {
      on: { LocalTransactionStarted: "executing" },
    },
    executing: {
      entry: {
        type: "armCheckTimer",
        params: ({ context }) => ({
          check: context.checks + 1,
          delayMs: context.checks === 0 ? context.checkAfterMs : context.checkIntervalMs,
        }),
      },
      on: {
        ...producerDecides,
        CheckBackRequested: { guard: "isNextCheck", target: "checking", actions: "countCheck" },
      },
    },
    checking: {
      entry: {
        type: "requestCheckBack",
        params: ({ context }) => ({ check: context.checks }),
      },
      on: {
        ...producerDecides,
        CheckBackAnswered: [
          {
            guard: and(["isCurrentCheck", "answersCommit"]),
            target: "committed",
            actions: { type: "decideBy", params: { reason: "checkBack" } },
          },
          {
            guard: and(["isCurrentCheck", "answersRollback"]),
            target: "rolledBack",
            actions: { type: "decideBy", params: { reason: "checkBack" } },
          },
          { guard: and(["isCurrentCheck", "checksLeft"]), target: "executing" },
          {
            guard: "isCurrentCheck",
            target: "rolledBack",
            actions: { type: "decideBy", params: { reason: "checksExhausted" } },
          },
        ],
        CheckBackFailed: [
          { guard: and(["isCurrentCheck", "checksLeft"]), target: "executing" },
          {
            guard: "isCurrentCheck",
            target: "rolledBack",
            actions: { type: "decideBy", params: { reason: "checksExhausted" } },
          },
        ],
      },
    },
    committed: {
      entry: "publishMessage",
      // A check-back answer that arrives after the decision is recorded and ignored.
      on: {
        CheckBackAnswered: { actions: "ignoreLateAnswer" },
        CheckBackFailed: { actions: "ignoreLateAnswer" },
      },
    },
    rolledBack: {
      on: {
        CheckBackAnswered: { actions: "ignoreLateAnswer" },
        CheckBackFailed: { actions: "ignoreLateAnswer" },
      },
    },
  },
});

/**
 * Every action name the transaction machine can ask for, read off the
 * machine itself: a closed union for the engine's exhaustive switch.
 */
export type TransactionAction = ActionTypeOf<typeof transactionMachine>;
