/**
 * What the SDK tests run against: the shared served broker (a temp KV file,
 * jobs and push pumps started, its HTTP app on 127.0.0.1) with an
 * {@linkcode EscrowClient} for it; a port nothing listens on; polling with a
 * deadline.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { EscrowClient, type EscrowClientOptions } from "../../src/client/mod.ts";
import type { AppEnv } from "../../src/http/router.ts";
import { LIVE, serveBroker, type ServedBrokerFixture } from "../_support/broker.ts";

/** A started broker served on 127.0.0.1, with a client. */
export interface TestBroker extends ServedBrokerFixture {
  readonly client: EscrowClient;
}

/** Options of {@linkcode startBroker}. */
export interface StartBrokerOptions {
  /** Options of the client built for the broker. @default {{ retryDelayMs: 10 }} */
  readonly client?: EscrowClientOptions;
  /** The app's authentication middleware. @default {undefined} */
  readonly auth?: MiddlewareHandler<AppEnv>;
}

/**
 * Serves a live broker ({@linkcode LIVE}: a fresh KV file, started) and
 * builds a client for it.
 *
 * @example
 * ```ts
 * import { startBroker } from "./_broker.ts";
 * await using live = await startBroker();
 * await live.client.createTopic("Trade");
 * ```
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<TestBroker> {
  const live = await serveBroker({ ...LIVE, app: options.auth ? { auth: options.auth } : {} });
  return { ...live, client: new EscrowClient(live.url, { retryDelayMs: 10, ...options.client }) };
}

/** Polls until a condition holds (the suite's shared helper). */
export { waitFor } from "../_process.ts";

/**
 * A port on 127.0.0.1 that nothing listens on (bound, then released).
 *
 * @example
 * ```ts
 * import { closedPort } from "./_broker.ts";
 * const url = `http://127.0.0.1:${closedPort()}`;
 * ```
 */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
