/**
 * Durable jobs: the timers and background work the engine's actions ask for.
 * A job is a KV entry written in the same commit as the event that asked for
 * it; the scheduler runs it when it is due. A job whose handler keeps
 * throwing is retried on {@linkcode jobRetryDelayMs} until its attempts are
 * spent, then kept as a {@linkcode FailedJob} with its last error.
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

/** Delete what a deleted consumer group's incarnation left behind (runs again until done). */
export interface GroupCleanupJob {
  readonly kind: "groupCleanup";
  readonly groupId: string;
}

/**
 * POST the dead letter of `messageId` to the alert URL of `group` (the
 * incarnation `groupId`); scheduled in the commit that dead-lettered it.
 * `seq` is the seq of that `DeliveryDeadLettered` event, so an alert for a
 * dead letter since redriven is never sent. Each run is one call: a failed
 * call throws, and the scheduler's back-off calls again.
 */
export interface DeadLetterAlertJob {
  readonly kind: "deadLetterAlert";
  readonly group: string;
  readonly groupId: string;
  readonly messageId: string;
  readonly seq: number;
}

/**
 * Delete the staged chunks of the large body of `messageId` unless its
 * message committed; scheduled in the upload's first commit.
 */
export interface UploadCollectJob {
  readonly kind: "uploadCollect";
  readonly messageId: string;
}

/** Every kind of job: a closed union. */
export type Job =
  | CheckBackDueJob
  | CheckBackJob
  | VisibilityDueJob
  | GroupCleanupJob
  | DeadLetterAlertJob
  | UploadCollectJob;

/** A job as stored under `["job", dueAt, jobId]`. */
export interface StoredJob {
  readonly id: string;
  readonly job: Job;
  /** How many times a scheduler has started it. */
  readonly runs: number;
  /** What the handler threw the last time it failed, if it has failed before. */
  readonly lastError?: string;
}

/** A job whose attempts are spent, as stored under `["job_failed", jobId]`. */
export interface FailedJob {
  readonly id: string;
  readonly job: Job;
  /** How many times a scheduler started it. */
  readonly runs: number;
  /** What the handler threw the last time, or why the last run never finished. */
  readonly lastError: string;
  /** When it became failed, epoch ms. */
  readonly failedAt: number;
}

/** Attempts of one job before it becomes failed. */
export const DEFAULT_JOB_MAX_ATTEMPTS = 10;

/** Wait before the first retry of a job, in ms. */
export const JOB_RETRY_BASE_MS = 1_000;

/** Longest wait between two attempts of a job, in ms. */
export const JOB_RETRY_MAX_MS = 5 * 60_000;

/**
 * The back-off of a failed job: how long after failed run number `runs`
 * (1-based) it runs again. It doubles from 1 s and stays at 5 min from the
 * 10th run on: 1 s, 2 s, 4 s, … 256 s, then 300 s. With the default 10
 * attempts a job that always throws is failed about 8.5 min after its first
 * run (1 + 2 + … + 256 s of waiting).
 *
 * @param runs How many times the job has run, the failed run included.
 * @returns The delay in ms, between {@linkcode JOB_RETRY_BASE_MS} and {@linkcode JOB_RETRY_MAX_MS}.
 *
 * @example Delays of the first runs
 * ```ts
 * import { jobRetryDelayMs } from "./jobs.ts";
 * jobRetryDelayMs(1); // 1000
 * jobRetryDelayMs(3); // 4000
 * jobRetryDelayMs(20); // 300000
 * ```
 */
export function jobRetryDelayMs(runs: number): number {
  if (!Number.isInteger(runs) || runs < 1) {
    throw new RangeError(
      `Cannot compute a job's back-off: runs must be 1 or more, current value is ${runs}`,
    );
  }
  // Past 2^9 the cap applies anyway; the min keeps 2 ** runs from growing without bound.
  return Math.min(JOB_RETRY_BASE_MS * 2 ** Math.min(runs - 1, 30), JOB_RETRY_MAX_MS);
}
