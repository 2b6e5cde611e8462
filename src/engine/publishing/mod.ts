/**
 * Publishing: topics and producer groups, storing a message, and making
 * messages visible in their topic's log.
 *
 * @module
 */
export * from "./topics.ts";
export * from "./publisher.ts";
export * from "./body_upload.ts";
