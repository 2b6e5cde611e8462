/**
 * What the `Consumer` tests share, over long polls and over the stream: the
 * topic and group they consume, messages published in a row, the ways of
 * stopping a consumer mid-way, and the check that it stranded nothing.
 *
 * @module
 */
import { assertEquals } from "@std/assert/equals";
import { delay } from "@std/async/delay";
import {
  Consumer,
  type ConsumerOptions,
  type EscrowClient,
  type ReceivedMessage,
} from "../../src/client/mod.ts";
import { type TestBroker, waitFor } from "./_broker.ts";

/**
 * Creates topic `Trade` and group `ops` subscribed to it.
 *
 * @example
 * ```ts
 * import { startBroker } from "./_broker.ts";
 * import { setUp } from "./_consumer.ts";
 * await using live = await startBroker();
 * await setUp(live, { retryDelaysSeconds: [0] });
 * ```
 */
export async function setUp(
  live: TestBroker,
  extra: { retryDelaysSeconds?: number[] } = {},
): Promise<void> {
  await live.client.createTopic("Trade");
  await live.client.putGroup("ops", { subscriptions: [{ topic: "Trade" }], ...extra });
}

/**
 * Publishes `n` messages to `Trade` (bodies 0 to n-1), one after another.
 *
 * @example
 * ```ts
 * import { startBroker } from "./_broker.ts";
 * import { publishMany, setUp } from "./_consumer.ts";
 * await using live = await startBroker();
 * await setUp(live);
 * const ids = await publishMany(live.client, 3);
 * ```
 */
export async function publishMany(client: EscrowClient, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await client.publish("Trade", { body: i })).messageId);
  return ids;
}

/**
 * What one round of a stop test sees: the ids it published, and a handler
 * that records each message it is given, waits while held, and notes those
 * it finished after `stop()` resolved.
 *
 * @example
 * ```ts
 * import { Consumer } from "../../src/client/mod.ts";
 * import { startBroker } from "./_broker.ts";
 * import { assertNothingStranded, setUp, StopProbe } from "./_consumer.ts";
 * await using live = await startBroker();
 * await setUp(live);
 * const probe = new StopProbe();
 * const consumer = new Consumer(live.client, "ops", probe.handler, { onError: probe.onError });
 * consumer.start();
 * await consumer.stop();
 * probe.stopped();
 * await assertNothingStranded(live, probe, { name: "stop right away" });
 * ```
 */
export class StopProbe {
  /** The ids published in the round (the test adds them). */
  readonly ids: string[] = [];
  /** The ids the handler was given. */
  readonly handled: Set<string> = new Set();
  /** The ids the handler finished after {@linkcode StopProbe.stopped}. */
  readonly late: string[] = [];
  /** What the consumer reported through `onError`. */
  readonly errors: unknown[] = [];
  #release = Promise.withResolvers<void>();
  #stopped = false;

  constructor() {
    this.#release.resolve();
  }

  /** The consumer's handler. */
  readonly handler = async (message: ReceivedMessage): Promise<void> => {
    this.handled.add(message.messageId);
    await this.#release.promise;
    if (this.#stopped) this.late.push(message.messageId);
  };

  /** The consumer's `onError`. */
  readonly onError = (error: unknown): void => {
    this.errors.push(error);
  };

  /** How many messages the handler was given. */
  readonly started = (): number => this.handled.size;

  /** Holds the handlers that start from now on (`true`), or lets all go (`false`). */
  readonly hold = (held: boolean): void => {
    if (held) this.#release = Promise.withResolvers<void>();
    else this.#release.resolve();
  };

  /** Marks `stop()` as resolved: a handler finishing later is late. */
  stopped(): void {
    this.#stopped = true;
  }
}

/**
 * After `stop()` resolved: no handler ran late, each handled message of group
 * `ops` is acked, and the rest are receivable again at once, not held in
 * flight until their 30 s visibility timeout (a short grace covers the
 * broker's noticing the cut poll or stream, far below the timeout). Acks the
 * leftovers, so the next round starts clean.
 *
 * @example
 * ```ts
 * import { startBroker } from "./_broker.ts";
 * import { assertNothingStranded, setUp, StopProbe } from "./_consumer.ts";
 * await using live = await startBroker();
 * await setUp(live);
 * await assertNothingStranded(live, new StopProbe(), { name: "idle" });
 * ```
 */
export async function assertNothingStranded(
  live: TestBroker,
  probe: StopProbe,
  options: {
    /** The round's name, leading every assertion message. */
    name: string;
    /** The largest batch a receive of the leftovers asks for. @default {the client's default} */
    max?: number;
  },
): Promise<void> {
  const what = `${options.name}:`;
  assertEquals(probe.late, [], `${what} no handler ran after stop() resolved`);
  for (const id of probe.handled) {
    const delivery = (await live.client.getMessage(id)).deliveries[0];
    assertEquals(delivery?.state, "acked", `${what} a handled message was acked by stop()`);
  }
  const left = probe.ids.filter((id) => !probe.handled.has(id));
  const back = new Map<string, string>();
  const receive = { waitSeconds: 0, ...(options.max === undefined ? {} : { max: options.max }) };
  await waitFor(
    async () => {
      for (const m of await live.client.receive("ops", receive)) {
        back.set(m.messageId, m.receiptHandle);
      }
      return [...back.keys()];
    },
    (got) => left.every((id) => got.includes(id)),
    {
      what: `${what} unhandled messages ${JSON.stringify(left)} receivable again`,
      timeoutMs: 2_000,
    },
  );
  assertEquals([...back.keys()].sort(), left.sort(), `${what} only unhandled ones come back`);
  if (back.size > 0) await live.client.ack("ops", [...back.values()]);
  assertEquals(probe.errors, [], what);
}

/** What a stop round's `run` is given besides the consumer: the probe, or more. */
export type Held = Pick<StopProbe, "hold" | "started">;

/** One way of stopping a consumer; `publish(n)` puts `n` messages in group `ops`. */
export interface StopRound<P extends Held = Held> {
  readonly name: string;
  run(consumer: Consumer, publish: (n: number) => Promise<void>, probe: P): Promise<void>;
}

/**
 * The stop rounds every transport takes: `n` messages published, then the
 * consumer started and stopped right away (`afterMs` undefined) or `afterMs`
 * later.
 *
 * @example
 * ```ts
 * import { stopAfter } from "./_consumer.ts";
 * const rounds = [stopAfter(3), stopAfter(3, 15)];
 * console.log(rounds.map((r) => r.name)); // ["stop right away", "stop 15 ms after start"]
 * ```
 */
export function stopAfter<P extends Held = Held>(n: number, afterMs?: number): StopRound<P> {
  return {
    name: afterMs === undefined ? "stop right away" : `stop ${afterMs} ms after start`,
    run: async (consumer, publish) => {
      await publish(n);
      consumer.start();
      if (afterMs !== undefined) await delay(afterMs);
      await consumer.stop();
    },
  };
}

/**
 * A stop round: handlers held, `n` messages published, the consumer started
 * and stopped once a handler runs; the handlers let go `releaseMs` into the
 * stop.
 *
 * @example
 * ```ts
 * import { stopWhileHandling } from "./_consumer.ts";
 * console.log(stopWhileHandling(3, 20).name); // "stop while a handler runs"
 * ```
 */
export function stopWhileHandling<P extends Held = Held>(
  n: number,
  releaseMs: number,
): StopRound<P> {
  return {
    name: "stop while a handler runs",
    run: async (consumer, publish, probe) => {
      probe.hold(true);
      await publish(n);
      consumer.start();
      await waitFor(probe.started, (started) => started >= 1, { what: "a handler to start" });
      const stopping = consumer.stop();
      await delay(releaseMs);
      probe.hold(false);
      await stopping;
    },
  };
}

/**
 * Runs a consumer of group `ops` whose handler throws "database is down" on
 * a message's first attempt, until a second attempt ran, then stops it;
 * returns the attempts with the time each began.
 *
 * @example
 * ```ts
 * import { startBroker } from "./_broker.ts";
 * import { consumeFailingOnce, publishMany, setUp } from "./_consumer.ts";
 * await using live = await startBroker();
 * await setUp(live, { retryDelaysSeconds: [0] });
 * await publishMany(live.client, 1);
 * const attempts = await consumeFailingOnce(live.client, { transport: "stream" });
 * console.log(attempts.map((a) => a.attempt)); // [1, 2]
 * ```
 */
export async function consumeFailingOnce(
  client: EscrowClient,
  options: ConsumerOptions,
): Promise<{ attempt: number; at: number }[]> {
  const attempts: { attempt: number; at: number }[] = [];
  const consumer = new Consumer(client, "ops", (message) => {
    attempts.push({ attempt: message.attempt, at: Date.now() });
    if (message.attempt === 1) throw new Error("database is down");
  }, { onError: (e) => console.error(e), ...options });
  consumer.start();
  await waitFor(() => attempts.length, (n) => n === 2, { what: "a second attempt" });
  await consumer.stop();
  return attempts;
}

/**
 * Asserts that message `id`'s delivery to `ops` was nacked on attempt 1 with
 * the handler's error and acked on attempt 2.
 *
 * @example
 * ```ts
 * import { startBroker } from "./_broker.ts";
 * import { assertAckedAfterNack, consumeFailingOnce, publishMany, setUp } from "./_consumer.ts";
 * await using live = await startBroker();
 * await setUp(live, { retryDelaysSeconds: [0] });
 * const [id] = await publishMany(live.client, 1);
 * await consumeFailingOnce(live.client, {});
 * await assertAckedAfterNack(live, id!);
 * ```
 */
export async function assertAckedAfterNack(live: TestBroker, id: string): Promise<void> {
  const delivery = (await live.client.getMessage(id)).deliveries[0];
  assertEquals(delivery?.state, "acked");
  assertEquals(delivery?.attempts.map((a) => [a.attempt, a.error]), [
    [1, "nack: database is down"],
    [2, undefined],
  ]);
}

/** What {@linkcode consumeSlowly} saw. */
export interface SlowRun {
  /** The ids handled, in the order the handlers finished. */
  readonly handled: string[];
  /** The most handlers that ran at once. */
  readonly maxActive: number;
  /** What the consumer reported through `onError`. */
  readonly errors: unknown[];
  /** The consumer's transport once all were handled, before it stopped. */
  readonly via: Consumer["via"];
}

/**
 * Runs a consumer of group `ops` whose handler takes `handlerMs` per
 * message, until `n` messages were handled, then stops it.
 *
 * @example
 * ```ts
 * import { startBroker } from "./_broker.ts";
 * import { consumeSlowly, publishMany, setUp } from "./_consumer.ts";
 * await using live = await startBroker();
 * await setUp(live);
 * await publishMany(live.client, 4);
 * const run = await consumeSlowly(live.client, 4, { handlerMs: 50, concurrency: 2 });
 * console.log(run.maxActive); // 2
 * ```
 */
export async function consumeSlowly(
  client: EscrowClient,
  n: number,
  { handlerMs, ...options }: ConsumerOptions & { handlerMs: number },
): Promise<SlowRun> {
  let active = 0;
  let maxActive = 0;
  const handled: string[] = [];
  const errors: unknown[] = [];
  const consumer = new Consumer(client, "ops", async (message) => {
    active++;
    maxActive = Math.max(maxActive, active);
    await delay(handlerMs);
    handled.push(message.messageId);
    active--;
  }, { ...options, onError: (e) => errors.push(e) });
  consumer.start();
  await waitFor(() => handled.length, (count) => count === n, { what: `${n} messages handled` });
  const via = consumer.via;
  await consumer.stop();
  return { handled, maxActive, errors, via };
}

/**
 * Asserts that group `ops` acked `acked` messages and has none in flight or
 * waiting for a retry.
 *
 * @example
 * ```ts
 * import { startBroker } from "./_broker.ts";
 * import { assertAllAcked, setUp } from "./_consumer.ts";
 * await using live = await startBroker();
 * await setUp(live);
 * await assertAllAcked(live, 0);
 * ```
 */
export async function assertAllAcked(live: TestBroker, acked: number): Promise<void> {
  const stats = await live.client.getGroup("ops");
  assertEquals([stats.acked, stats.inFlight, stats.retrying], [acked, 0, 0]);
}
