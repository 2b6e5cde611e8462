/**
 * A server under test as its own process, whichever it is (Escrow's broker,
 * `nats-server`): spawned on a fresh data folder, ready once a line of its
 * output names the address it listens on, sampled from `/proc` (CPU per
 * thread, memory, the machine's ticks) the same way for every server, and
 * stopped with SIGTERM (so a `--cpu-prof` profile is written), SIGKILL after
 * a grace, and its folder removed. An interrupt of the bench kills it and
 * removes the folder too.
 *
 * @module
 */
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

const KEPT_OUTPUT_CHARS = 8_000;

/** CPU time and memory of a server at one moment. */
export interface BrokerSample extends MemoryUse {
  /** User plus system CPU time since the process started, in µs. */
  readonly cpuMicros: number;
  /** The same per thread name. */
  readonly threadCpuMicros: Readonly<Record<string, number>>;
  /** The whole machine's CPU ticks, to tell how loaded all cores were. */
  readonly machine: MachineTicks;
}

/** How to start a server process. */
export interface ServerSpawn {
  /** What the server is called in errors (`the broker`, `nats-server`). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  /** The folder the server keeps its data in; removed when it stops. */
  readonly dataDir: string;
  /** The base URL a line of output announces, or undefined for any other line. */
  readonly listening: (line: string) => string | undefined;
  /** Give up when no listening line appeared by then. */
  readonly startTimeoutMs: number;
}

/**
 * Sends `signal` to `child`, ignoring a child that has already exited.
 *
 * @example
 * ```ts
 * import { signalQuietly } from "./server_process.ts";
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

/**
 * A running server process; `stop()` (or disposal) ends it and deletes its data.
 *
 * @example
 * ```ts ignore
 * import { ServerProcess } from "./server_process.ts";
 * const dataDir = await Deno.makeTempDir();
 * await using server = await ServerProcess.spawn({
 *   name: "nats-server", command: "nats-server", args: ["-js", "-sd", dataDir, "-p", "-1"],
 *   dataDir, startTimeoutMs: 15_000,
 *   listening: (line) => /on (\S+:\d+)/.exec(line)?.[1],
 * });
 * console.log(server.sample().rssMb);
 * ```
 */
export class ServerProcess implements AsyncDisposable {
  /** The address it announced. */
  readonly url: string;
  /** Process id, for `/proc`. */
  readonly pid: number;
  /** The data folder (removed by `stop()`). */
  readonly dataDir: string;
  readonly #child: Deno.ChildProcess;
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
    this.dataDir = dataDir;
    this.#child = child;
    this.#output = output;
    this.#drained = drained;
  }

  /** Starts the server and resolves once it announced its address. */
  static async spawn(spec: ServerSpawn): Promise<ServerProcess> {
    const { name, dataDir, startTimeoutMs } = spec;
    const child = new Deno.Command(spec.command, {
      args: [...spec.args],
      ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
      ...(spec.env !== undefined ? { env: spec.env } : {}),
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
    const listening = Promise.withResolvers<string>();
    const keep = (line: string) => {
      output.text = (output.text + line + "\n").slice(-KEPT_OUTPUT_CHARS);
      const url = spec.listening(line);
      if (url !== undefined) listening.resolve(url);
    };
    const drained = Promise.all([forEachLine(child.stdout, keep), forEachLine(child.stderr, keep)])
      .catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Cannot start ${name}: no listening line in ${startTimeoutMs} ms`)),
        startTimeoutMs,
      );
      child.status.then((status) =>
        reject(new Error(`Cannot start ${name}: it exited with code ${status.code}`))
      );
    });
    failed.catch(() => {});
    try {
      const url = await Promise.race([listening.promise, failed]);
      return new ServerProcess(url, child, dataDir, output, drained);
    } catch (error) {
      await new ServerProcess("", child, dataDir, output, drained).stop();
      throw new Error(`${(error as Error).message}\n--- ${name} output ---\n${output.text}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The last few KB the server wrote to stdout and stderr. */
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

  /** SIGTERM, SIGKILL after `graceMs`, then removes the data folder. */
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
      await Deno.remove(this.dataDir, { recursive: true }).catch(() => {});
    }
  }

  /** Same as {@linkcode stop}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
