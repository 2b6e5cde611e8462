/**
 * What the gRPC tests run against: a live broker (temp KV file, jobs
 * started) with its HTTP API and the gRPC front on 127.0.0.1, and helpers
 * to build the official RocketMQ Node.js client (`rocketmq-client-nodejs`,
 * unmodified) for it, quiet and shut down with the fixture.
 *
 * @module
 */
import { LIVE, serveBroker, type ServedBrokerFixture } from "../_support/broker.ts";
import { GrpcFront, type GrpcFrontOptions } from "../../src/grpc/mod.ts";
import type { AppOptions } from "../../src/http/app.ts";

/** A served broker with its gRPC front. */
export interface GrpcFixture extends ServedBrokerFixture {
  readonly front: GrpcFront;
  /** `127.0.0.1:<port>`, what a RocketMQ client's `endpoints` takes. */
  readonly endpoints: string;
  /** Shuts `client` down with the fixture (first). */
  track<T extends { shutdown(): Promise<void> }>(client: T): T;
}

/** A logger that drops the client's lines (its default writes to ~/logs). */
export const QUIET_LOGGER = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  log() {},
  close() {},
};

/**
 * Serves a broker and its gRPC front.
 *
 * @example
 * ```ts
 * import { startFront } from "./_front.ts";
 * await using live = await startFront();
 * console.log(live.endpoints);
 * ```
 */
export async function startFront(
  options: GrpcFrontOptions & { app?: AppOptions } = {},
): Promise<GrpcFixture> {
  const { app, ...frontOptions } = options;
  const served = await serveBroker({ ...LIVE, ...(app ? { app } : {}) });
  const front = await GrpcFront.start(served.broker, served.kv, {
    port: 0,
    hostname: "127.0.0.1",
    ...frontOptions,
  });
  const clients: { shutdown(): Promise<void> }[] = [];
  return {
    ...served,
    front,
    endpoints: `127.0.0.1:${front.port}`,
    track(client) {
      clients.push(client);
      return client;
    },
    async [Symbol.asyncDispose]() {
      served.broker.beginShutdown(); // open long polls answer now: clients stop without waiting
      for (const client of clients.reverse()) await client.shutdown().catch(() => {});
      await front.close();
      await served[Symbol.asyncDispose]();
    },
  };
}

/** Test options for anything that runs the real client (its timers outlive a test). */
export const CLIENT_TEST = { sanitizeOps: false, sanitizeResources: false } as const;
