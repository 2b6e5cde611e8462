/**
 * Durable jobs: timers and background work stored as KV entries first,
 * run when due by the scheduler, retried on a back-off and failed for good
 * once their attempts are spent.
 *
 * @module
 */
export * from "./failed_jobs.ts";
export * from "./jobs.ts";
export * from "./scheduler.ts";
