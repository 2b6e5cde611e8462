/**
 * Transactional (half) messages: prepare, the producer's decision, and
 * check-back when the producer goes silent. A newcomer reads
 * `transactions.ts` first, then `check_back.ts`.
 *
 * @module
 */
export * from "./transactions.ts";
export * from "./check_back.ts";
export * from "./check_backs.ts";
export * from "./replay.ts";
