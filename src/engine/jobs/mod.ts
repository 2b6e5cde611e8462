/**
 * Durable jobs: timers and background work stored as KV entries first,
 * run when due by the scheduler.
 *
 * @module
 */
export * from "./jobs.ts";
export * from "./scheduler.ts";
