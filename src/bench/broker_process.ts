/**
 * The broker under test as its own process, in its real configuration: its
 * `main.ts` run by `deno run --allow-all` from the folder holding it (so its
 * own `deno.json` applies), on a KV file in a fresh temporary folder,
 * listening on 127.0.0.1 and a port the OS picks. It is a
 * {@linkcode ServerProcess}: sampled, stopped and cleaned up as every server
 * of the bench is.
 *
 * @module
 */
import { dirname } from "@std/path";
import { ServerProcess } from "./server_process.ts";

export { type BrokerSample, signalQuietly } from "./server_process.ts";

const LISTENING = /Escrow listening on http:\/\/([^\s/]+):(\d+)\//;

/** Options of {@linkcode BrokerProcess.start}. */
export interface BrokerStartOptions {
  /** The broker's entry point. */
  readonly mainPath: string;
  /** Extra `deno run` flags, e.g. `--cpu-prof`. @default {[]} */
  readonly denoFlags?: readonly string[];
  /** Give up when no listening line appeared by then. @default {30000} */
  readonly startTimeoutMs?: number;
}

/** A running broker process; `stop()` (or disposal) ends it and deletes its data. */
export type BrokerProcess = ServerProcess;

/**
 * Starts the broker on a fresh KV file; resolves once it listens.
 *
 * @example
 * ```ts ignore
 * import { BrokerProcess } from "./broker_process.ts";
 * await using broker = await BrokerProcess.start({ mainPath: "/work/main/main.ts" });
 * const before = broker.sample();
 * await fetch(`${broker.url}/healthz`).then((res) => res.body?.cancel());
 * console.log(broker.sample().cpuMicros - before.cpuMicros);
 * ```
 */
export const BrokerProcess = {
  async start(options: BrokerStartOptions): Promise<BrokerProcess> {
    const { mainPath, denoFlags = [], startTimeoutMs = 30_000 } = options;
    const dataDir = await Deno.makeTempDir({ prefix: "escrow-bench-" });
    return await ServerProcess.spawn({
      name: "the broker",
      command: Deno.execPath(),
      args: ["run", "--allow-all", ...denoFlags, mainPath],
      cwd: dirname(mainPath),
      env: {
        PORT: "0",
        HOSTNAME: "127.0.0.1",
        ESCROW_KV_PATH: `${dataDir}/escrow.kv`,
        NO_COLOR: "1",
      },
      dataDir,
      listening: (line) => {
        const match = LISTENING.exec(line);
        return match ? `http://${match[1]}:${match[2]}` : undefined;
      },
      startTimeoutMs,
    });
  },
};
