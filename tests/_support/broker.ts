/**
 * The one way tests build a broker: on which KV (`:memory:`, a temp file, a
 * path, or a handle another broker also uses), with which clock (the real
 * one, a `FakeTime`'s `Date.now`, or a manual clock the test moves), in which
 * scheduler mode, with its jobs and push pumps started or not; optionally
 * with its HTTP app served by `Deno.serve` on 127.0.0.1. Disposing stops the
 * broker, then closes and removes whatever was opened for it.
 *
 * @module
 */
import { join } from "@std/path/join";
import type { FakeTime } from "@std/testing/time";
import { Broker, type BrokerOptions } from "../../src/engine/broker.ts";
import type { SchedulerMode } from "../../src/engine/jobs/scheduler.ts";
import { type AppOptions, createApp } from "../../src/http/app.ts";

/**
 * Which KV the broker runs on: a fresh in-memory one, a fresh file in a temp
 * folder (removed on dispose), a file at `path` (left in place), or an open
 * `handle` (left open: whoever opened it closes it).
 */
export type KvChoice = ":memory:" | "temp-file" | { readonly path: string } | {
  readonly handle: Deno.Kv;
};

/**
 * Where the broker's time comes from: the real `Date.now` (which a `FakeTime`
 * installed by the test replaces, but cannot be advanced here), a `FakeTime`
 * whose `tick()` advances it, or a manual clock starting at `manual` ms.
 */
export type ClockChoice = "real" | { readonly fake: FakeTime } | { readonly manual: number };

/** Options of {@linkcode openBroker}; the other broker options are passed through. */
export interface OpenBrokerOptions extends Omit<BrokerOptions, "clock" | "schedulerMode"> {
  /** The KV. @default {":memory:"} */
  readonly kv?: KvChoice;
  /** The clock. @default {"real"} */
  readonly clock?: ClockChoice;
  /** How due jobs are noticed ("auto" detects KV queues, as `main.ts` does). @default {"sweep"} */
  readonly schedulerMode?: SchedulerMode | "auto";
  /** Call `broker.start()` (jobs and push pumps run by themselves). @default {false} */
  readonly start?: boolean;
  /** Runs before `start()`, e.g. to create topics and groups. @default {undefined} */
  readonly setUp?: (broker: Broker) => Promise<void>;
}

/**
 * A broker as a running server has it: a temp KV file, the scheduler mode
 * detected, jobs and push pumps started.
 *
 * @example
 * ```ts
 * import { LIVE, openBroker } from "./broker.ts";
 * await using live = await openBroker(LIVE);
 * await live.broker.topics.create("Orders");
 * ```
 */
export const LIVE: OpenBrokerOptions = { kv: "temp-file", schedulerMode: "auto", start: true };

/** A broker built by {@linkcode openBroker}. */
export interface BrokerFixture extends AsyncDisposable {
  readonly kv: Deno.Kv;
  readonly broker: Broker;
  /** The broker's clock, in epoch ms. */
  now(): number;
  /** Moves the clock on by `ms`; throws on the real clock. */
  advance(ms: number): void;
}

/**
 * Opens a broker. With `start` it runs its jobs by itself; without, tests
 * run them with `broker.scheduler.runDue()`.
 *
 * @param options Its KV, clock, scheduler mode, whether to start, and the broker's own options.
 * @returns The broker with its KV and clock; disposing stops it and closes what was opened.
 *
 * @example
 * ```ts
 * import { openBroker } from "./broker.ts";
 * await using t = await openBroker({ clock: { manual: Date.UTC(2030, 0, 1) } });
 * await t.broker.topics.create("Orders");
 * t.advance(1_000);
 * ```
 */
export async function openBroker(options: OpenBrokerOptions = {}): Promise<BrokerFixture> {
  const {
    kv: kvChoice = ":memory:",
    clock: clockChoice = "real",
    schedulerMode = "sweep",
    start = false,
    setUp,
    ...brokerOptions
  } = options;
  const cleanup = new AsyncDisposableStack();
  try {
    const kv = await openKv(kvChoice, cleanup);
    const clock = clockOf(clockChoice);
    const broker = await Broker.open(kv, {
      ...brokerOptions,
      schedulerMode,
      ...(clock.owned ? { clock: clock.now } : {}),
    });
    // Stopped before its KV closes (the stack runs last in, first out).
    cleanup.defer(() => broker.stop());
    await setUp?.(broker);
    if (start) await broker.start();
    const owned = cleanup.move();
    return {
      kv,
      broker,
      now: clock.now,
      advance: clock.advance,
      [Symbol.asyncDispose]: () => owned.disposeAsync(),
    };
  } catch (error) {
    await cleanup.disposeAsync();
    throw error;
  }
}

/** Options of {@linkcode serveBroker}. */
export interface ServeBrokerOptions extends OpenBrokerOptions {
  /** Options of the served app (e.g. its auth middleware). @default {{}} */
  readonly app?: AppOptions;
}

/** A broker built by {@linkcode serveBroker}, its HTTP API listening on 127.0.0.1. */
export interface ServedBrokerFixture extends BrokerFixture {
  /** Base URL of the HTTP API, without a trailing slash. */
  readonly url: string;
  /** The port the OS picked. */
  readonly port: number;
}

/**
 * Opens a broker as {@linkcode openBroker} does (same defaults) and serves its
 * HTTP app with `Deno.serve` on 127.0.0.1, a port the OS picks. Disposing
 * shuts the server down first.
 *
 * @param options As for {@linkcode openBroker}, plus the app's options.
 * @returns The broker with its URL; disposing stops the server, then the broker.
 *
 * @example
 * ```ts
 * import { LIVE, serveBroker } from "./broker.ts";
 * await using live = await serveBroker(LIVE);
 * await fetch(`${live.url}/healthz`).then((res) => res.body?.cancel());
 * ```
 */
export async function serveBroker(options: ServeBrokerOptions = {}): Promise<ServedBrokerFixture> {
  const { app: appOptions = {}, ...brokerOptions } = options;
  const fixture = await openBroker(brokerOptions);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    createApp(fixture.broker, appOptions).fetch,
  );
  return {
    kv: fixture.kv,
    broker: fixture.broker,
    now: fixture.now,
    advance: fixture.advance,
    url: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await fixture[Symbol.asyncDispose]();
    },
  };
}

/** A KV file in a fresh temp folder. */
export interface TempKvFile extends AsyncDisposable {
  /** The file's path (not created until a KV is opened on it). */
  readonly path: string;
  /** The temp folder, removed with everything in it on dispose. */
  readonly dir: string;
}

/**
 * Makes a temp folder for a KV file; for brokers that share one file (as two
 * processes would), each opened with `{ kv: { path } }`.
 *
 * @param prefix Start of the folder's name. @default {"escrow_test_"}
 * @returns The file's path; disposing removes the folder.
 *
 * @example
 * ```ts
 * import { openBroker, tempKvFile } from "./broker.ts";
 * await using file = await tempKvFile();
 * await using a = await openBroker({ kv: { path: file.path } });
 * await using b = await openBroker({ kv: { path: file.path } });
 * ```
 */
export async function tempKvFile(prefix = "escrow_test_"): Promise<TempKvFile> {
  const dir = await Deno.makeTempDir({ prefix });
  return {
    path: join(dir, "escrow.kv"),
    dir,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Opens the KV chosen; what it opens is closed (and removed) by `cleanup`. */
async function openKv(choice: KvChoice, cleanup: AsyncDisposableStack): Promise<Deno.Kv> {
  if (typeof choice === "object" && "handle" in choice) return choice.handle;
  let path: string;
  if (choice === ":memory:") {
    path = ":memory:";
  } else if (choice === "temp-file") {
    path = cleanup.use(await tempKvFile()).path;
  } else {
    path = choice.path;
  }
  const kv = await Deno.openKv(path);
  cleanup.defer(() => kv.close());
  return kv;
}

/** The clock chosen: `owned` when the broker must be given it (the others read `Date.now`). */
function clockOf(choice: ClockChoice): Pick<BrokerFixture, "now" | "advance"> & { owned: boolean } {
  if (choice === "real") {
    return {
      owned: false,
      now: () => Date.now(),
      advance: () => {
        throw new TypeError("Cannot advance time: the real clock is in use");
      },
    };
  }
  if ("fake" in choice) {
    return { owned: false, now: () => Date.now(), advance: (ms) => choice.fake.tick(ms) };
  }
  let now = choice.manual;
  return {
    owned: true,
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}
