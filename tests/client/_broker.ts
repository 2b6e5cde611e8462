/**
 * What the SDK tests run against: a real broker on a temp KV file with its
 * jobs and push pumps started, its HTTP app served by `Deno.serve` on
 * 127.0.0.1 (a port the OS picks), an {@linkcode EscrowClient} for it, and
 * small helpers to serve a handler locally and to poll with a deadline.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { join } from "@std/path/join";
import { EscrowClient, type EscrowClientOptions } from "../../src/client/mod.ts";
import { Broker } from "../../src/engine/broker.ts";
import { createApp } from "../../src/http/app.ts";
import type { AppEnv } from "../../src/http/router.ts";

/** A started broker served on 127.0.0.1, with a client. */
export interface TestBroker extends AsyncDisposable {
  readonly kv: Deno.Kv;
  readonly broker: Broker;
  /** Base URL of the HTTP API, without a trailing slash. */
  readonly url: string;
  readonly port: number;
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
 * Opens a broker on a fresh KV file, starts it and serves its HTTP API.
 *
 * @example
 * ```ts
 * import { startBroker } from "./_broker.ts";
 * await using live = await startBroker();
 * await live.client.createTopic("Trade");
 * ```
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<TestBroker> {
  const dir = await Deno.makeTempDir({ prefix: "escrow_client_" });
  const kv = await Deno.openKv(join(dir, "escrow.kv"));
  const broker = await Broker.open(kv);
  await broker.start();
  const app = createApp(broker, options.auth ? { auth: options.auth } : {});
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    kv,
    broker,
    url,
    port: server.addr.port,
    client: new EscrowClient(url, { retryDelayMs: 10, ...options.client }),
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await broker.stop();
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A handler served on 127.0.0.1. */
export interface LocalServer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` followed by the path given. */
  readonly url: string;
  readonly port: number;
}

/**
 * Serves `handler` with `Deno.serve` on 127.0.0.1 and a port the OS picks.
 *
 * @example
 * ```ts
 * import { serveLocal } from "./_broker.ts";
 * await using hook = serveLocal(() => new Response(null, { status: 204 }), "/hook");
 * console.log(hook.url); // http://127.0.0.1:PORT/hook
 * ```
 */
export function serveLocal(
  handler: (request: Request) => Response | Promise<Response>,
  path = "",
): LocalServer {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}${path}`,
    port: server.addr.port,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
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
