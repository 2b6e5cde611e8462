/**
 * NATS JetStream as the benchmark's peer broker: `nats-server -js -sd <dir>
 * -p -1 -a 127.0.0.1` started as its own process on a fresh temporary folder
 * (file storage) and a port the OS picks (`-p -1`, read back from its log),
 * sampled from `/proc` exactly as Escrow's broker is, and stopped with its
 * folder removed. Whether the binary is there, and its version, is asked
 * before any phase runs, so a machine without it skips the peer.
 *
 * @module
 */
import type { BrokerSample } from "../broker_process.ts";
import { signalQuietly } from "../broker_process.ts";
import { onInterrupt } from "../interrupt.ts";
import { forEachLine } from "../lines.ts";
import { readCpuMicros, readMachineTicks, readMemory, readThreadCpuMicros } from "../proc_stats.ts";

const KEPT_OUTPUT_CHARS = 8_000;

/**
 * The version in `nats-server --version` output (`nats-server: v2.9.10`), or
 * `undefined` when it holds none.
 *
 * @example
 * ```ts
 * import { parseNatsVersion } from "./nats_server.ts";
 * console.log(parseNatsVersion("nats-server: v2.9.10\n")); // "2.9.10"
 * ```
 */
export function parseNatsVersion(output: string): string | undefined {
  return /^nats-server:\s+v?(\d+\.\d+\.\d+\S*)/m.exec(output)?.[1];
}

/**
 * The client address in a `nats-server` log line (`... Listening for client
 * connections on 127.0.0.1:43507`), as a `nats://` URL, or `undefined`.
 *
 * @example
 * ```ts
 * import { parseNatsListening } from "./nats_server.ts";
 * const line = "[7] 2026/12/02 00:22:49.988502 [INF] Listening for client connections on 127.0.0.1:43507";
 * console.log(parseNatsListening(line)); // "nats://127.0.0.1:43507"
 * ```
 */
export function parseNatsListening(line: string): string | undefined {
  const match = /Listening for client connections on ([^\s:]+):(\d+)/.exec(line);
  return match ? `nats://${match[1]}:${match[2]}` : undefined;
}

/**
 * The version of the `nats-server` at `binary`, or `undefined` when it cannot
 * be run (not installed) or does not say.
 *
 * @example
 * ```ts ignore
 * import { natsServerVersion } from "./nats_server.ts";
 * console.log(natsServerVersion("nats-server") ?? "not installed");
 * ```
 */
export function natsServerVersion(binary: string): string | undefined {
  try {
    const output = new Deno.Command(binary, { args: ["--version"], stdin: "null" }).outputSync();
    const decoder = new TextDecoder();
    return parseNatsVersion(decoder.decode(output.stdout) + decoder.decode(output.stderr));
  } catch {
    return undefined;
  }
}

/** Options of {@linkcode NatsServer.start}. */
export interface NatsStartOptions {
  /** The `nats-server` binary. @default {"nats-server"} */
  readonly binary?: string;
  /** Give up when no listening line appeared by then. @default {15000} */
  readonly startTimeoutMs?: number;
}

/**
 * A running `nats-server` with JetStream on file storage; `stop()` (or
 * disposal) ends it and deletes its store.
 *
 * @example
 * ```ts ignore
 * import { NatsServer } from "./nats_server.ts";
 * await using server = await NatsServer.start();
 * console.log(server.url, server.sample().rssMb);
 * ```
 */
export class NatsServer implements AsyncDisposable {
  /** The client address, `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** Process id, for `/proc`. */
  readonly pid: number;
  /** The store folder (removed by `stop()`). */
  readonly storeDir: string;
  readonly #child: Deno.ChildProcess;
  readonly #output: { text: string };
  readonly #drained: Promise<unknown>;
  #stopped: Promise<void> | undefined;

  private constructor(
    url: string,
    child: Deno.ChildProcess,
    storeDir: string,
    output: { text: string },
    drained: Promise<unknown>,
  ) {
    this.url = url;
    this.pid = child.pid;
    this.storeDir = storeDir;
    this.#child = child;
    this.#output = output;
    this.#drained = drained;
  }

  /** Starts the server on a fresh store folder and resolves once it listens. */
  static async start(options: NatsStartOptions = {}): Promise<NatsServer> {
    const { binary = "nats-server", startTimeoutMs = 15_000 } = options;
    const storeDir = await Deno.makeTempDir({ prefix: "escrow-bench-nats-" });
    const child = new Deno.Command(binary, {
      args: ["-js", "-sd", storeDir, "-p", "-1", "-a", "127.0.0.1"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const forget = onInterrupt(() => {
      signalQuietly(child, "SIGKILL");
      Deno.removeSync(storeDir, { recursive: true });
    });
    child.status.finally(forget);
    const output = { text: "" };
    const listening = Promise.withResolvers<string>();
    const keep = (line: string) => {
      output.text = (output.text + line + "\n").slice(-KEPT_OUTPUT_CHARS);
      const url = parseNatsListening(line);
      if (url) listening.resolve(url);
    };
    const drained = Promise.all([forEachLine(child.stdout, keep), forEachLine(child.stderr, keep)])
      .catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`Cannot start nats-server: no listening line in ${startTimeoutMs} ms`)),
        startTimeoutMs,
      );
      child.status.then((status) =>
        reject(new Error(`Cannot start nats-server: it exited with code ${status.code}`))
      );
    });
    failed.catch(() => {});
    try {
      const url = await Promise.race([listening.promise, failed]);
      return new NatsServer(url, child, storeDir, output, drained);
    } catch (error) {
      await new NatsServer("", child, storeDir, output, drained).stop();
      throw new Error(`${(error as Error).message}\n--- nats-server output ---\n${output.text}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The last few KB the server logged. */
  get output(): string {
    return this.#output.text;
  }

  /** CPU time so far, resident and peak memory, now (the same figures as Escrow's broker). */
  sample(): BrokerSample {
    return {
      cpuMicros: readCpuMicros(this.pid),
      threadCpuMicros: readThreadCpuMicros(this.pid),
      machine: readMachineTicks(),
      ...readMemory(this.pid),
    };
  }

  /** SIGTERM, SIGKILL after `graceMs`, then removes the store folder. */
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
      await Deno.remove(this.storeDir, { recursive: true }).catch(() => {});
    }
  }

  /** Same as {@linkcode stop}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
