/**
 * Reading a message back with its whole history: its transaction and every
 * group's delivery, replayed from their event streams.
 *
 * @module
 */
export * from "./messages.ts";
