/**
 * The broker under test as its own process, in its real configuration: its
 * `main.ts` run by `deno run --allow-all` from the folder holding it (so its
 * own `deno.json` applies), on a KV file in a fresh temporary folder,
 * listening on 127.0.0.1 and a port the OS picks. It can be asked for its CPU
 * time and memory, and stopping it removes the folder.
 *
 * @module
 */
import { dirname } from "@std/path";
import { onInterrupt } from "./interrupt.ts";
import { forEachLine } from "./lines.ts";
import {
  type MachineTicks,
  type MemoryUse,
  readCpuMicros,
  readMachineTicks,
  readMemory,
  readThreadCpuMicros,
} from "./proc_stats.ts";

const LISTENING = /Escrow listening on http:\/\/([^\s/]+):(\d+)\//;
const KEPT_OUTPUT_CHARS = 8_000;

/** Options of {@linkcode BrokerProcess.start}. */
export interface BrokerStartOptions {
  /** The broker's entry point. */
  readonly mainPath: string;
  /** Extra `deno run` flags, e.g. `--cpu-prof`. @default {[]} */
  readonly denoFlags?: readonly string[];
  /** Give up when no listening line appeared by then. @default {30000} */
  readonly startTimeoutMs?: number;
}

/** CPU time and memory of the broker at one moment. */
export interface BrokerSample extends MemoryUse {
  /** User plus system CPU time since the process started, in µs. */
  readonly cpuMicros: number;
  /** The same per thread name. */
  readonly threadCpuMicros: Readonly<Record<string, number>>;
  /** The whole machine's CPU ticks, to tell how loaded all cores were. */
  readonly machine: MachineTicks;
}

/**
 * A running broker process; `stop()` (or disposal) ends it and deletes its data.
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
export class BrokerProcess implements AsyncDisposable {
  /** Base URL of the HTTP API, without a trailing slash. */
  readonly url: string;
  /** Process id, for `/proc`. */
  readonly pid: number;
  readonly #child: Deno.ChildProcess;
  readonly #dataDir: string;
  readonly #output: { text: string };
  readonly #drained: Promise<unknown>;
  #stopped: Promise<void> | undefined;

  private constructor(
    url: string,
    child: Deno.ChildProcess,
    dataDir: string,
    output: { text: string },
    drained: Promise<unknown>,
  ) {
    this.url = url;
    this.pid = child.pid;
    this.#child = child;
    this.#dataDir = dataDir;
    this.#output = output;
    this.#drained = drained;
  }

  /** Starts the broker on a fresh KV file and resolves once it listens. */
  static async start(options: BrokerStartOptions): Promise<BrokerProcess> {
    const { mainPath, denoFlags = [], startTimeoutMs = 30_000 } = options;
    const dataDir = await Deno.makeTempDir({ prefix: "escrow-bench-" });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", ...denoFlags, mainPath],
      cwd: dirname(mainPath),
      env: {
        PORT: "0",
        HOSTNAME: "127.0.0.1",
        ESCROW_KV_PATH: `${dataDir}/escrow.kv`,
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const forget = onInterrupt(() => {
      signalQuietly(child, "SIGKILL");
      Deno.removeSync(dataDir, { recursive: true });
    });
    child.status.finally(forget);
    const output = { text: "" };
    const keep = (line: string) => {
      output.text = (output.text + line + "\n").slice(-KEPT_OUTPUT_CHARS);
    };
    const listening = Promise.withResolvers<string>();
    const drained = Promise.all([
      forEachLine(child.stdout, (line) => {
        keep(line);
        const match = LISTENING.exec(line);
        if (match) listening.resolve(`http://${match[1]}:${match[2]}`);
      }),
      forEachLine(child.stderr, keep),
    ]).catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`Cannot start the broker: no listening line in ${startTimeoutMs} ms`)),
        startTimeoutMs,
      );
      child.status.then((status) =>
        reject(new Error(`Cannot start the broker: it exited with code ${status.code}`))
      );
    });
    failed.catch(() => {});
    try {
      const url = await Promise.race([listening.promise, failed]);
      return new BrokerProcess(url, child, dataDir, output, drained);
    } catch (error) {
      await new BrokerProcess("", child, dataDir, output, drained).stop();
      throw new Error(`${(error as Error).message}\n--- broker output ---\n${output.text}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The last few KB the broker wrote to stdout and stderr. */
  get output(): string {
    return this.#output.text;
  }

  /** CPU time so far, resident and peak memory, now. */
  sample(): BrokerSample {
    return {
      cpuMicros: readCpuMicros(this.pid),
      threadCpuMicros: readThreadCpuMicros(this.pid),
      machine: readMachineTicks(),
      ...readMemory(this.pid),
    };
  }

  /**
   * Asks the broker to shut down (SIGTERM, so a `--cpu-prof` profile is
   * written), kills it after `graceMs`, and removes its data folder.
   */
  stop(graceMs = 5_000): Promise<void> {
    this.#stopped ??= this.#stop(graceMs);
    return this.#stopped;
  }

  async #stop(graceMs: number): Promise<void> {
    signalQuietly(this.#child, "SIGTERM");
    const timer = setTimeout(() => signalQuietly(this.#child, "SIGKILL"), graceMs);
    try {
      await this.#child.status;
      await this.#drained;
    } finally {
      clearTimeout(timer);
      await Deno.remove(this.#dataDir, { recursive: true }).catch(() => {});
    }
  }

  /** Same as {@linkcode stop}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Sends `signal` to `child`, ignoring a child that has already exited.
 *
 * @example
 * ```ts
 * import { signalQuietly } from "./broker_process.ts";
 * const child = new Deno.Command("true").spawn();
 * await child.status;
 * signalQuietly(child, "SIGKILL"); // no error
 * ```
 */
export function signalQuietly(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
}
