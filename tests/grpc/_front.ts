/**
 * What the gRPC tests run against: a live broker (temp KV file, jobs
 * started) with its HTTP API and the gRPC front on 127.0.0.1, and helpers
 * to build the official RocketMQ Node.js client (`rocketmq-client-nodejs`,
 * unmodified) for it, quiet and shut down with the fixture.
 *
 * @module
 */
import { Producer, type ProducerOptions, SimpleConsumer } from "rocketmq-client-nodejs";
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

/** Options of {@linkcode startFront}. */
export interface StartFrontOptions extends GrpcFrontOptions {
  /** Options of the HTTP app. @default {{}} */
  readonly app?: AppOptions;
  /** Topics created before the fixture is returned. @default {[]} */
  readonly topics?: readonly string[];
}

/**
 * Serves a broker and its gRPC front.
 *
 * @example
 * ```ts
 * import { startFront } from "./_front.ts";
 * await using live = await startFront({ topics: ["Trade"] });
 * console.log(live.endpoints);
 * ```
 */
export async function startFront(options: StartFrontOptions = {}): Promise<GrpcFixture> {
  const { app, topics = [], ...frontOptions } = options;
  const served = await serveBroker({ ...LIVE, ...(app ? { app } : {}) });
  for (const topic of topics) await served.broker.topics.create(topic);
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

/** Options of {@linkcode startSimpleConsumer}. */
export interface SimpleConsumerTestOptions {
  /** The consumer group. */
  readonly group: string;
  /** The subscriptions, topic to tag expression. @default {{ Trade: "*" }} */
  readonly subscriptions?: Readonly<Record<string, string>>;
  /** The long poll's wait, in ms. @default {3_000} */
  readonly awaitDuration?: number;
}

/**
 * Starts an official-client SimpleConsumer on the fixture's front, quiet and
 * shut down with the fixture.
 *
 * @example
 * ```ts
 * import { startFront, startSimpleConsumer } from "./_front.ts";
 * await using live = await startFront({ topics: ["Trade"] });
 * const consumer = await startSimpleConsumer(live, { group: "audit" });
 * console.log((await consumer.receive(16, 10_000)).length);
 * ```
 */
export async function startSimpleConsumer(
  live: GrpcFixture,
  { group, subscriptions = { Trade: "*" }, awaitDuration = 3_000 }: SimpleConsumerTestOptions,
): Promise<SimpleConsumer> {
  const consumer = live.track(
    new SimpleConsumer({
      endpoints: live.endpoints,
      consumerGroup: group,
      subscriptions: new Map(Object.entries(subscriptions)),
      awaitDuration,
      logger: QUIET_LOGGER,
    } as never),
  );
  await consumer.startup();
  return consumer;
}

/**
 * Starts an official-client Producer on the fixture's front, quiet and shut
 * down with the fixture; `options` add to (or override) its endpoints and logger.
 *
 * @example
 * ```ts
 * import { startFront, startProducer } from "./_front.ts";
 * await using live = await startFront({ topics: ["Trade"] });
 * const producer = await startProducer(live, { maxAttempts: 1 });
 * await producer.send({ topic: "Trade", body: Buffer.from("x") } as never);
 * ```
 */
export async function startProducer(
  live: GrpcFixture,
  options: Partial<ProducerOptions> = {},
): Promise<Producer> {
  const producer = live.track(
    new Producer({ endpoints: live.endpoints, logger: QUIET_LOGGER, ...options } as never),
  );
  await producer.startup();
  return producer;
}
