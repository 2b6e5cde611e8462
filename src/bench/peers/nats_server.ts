/**
 * NATS JetStream as the benchmark's peer broker: `nats-server -js -sd <dir>
 * -p -1 -a 127.0.0.1` started as its own process on a fresh temporary folder
 * (file storage) and a port the OS picks (`-p -1`, read back from its log): a
 * {@linkcode ServerProcess}, sampled from `/proc` exactly as Escrow's broker
 * is, and stopped with its folder removed. Whether the binary is there, and its version, is asked
 * before any phase runs, so a machine without it skips the peer.
 *
 * @module
 */
import { ServerProcess } from "../server_process.ts";

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

/** A running `nats-server`; its `dataDir` is the JetStream store, removed by `stop()`. */
export type NatsServer = ServerProcess;

/**
 * Starts `nats-server` with JetStream on a fresh store folder; resolves once
 * it listens.
 *
 * @example
 * ```ts ignore
 * import { NatsServer } from "./nats_server.ts";
 * await using server = await NatsServer.start();
 * console.log(server.url, server.sample().rssMb);
 * ```
 */
export const NatsServer = {
  async start(options: NatsStartOptions = {}): Promise<NatsServer> {
    const { binary = "nats-server", startTimeoutMs = 15_000 } = options;
    const dataDir = await Deno.makeTempDir({ prefix: "escrow-bench-nats-" });
    return await ServerProcess.spawn({
      name: "nats-server",
      command: binary,
      args: ["-js", "-sd", dataDir, "-p", "-1", "-a", "127.0.0.1"],
      dataDir,
      listening: parseNatsListening,
      startTimeoutMs,
    });
  },
};
