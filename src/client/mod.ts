/**
 * The Escrow TypeScript SDK: a typed HTTP client, RocketMQ's transactional
 * producer model, a pull consumer, a push receiver and idempotent handlers.
 * Everything but {@linkcode idempotent} (which uses Deno KV) runs on plain
 * `fetch` and WebCrypto, so also on Node and in workers.
 *
 * @example
 * ```ts
 * import { Consumer, EscrowClient } from "./mod.ts";
 * const client = new EscrowClient("http://127.0.0.1:8000");
 * const consumer = new Consumer(client, "ops", (m) => console.log(m.tag));
 * consumer.start();
 * ```
 *
 * @module
 */
export * from "./client.ts";
export * from "./errors.ts";
export * from "./transaction_producer.ts";
export * from "./consumer.ts";
export * from "./consumer_stream.ts";
export * from "./push_handler.ts";
export * from "./idempotent.ts";
export * from "./signed_request.ts";
