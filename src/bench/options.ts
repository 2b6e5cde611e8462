/**
 * The benchmark's command line and environment, read into one options
 * object with the defaults of a full or a `--quick` run.
 *
 * @module
 */
import { dirname } from "@std/path/dirname";
import { fromFileUrl } from "@std/path/from-file-url";
import { join } from "@std/path/join";
import type { ClientKind } from "./protocol.ts";

/**
 * The ways of talking to Escrow the publish, e2e and latency phases run
 * with, in the order they run: the SDK (batching publishes, streaming
 * consumers), then plain HTTP (one request per message).
 *
 * @example
 * ```ts
 * import { CLIENTS } from "./options.ts";
 * console.log(CLIENTS.join(",")); // "sdk,http"
 * ```
 */
export const CLIENTS: readonly ClientKind[] = ["sdk", "http"];

/**
 * The phases, in the order they run.
 *
 * @example
 * ```ts
 * import { PHASES } from "./options.ts";
 * console.log(PHASES.join(",")); // "publish,e2e,latency,tx,growth,curve"
 * ```
 */
export const PHASES = ["publish", "e2e", "latency", "tx", "growth", "curve"] as const;

/**
 * The phases a run without `--phases` runs: all but `curve`, whose
 * million-message backlog takes minutes of its own.
 *
 * @example
 * ```ts
 * import { DEFAULT_PHASES } from "./options.ts";
 * console.log(DEFAULT_PHASES.includes("curve")); // false
 * ```
 */
export const DEFAULT_PHASES: readonly PhaseName[] = ["publish", "e2e", "latency", "tx", "growth"];

/** One of {@linkcode PHASES}. */
export type PhaseName = typeof PHASES[number];

/** Everything a run is configured by. */
export interface BenchOptions {
  readonly quick: boolean;
  /** Print JSON instead of the table. */
  readonly json: boolean;
  /** Also write the JSON report to this file. */
  readonly jsonFile?: string;
  /** Runs of every phase; the report shows medians. */
  readonly runs: number;
  readonly phases: readonly PhaseName[];
  /** How the publish, e2e and latency phases' clients talk to Escrow (each is run). */
  readonly clients: readonly ClientKind[];
  /** Messages of the publish and fan-out phases. */
  readonly n: number;
  /** Transactions of the tx phase. */
  readonly txN: number;
  /** Messages of each growth fan-out. */
  readonly growthN: number;
  /** Group counts of the growth fan-outs. */
  readonly growthGroups: readonly number[];
  /** Messages left unconsumed in the backlog probe. */
  readonly backlogN: number;
  /** Messages received and acked from the backlog. */
  readonly backlogDrain: number;
  /** Messages of the backlog curve (phase `curve`). */
  readonly curveN: number;
  /** Groups of the backlog curve, none of them consumed. */
  readonly curveGroups: number;
  /** Publisher (and producer) processes. */
  readonly publishers: number;
  /** Requests in flight per publisher. */
  readonly inflight: number;
  /** Receive requests in flight per consumed group. */
  readonly receivers: number;
  /** Open-loop rate of the latency phase, in messages per second. */
  readonly rate: number;
  readonly latencySeconds: number;
  /** Size of each message body as JSON, in bytes. */
  readonly bodyBytes: number;
  /** Hard limit on one phase's traffic, in seconds. */
  readonly phaseTimeoutSeconds: number;
  /** The broker's entry point (`ESCROW_BENCH_MAIN`). */
  readonly mainPath: string;
  /** `deno run` flags for the broker: {@linkcode startTaskV8Flags} plus `ESCROW_BENCH_BROKER_FLAGS`. */
  readonly brokerFlags: readonly string[];
  /**
   * The peer measured after each phase in the same run: `nats` (`--peer nats`), `none`
   * (`--no-peer`), or `auto` (the default: NATS when `nats-server` can be run).
   */
  readonly peer: PeerChoice;
  /** The `nats-server` binary (`ESCROW_BENCH_NATS_SERVER`, default `nats-server` on PATH). */
  readonly natsServer: string;
}

/** Which peer broker to measure beside Escrow. */
export type PeerChoice = "auto" | "nats" | "none";

/**
 * The V8 flags of `deno task start` in the `deno.json` beside `mainPath`
 * (the broker the benchmark runs: this repository's, or another one's with
 * `ESCROW_BENCH_MAIN`), so that the broker is measured as it is started;
 * none when there is no such task.
 *
 * @example
 * ```ts
 * import { startTaskV8Flags } from "./options.ts";
 * console.log(startTaskV8Flags("/nowhere/main.ts")); // []
 * ```
 */
export function startTaskV8Flags(mainPath: string): string[] {
  let config: { tasks?: Record<string, string | { command?: string }> };
  try {
    config = JSON.parse(Deno.readTextFileSync(join(dirname(mainPath), "deno.json")));
  } catch {
    return [];
  }
  const task = config.tasks?.start;
  const command = typeof task === "string" ? task : task?.command ?? "";
  return command.split(/\s+/).filter((arg) => arg.startsWith("--v8-flags="));
}

/**
 * The usage text, printed for `--help` and after a bad option.
 *
 * @example
 * ```ts
 * import { USAGE } from "./options.ts";
 * console.log(USAGE.includes("--quick")); // true
 * ```
 */
export const USAGE = `deno run --allow-all src/bench/main.ts [options]

  --quick               a short run: small N, 3 s latency phase, 1 run
  --runs R              runs of each phase; medians are reported (default 3, quick 1)
  --phases LIST         comma-separated: ${PHASES.join(",")}
                        (default: ${DEFAULT_PHASES.join(",")}; curve runs only when named)
  --clients LIST        how publish, e2e and latency talk to Escrow, each run in turn:
                        sdk (EscrowClient: batched publishes, streaming Consumer) and
                        http (one plain request per message) (default: sdk,http)
  --n N                 messages of publish and fan-out phases (default 20000, quick 5000)
  --tx-n N              transactions of the tx phase (default N, quick 3000)
  --growth-n N          messages of each growth fan-out (default 5000, quick 2000)
  --growth-groups LIST  group counts of the growth fan-outs (default 1,5,20)
  --backlog N           unconsumed messages of the backlog probe (default 200000, quick 10000)
  --backlog-drain N     messages received from the backlog (default 5000, quick 2000)
  --curve-n N           curve phase: messages of the backlog (default 1000000, quick 50000)
  --curve-groups G      curve phase: groups nobody consumes (default 100, quick 20)
  --publishers P        publisher and producer processes (default 4)
  --inflight K          requests in flight per publisher (default 64)
  --receivers K         receives in flight per consumed group (default 2)
  --rate R              latency phase: messages per second (default 1000)
  --latency-seconds S   latency phase: duration (default 10, quick 3)
  --body-bytes B        message body size (default 1024)
  --timeout S           hard limit per phase (default 300, quick 60)
  --json                print JSON instead of the table
  --json-file PATH      also write the JSON report to PATH
  --peer nats           also run the publish, e2e, latency and tx workloads against NATS
                        JetStream (nats-server -js, file storage) after each of those phases,
                        and report both side by side (default: on when nats-server is installed)
  --no-peer             Escrow alone

Environment: ESCROW_BENCH_MAIN=/path/to/main.ts picks the broker (default: this repo's);
ESCROW_BENCH_BROKER_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" adds deno flags to the broker;
ESCROW_BENCH_NATS_SERVER=/path/to/nats-server picks the NATS peer's binary (default: on PATH).`;

/**
 * Reads `args` and `env` into options; throws a `RangeError` naming a bad one.
 *
 * @example
 * ```ts
 * import { parseBenchOptions } from "./options.ts";
 * const options = parseBenchOptions(["--quick", "--phases", "publish"], {});
 * console.log(options.n, options.runs, options.phases); // 5000 1 ["publish"]
 * ```
 */
export function parseBenchOptions(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): BenchOptions {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--")) throw new RangeError(`Cannot read option: current value is ${arg}`);
    const [name, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
    if (name === "quick" || name === "json" || name === "help" || name === "no-peer") {
      flags.add(name);
    } else if (inline !== undefined) values.set(name, inline);
    else if (i + 1 < args.length) values.set(name, args[++i]!);
    else throw new RangeError(`Cannot read option --${name}: current value is missing`);
  }
  const known = [
    "runs",
    "phases",
    "clients",
    "n",
    "tx-n",
    "growth-n",
    "growth-groups",
    "backlog",
    "backlog-drain",
    "curve-n",
    "curve-groups",
    "publishers",
    "inflight",
    "receivers",
    "rate",
    "latency-seconds",
    "body-bytes",
    "timeout",
    "json-file",
    "peer",
  ];
  for (const name of values.keys()) {
    if (!known.includes(name)) throw new RangeError(`Cannot read option: unknown --${name}`);
  }
  const quick = flags.has("quick");
  const mainPath = env.ESCROW_BENCH_MAIN || fromFileUrl(new URL("../../main.ts", import.meta.url));
  const count = (name: string, fallback: number, min = 1) => {
    const text = values.get(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) {
      throw new RangeError(`Cannot read --${name}: current value is ${text}`);
    }
    return value;
  };
  const list = (name: string) => values.get(name)?.split(",").map((s) => s.trim()).filter(Boolean);
  const phases = list("phases") ?? [...DEFAULT_PHASES];
  for (const phase of phases) {
    if (!(PHASES as readonly string[]).includes(phase)) {
      throw new RangeError(`Cannot read --phases: unknown phase ${phase}`);
    }
  }
  const clients = list("clients") ?? [...CLIENTS];
  for (const client of clients) {
    if (!(CLIENTS as readonly string[]).includes(client)) {
      throw new RangeError(`Cannot read --clients: unknown client ${client} (sdk or http)`);
    }
  }
  if (clients.length === 0) throw new RangeError("Cannot read --clients: current value is empty");
  const peerValue = values.get("peer");
  if (peerValue !== undefined && peerValue !== "nats") {
    throw new RangeError(`Cannot read --peer: current value is ${peerValue} (the peer is nats)`);
  }
  if (peerValue !== undefined && flags.has("no-peer")) {
    throw new RangeError("Cannot read --peer: current value is nats, and --no-peer is given too");
  }
  const peer: PeerChoice = flags.has("no-peer") ? "none" : peerValue === "nats" ? "nats" : "auto";
  const n = Math.floor(count("n", quick ? 5_000 : 20_000));
  const growthGroups = (list("growth-groups") ?? ["1", "5", "20"]).map((text) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1 || value > 100) {
      throw new RangeError(`Cannot read --growth-groups: current value is ${text}`);
    }
    return value;
  });
  return {
    quick,
    json: flags.has("json"),
    ...(values.has("json-file") ? { jsonFile: values.get("json-file")! } : {}),
    runs: Math.floor(count("runs", quick ? 1 : 3)),
    phases: PHASES.filter((phase) => phases.includes(phase)),
    clients: CLIENTS.filter((client) => clients.includes(client)),
    n,
    txN: Math.floor(count("tx-n", quick ? 3_000 : n)),
    growthN: Math.floor(count("growth-n", quick ? 2_000 : 5_000)),
    growthGroups,
    backlogN: Math.floor(count("backlog", quick ? 10_000 : 200_000)),
    backlogDrain: Math.floor(count("backlog-drain", quick ? 2_000 : 5_000)),
    curveN: Math.floor(count("curve-n", quick ? 50_000 : 1_000_000, 100)),
    curveGroups: Math.floor(count("curve-groups", quick ? 20 : 100)),
    publishers: Math.floor(count("publishers", 4)),
    inflight: Math.floor(count("inflight", 64)),
    receivers: Math.floor(count("receivers", 2)),
    rate: count("rate", 1_000),
    latencySeconds: count("latency-seconds", quick ? 3 : 10, 0.1),
    bodyBytes: Math.floor(count("body-bytes", 1_024, 64)),
    phaseTimeoutSeconds: count("timeout", quick ? 60 : 300),
    mainPath,
    brokerFlags: [
      ...startTaskV8Flags(mainPath),
      ...(env.ESCROW_BENCH_BROKER_FLAGS ?? "").split(/\s+/),
    ].filter(Boolean),
    peer,
    natsServer: env.ESCROW_BENCH_NATS_SERVER || "nats-server",
  };
}

/**
 * Whether `args` ask for the usage text.
 *
 * @example
 * ```ts
 * import { wantsHelp } from "./options.ts";
 * console.log(wantsHelp(["--help"])); // true
 * ```
 */
export function wantsHelp(args: readonly string[]): boolean {
  return args.includes("--help") || args.includes("-h");
}
