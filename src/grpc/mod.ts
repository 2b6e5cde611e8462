/**
 * RocketMQ 5's gRPC protocol (`apache.rocketmq.v2.MessagingService`) served
 * on a second port over the same engine as the HTTP API: unmodified RocketMQ
 * clients produce, run transactions (with check-back over Telemetry) and
 * consume against Escrow.
 *
 * @example
 * ```ts
 * import { GrpcFront } from "./mod.ts";
 * declare const broker: import("../engine/broker.ts").Broker;
 * declare const kv: Deno.Kv;
 * const front = await GrpcFront.start(broker, kv, { port: 8081 });
 * await front.close();
 * ```
 *
 * @module
 */
export * from "./server.ts";
export * from "./tls.ts";
export { UNSUPPORTED_RPCS } from "./service.ts";
