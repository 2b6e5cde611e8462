/**
 * The broker's machines in the Stately inspector: replays of stored
 * histories, live watches, and the inspector's wire format.
 *
 * @module
 */
export * from "./inspection.ts";
export * from "./relay.ts";
export * from "./trace.ts";
export * from "./wire.ts";
