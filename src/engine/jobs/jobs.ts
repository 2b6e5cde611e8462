/**
 * Durable jobs: the timers and background work the engine's actions ask for.
 * A job is a KV entry written in the same commit as the event that asked for
 * it; the scheduler runs it when it is due.
 *
 * @module
 */

/** Send `CheckBackRequested` for check number `check` (the check timer fired). */
export interface CheckBackDueJob {
  readonly kind: "checkBackDue";
  readonly transactionId: string;
  readonly check: number;
}

/** Call the producer's check URL for check number `check` and record the answer. */
export interface CheckBackJob {
  readonly kind: "checkBack";
  readonly transactionId: string;
  readonly check: number;
}

/** Fail the deliveries of `group` whose visibility timeout has passed. */
export interface VisibilityDueJob {
  readonly kind: "visibilityDue";
  readonly group: string;
}

/** Every kind of job: a closed union. */
export type Job = CheckBackDueJob | CheckBackJob | VisibilityDueJob;

/** A job as stored under `["job", dueAt, jobId]`. */
export interface StoredJob {
  readonly id: string;
  readonly job: Job;
  /** How many times a scheduler has started it. */
  readonly runs: number;
}
