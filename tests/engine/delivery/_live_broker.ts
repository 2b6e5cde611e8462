/**
 * A broker running for real in the test process: a temp KV file, its jobs
 * and push pumps started, and optionally its HTTP app served on 127.0.0.1.
 * Disposing stops everything and removes the folder.
 *
 * @module
 */
import { join } from "@std/path/join";
import { Broker } from "../../../src/engine/broker.ts";
import { createApp } from "../../../src/http/app.ts";

/** A started broker over a temp KV file. */
export interface LiveBroker extends AsyncDisposable {
  readonly kv: Deno.Kv;
  readonly broker: Broker;
  /** Base URL of the served HTTP API (no trailing slash), when `serve` was asked for. */
  readonly url: string;
}

/** Options of {@linkcode openLiveBroker}. */
export interface LiveBrokerOptions {
  /** Serve the HTTP app on 127.0.0.1, port 0. @default {false} */
  readonly serve?: boolean;
  /** Runs before `start()`, e.g. to create topics and groups. */
  readonly setUp?: (broker: Broker) => Promise<void>;
}

/**
 * Opens a broker on a fresh KV file with `Broker.open` and starts it.
 *
 * @example
 * ```ts
 * import { openLiveBroker } from "./_live_broker.ts";
 * await using live = await openLiveBroker();
 * await live.broker.topics.create("Orders");
 * ```
 */
export async function openLiveBroker(options: LiveBrokerOptions = {}): Promise<LiveBroker> {
  const dir = await Deno.makeTempDir({ prefix: "escrow_delivery_" });
  const kv = await Deno.openKv(join(dir, "escrow.kv"));
  const broker = await Broker.open(kv);
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  const dispose = async () => {
    await server?.shutdown();
    await broker.stop();
    kv.close();
    await Deno.remove(dir, { recursive: true });
  };
  try {
    await options.setUp?.(broker);
    await broker.start();
    if (options.serve) {
      server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        createApp(broker).fetch,
      );
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    kv,
    broker,
    url: server ? `http://127.0.0.1:${server.addr.port}` : "",
    [Symbol.asyncDispose]: dispose,
  };
}
