/**
 * What the demo runs on: a real broker on a temporary KV file, served on
 * 127.0.0.1, a client for it, narration, and the checks that decide the
 * demo's exit code.
 *
 * @module
 */
import { join } from "@std/path";
import { EscrowClient } from "../client/mod.ts";
import { Broker } from "../engine/broker.ts";
import { createApp } from "../http/app.ts";

/** A running broker for the demo. */
export interface DemoBroker extends AsyncDisposable {
  readonly url: string;
  readonly client: EscrowClient;
}

/**
 * Starts a broker on a temporary KV file, served on 127.0.0.1 (a free port).
 *
 * @example
 * ```ts
 * import { startDemoBroker } from "./harness.ts";
 * await using broker = await startDemoBroker();
 * await broker.client.createTopic("Trade");
 * ```
 */
export async function startDemoBroker(): Promise<DemoBroker> {
  const dir = await Deno.makeTempDir({ prefix: "escrow-demo-" });
  const kv = await Deno.openKv(join(dir, "escrow.kv"));
  const broker = await Broker.open(kv);
  await broker.start();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    createApp(broker).fetch,
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    client: new EscrowClient(url),
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await broker.stop();
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The narration and the checks of one run. */
export class Narrator {
  readonly failures: string[] = [];
  readonly #quiet: boolean;

  /** Creates a narrator; a quiet one only collects the checks. */
  constructor(options: { quiet?: boolean } = {}) {
    this.#quiet = options.quiet ?? false;
  }

  /** A heading. */
  section(title: string): void {
    this.#print(`\n== ${title} ==`);
  }

  /** A step that happened. */
  step(text: string): void {
    this.#print(`  → ${text}`);
  }

  /** A check: printed with ✓ or ✗, and remembered when it fails. */
  check(ok: boolean, text: string): void {
    this.#print(`  ${ok ? "✓" : "✗"} ${text}`);
    if (!ok) this.failures.push(text);
  }

  #print(line: string): void {
    if (!this.#quiet) console.log(line);
  }
}

/**
 * Polls `probe` until it returns true or `timeoutMs` passes.
 *
 * @example
 * ```ts
 * import { until } from "./harness.ts";
 * await until(() => true, 1_000);
 * ```
 */
export async function until(
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return await probe();
}
