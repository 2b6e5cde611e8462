/**
 * Consumer groups: their configuration, their positions in the topic logs
 * and their delivery counts.
 *
 * @module
 */
export * from "./groups.ts";
