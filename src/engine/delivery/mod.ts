/**
 * Delivering committed messages to consumer groups: routing at read time,
 * long polls, settling receipt handles, visibility and expiry, dead letters
 * and redrive, ordered message groups, and push.
 *
 * @module
 */
export * from "./deliveries.ts";
export * from "./push.ts";
