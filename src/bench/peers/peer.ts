/**
 * Choosing the peer broker measured beside Escrow: NATS JetStream when the
 * options allow it (`--peer nats`, or by default) and its `nats-server` can
 * be run; otherwise none, with the line the report prints saying why, so a
 * machine without NATS still runs the benchmark.
 *
 * @module
 */
import type { BenchOptions } from "../options.ts";
import { natsServerVersion } from "./nats_server.ts";

/** The peer broker: its name for the report and its binary. */
export interface Peer {
  readonly name: string;
  readonly binary: string;
}

/** The chosen peer (if any) and the report's line about it. */
export interface PeerChoiceOutcome {
  readonly peer?: Peer;
  readonly note: string;
}

/**
 * The peer `options` ask for, or none when `--no-peer` is given or
 * `options.natsServer` cannot be run; `versionOf` asks the binary its version.
 *
 * @example
 * ```ts
 * import { resolvePeer } from "./peer.ts";
 * const outcome = resolvePeer({ peer: "auto", natsServer: "/nowhere/nats-server" });
 * console.log(outcome.peer, outcome.note.includes("skipped")); // undefined true
 * ```
 */
export function resolvePeer(
  options: Pick<BenchOptions, "peer" | "natsServer">,
  versionOf: (binary: string) => string | undefined = natsServerVersion,
): PeerChoiceOutcome {
  if (options.peer === "none") return { note: "Peer: none (--no-peer)" };
  const version = versionOf(options.natsServer);
  if (version === undefined) {
    return {
      note: `Peer: NATS skipped, ${options.natsServer} cannot be run (apt-get install ` +
        `nats-server, or set ESCROW_BENCH_NATS_SERVER); Escrow alone`,
    };
  }
  const peer = { name: `NATS JetStream ${version}`, binary: options.natsServer };
  return { peer, note: `Peer: ${peer.name} (nats-server -js, file storage), same run` };
}
