/**
 * Consumer streams: `GET /v1/groups/{group}/stream`, a WebSocket per
 * consumer with a credit window, pushes of committed messages and acks on
 * the same socket.
 *
 * @example
 * ```ts
 * import { streamRouter } from "./mod.ts";
 * const router = streamRouter();
 * ```
 *
 * @module
 */
export { BEARER_PROTOCOL_PREFIX, STREAM_PROTOCOL, streamRouter } from "./router.ts";
export { StreamSession, type StreamSessionOptions } from "./session.ts";
export { ClientFrame, MAX_CREDITS, parseFrame } from "./frames.ts";
