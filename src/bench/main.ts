/**
 * Escrow's benchmark: `deno run --allow-all src/bench/main.ts [--quick]
 * [--runs R] [--phases ...] [--json]`. Each phase starts the broker as its
 * own process in its real configuration (a KV file in a fresh temporary
 * folder) and drives it over HTTP from separate client processes on
 * 127.0.0.1; the report gives the median of the runs against each target,
 * failure counts over all runs, and the machine the figures come from.
 * The publish, e2e and latency phases run once per way a user talks to
 * Escrow (`--clients`: the SDK, batching publishes and streaming to its
 * consumers, and plain HTTP, one request per message), and a table sets the
 * two side by side with the same verification below.
 * With a peer (`--peer nats`, the default when `nats-server` is installed;
 * `--no-peer` for none), each publish, e2e, latency and tx phase is run again
 * right after against NATS JetStream, and a second table sets both side by
 * side with issue 10's target ratios. Progress goes to stderr, the report to stdout.
 *
 * @module
 */
import { installInterruptHandlers } from "./interrupt.ts";
import { describeMachine, machineLine } from "./machine.ts";
import {
  type BenchOptions,
  parseBenchOptions,
  type PhaseName,
  USAGE,
  wantsHelp,
} from "./options.ts";
import {
  clientComparisons,
  compareRows,
  formatComparison,
  natsCheckRows,
  natsComparisons,
} from "./peers/compare.ts";
import { NATS_PEAK_RSS_KEYS, NATS_PHASES } from "./peers/nats_phases.ts";
import { type Peer, resolvePeer } from "./peers/peer.ts";
import type { Metrics, PhaseEnv } from "./phase.ts";
import type { ClientKind } from "./protocol.ts";
import { runE2ePhase } from "./phases/e2e.ts";
import { runCurvePhase } from "./phases/curve.ts";
import { runGrowthPhase } from "./phases/growth.ts";
import { runLatencyPhase } from "./phases/latency.ts";
import { runPublishPhase } from "./phases/publish.ts";
import { runTxPhase } from "./phases/tx.ts";
import { formatTable, loadCheckRows, renderRows, reportRows, threadNamesOf } from "./report.ts";
import { median } from "./stats.ts";

const PHASE_RUNNERS: Record<PhaseName, (env: PhaseEnv, client: ClientKind) => Promise<Metrics>> = {
  publish: runPublishPhase,
  e2e: runE2ePhase,
  latency: runLatencyPhase,
  tx: runTxPhase,
  growth: runGrowthPhase,
  curve: runCurvePhase,
};

/** Phases run once per way of talking to Escrow; the others use plain HTTP only. */
const PER_CLIENT: ReadonlySet<PhaseName> = new Set(["publish", "e2e", "latency"]);

/** Phases whose broker peak memory makes the headline peak RSS (both ways of talking to it). */
const PEAK_RSS_KEYS = ["publish", "e2e", "latency", "tx"].flatMap((phase) => [
  `${phase}.peakRssMb`,
  `sdk.${phase}.peakRssMb`,
]);

/** Runs every phase `options.runs` times; returns each run's metrics and the failures. */
async function runAll(options: BenchOptions, env: PhaseEnv, peer?: Peer): Promise<{
  runs: Metrics[];
  failures: string[];
}> {
  const runs: Metrics[] = [];
  const failures: string[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const metrics: Metrics = {};
    for (const phase of options.phases) {
      const clients: readonly ClientKind[] = PER_CLIENT.has(phase) ? options.clients : ["http"];
      for (const client of clients) {
        const what = PER_CLIENT.has(phase) ? `${phase} (${client})` : phase;
        const started = performance.now();
        env.log(`run ${run}/${options.runs}: ${what}`);
        try {
          Object.assign(metrics, await PHASE_RUNNERS[phase](env, client));
        } catch (error) {
          const message = `run ${run}, ${what}: ${error instanceof Error ? error.message : error}`;
          failures.push(message);
          env.log(`FAILED ${message}`);
        }
        env.log(
          `run ${run}/${options.runs}: ${what} took ${
            ((performance.now() - started) / 1000).toFixed(1)
          } s`,
        );
      }
      const peerPhase = NATS_PHASES[phase];
      if (peer === undefined || peerPhase === undefined) continue;
      const peerStarted = performance.now();
      env.log(`run ${run}/${options.runs}: ${phase} on ${peer.name}`);
      try {
        Object.assign(metrics, await peerPhase(env, peer.binary));
      } catch (error) {
        const message = `run ${run}, nats ${phase}: ${
          error instanceof Error ? error.message : error
        }`;
        failures.push(message);
        env.log(`FAILED ${message}`);
      }
      env.log(
        `run ${run}/${options.runs}: ${phase} on NATS took ${
          ((performance.now() - peerStarted) / 1000).toFixed(1)
        } s`,
      );
    }
    const peaks = PEAK_RSS_KEYS.map((key) => metrics[key]).filter((v) => v !== undefined);
    if (peaks.length > 0) metrics["overall.peakRssMb"] = Math.max(...peaks);
    const peerPeaks = NATS_PEAK_RSS_KEYS.map((key) => metrics[key]).filter((v) => v !== undefined);
    if (peerPeaks.length > 0) metrics["nats.overall.peakRssMb"] = Math.max(...peerPeaks);
    runs.push(metrics);
  }
  return { runs, failures };
}

/** Each metric's median over the runs that have it. */
function mediansOf(runs: readonly Metrics[]): Metrics {
  const keys = [...new Set(runs.flatMap((run) => Object.keys(run)))].sort();
  return Object.fromEntries(
    keys.map((key) => [key, median(runs.map((run) => run[key] ?? NaN))]),
  );
}

if (import.meta.main) {
  if (wantsHelp(Deno.args)) {
    console.log(USAGE);
    Deno.exit(0);
  }
  let options: BenchOptions;
  try {
    options = parseBenchOptions(Deno.args, Deno.env.toObject());
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
  installInterruptHandlers();
  const machine = describeMachine(options.mainPath);
  const env: PhaseEnv = { options, log: (message) => console.error(`[bench] ${message}`) };
  env.log(machineLine(machine));
  const { peer, note: peerNote } = resolvePeer(options);
  env.log(peerNote);
  const started = performance.now();
  const { runs, failures } = await runAll(options, env, peer);
  const rows = renderRows([
    ...reportRows(options, threadNamesOf(runs)),
    ...loadCheckRows("sdk", "SDK"),
    ...(peer ? natsCheckRows() : []),
  ], runs);
  const twoWays = compareRows(clientComparisons(options.rate), runs, "HTTP");
  const comparisons = peer
    ? options.clients.map((client) => ({
      client,
      rows: compareRows(natsComparisons(options.rate, client), runs),
    }))
    : [];
  const seconds = (performance.now() - started) / 1000;
  const report = JSON.stringify(
    {
      machine,
      options: { ...options, brokerFlags: [...options.brokerFlags] },
      peer: peer?.name ?? null,
      seconds,
      medians: mediansOf(runs),
      runs,
      rows,
      twoWays,
      comparisons,
      failures,
    },
    (_, value) => (typeof value === "number" && !Number.isFinite(value) ? null : value),
    2,
  );
  if (options.jsonFile) await Deno.writeTextFile(options.jsonFile, report + "\n");
  if (options.json) {
    console.log(report);
  } else {
    console.log(`Machine: ${machineLine(machine)}`);
    console.log(
      `Workload: N=${options.n}, tx N=${options.txN}, ${options.publishers} publishers × ${options.inflight} in flight, clients ${
        options.clients.join(" and ")
      }, ${options.bodyBytes} B bodies, ${options.rate} msg/s × ${options.latencySeconds} s latency, growth N=${options.growthN}, backlog ${options.backlogN}${
        options.phases.includes("curve")
          ? `, curve ${options.curveN} messages in ${options.curveGroups} groups`
          : ""
      }; ${options.runs} run(s), medians; ${seconds.toFixed(0)} s in all`,
    );
    console.log(peerNote);
    console.log();
    console.log(formatTable(rows));
    if (twoWays.length > 0) {
      console.log();
      console.log(formatComparison("", twoWays, {
        title: "Escrow two ways, same run: SDK (batched publishes, streaming consumers) vs " +
          "plain HTTP (one request per message); ratio = SDK / HTTP",
        left: "SDK",
        right: "HTTP",
      }));
    }
    for (const { client, rows: comparison } of comparisons) {
      if (comparison.length === 0) continue;
      console.log();
      console.log(formatComparison(peer!.name, comparison, {
        left: client === "sdk" ? "Escrow SDK" : "Escrow HTTP",
      }));
    }
    for (const failure of failures) console.log(`FAILED ${failure}`);
  }
  Deno.exit(failures.length > 0 ? 1 : 0);
}
