/**
 * The KV keys of the gRPC front (one table, as `src/store/keys.ts` is for
 * the engine): which instance holds a live producer of a topic, and each
 * instance's inbox of check-backs to push to its producers' Telemetry streams.
 *
 * @module
 */

/**
 * The gRPC front's keys.
 *
 * @example
 * ```ts
 * import { grpcKeys } from "./keys.ts";
 * grpcKeys.producer("Trade", "client-1"); // ["grpc_producer", "Trade", "client-1"]
 * ```
 */
export const grpcKeys = {
  /** A live producer of `topic`: `{ instance }`, expiring unless refreshed. */
  producer: (topic: string, clientId: string): Deno.KvKey => ["grpc_producer", topic, clientId],
  /** Every live producer of `topic`. */
  producersOf: (topic: string): Deno.KvKey => ["grpc_producer", topic],
  /** A check-back waiting to be pushed by `instance`: `{ clientId, request }`. */
  inbox: (instance: string, id: string): Deno.KvKey => ["grpc_inbox", instance, id],
  /** The inbox of `instance`. */
  inboxOf: (instance: string): Deno.KvKey => ["grpc_inbox", instance],
  /** An instance serving Telemetry streams: `{ aliveUntil }` (epoch ms), refreshed while it runs. */
  instance: (instance: string): Deno.KvKey => ["grpc_instance", instance],
  /** Bumped when `instance`'s inbox gets an entry (watched). */
  wake: (instance: string): Deno.KvKey => ["grpc_wake", instance],
} as const;
