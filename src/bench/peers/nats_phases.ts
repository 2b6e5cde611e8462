/**
 * The NATS JetStream peer's phases: the publish, e2e (fan-out), latency and
 * tx phases' workloads run against a fresh `nats-server` right after
 * Escrow's, in the same run, their metrics named `nats.<phase>.<figure>` like
 * Escrow's `<phase>.<figure>`. NATS has no transactions: the tx phase's peer
 * is JetStream's de-duplicated publish (`Nats-Msg-Id`), with a consumer of
 * every message as in Escrow's tx phase. The growth phase has no peer.
 *
 * @module
 */
import type { PhaseName } from "../options.ts";
import type { Metrics, PhaseEnv } from "../phase.ts";
import { fanOutMetrics } from "../phases/e2e.ts";
import { latencyMetrics } from "../phases/latency.ts";
import { publishMetrics } from "../phases/publish.ts";
import { FAN_OUT_GROUPS } from "../workload.ts";
import { runNatsLoad } from "./nats_load.ts";

/** The prefix of every NATS metric. */
const PREFIX = "nats";

/** A peer phase: runs against the `nats-server` at `binary`. */
export type NatsPhase = (env: PhaseEnv, binary: string) => Promise<Metrics>;

/** Logs the first few failures a load saw. */
function logErrors(env: PhaseEnv, phase: string, samples: readonly string[]): void {
  for (const sample of samples.slice(0, 3)) env.log(`nats ${phase} error: ${sample}`);
}

async function runNatsPublish(env: PhaseEnv, binary: string): Promise<Metrics> {
  const { options } = env;
  const outcome = await runNatsLoad(env, binary, {
    groups: [],
    messages: options.n,
    mode: { kind: "closed", publishers: options.publishers, inflight: options.inflight },
    recordLatency: false,
    dedup: false,
  });
  logErrors(env, "publish", outcome.errorSamples);
  return publishMetrics(`${PREFIX}.publish`, outcome);
}

async function runNatsE2e(env: PhaseEnv, binary: string): Promise<Metrics> {
  const { options } = env;
  const outcome = await runNatsLoad(env, binary, {
    groups: FAN_OUT_GROUPS,
    messages: options.n,
    mode: { kind: "closed", publishers: options.publishers, inflight: options.inflight },
    recordLatency: false,
    dedup: false,
  });
  logErrors(env, "e2e", outcome.errorSamples);
  return fanOutMetrics(`${PREFIX}.e2e`, outcome);
}

async function runNatsLatency(env: PhaseEnv, binary: string): Promise<Metrics> {
  const { options } = env;
  const messages = Math.round(options.rate * options.latencySeconds);
  const outcome = await runNatsLoad(env, binary, {
    groups: FAN_OUT_GROUPS,
    messages,
    mode: { kind: "open", ratePerSecond: options.rate },
    recordLatency: true,
    dedup: false,
  });
  logErrors(env, "latency", outcome.errorSamples);
  return latencyMetrics(`${PREFIX}.latency`, outcome);
}

async function runNatsTx(env: PhaseEnv, binary: string): Promise<Metrics> {
  const { options } = env;
  const outcome = await runNatsLoad(env, binary, {
    groups: [{ name: "all", tags: "*" }],
    messages: options.txN,
    mode: { kind: "closed", publishers: options.publishers, inflight: options.inflight },
    recordLatency: false,
    dedup: true,
  });
  logErrors(env, "tx", outcome.errorSamples);
  const p = `${PREFIX}.tx`;
  return {
    [`${p}.msgPerSec`]: outcome.publishMsgPerSec,
    [`${p}.confirmed`]: outcome.confirmed,
    [`${p}.missing`]: outcome.lost,
    [`${p}.duplicates`]: outcome.duplicates,
    [`${p}.wrong`]: outcome.wrong,
    [`${p}.errors`]: outcome.publishErrors + outcome.consumerErrors,
    [`${p}.timedOut`]: outcome.timedOut ? 1 : 0,
    [`${p}.allDeliveredSeconds`]: outcome.seconds,
    [`${p}.cpuUsPerMsg`]: outcome.cpuMicrosPerMessage,
    [`${p}.peakRssMb`]: outcome.peakRssMb,
  };
}

/**
 * The peer phase of each Escrow phase that has one.
 *
 * @example
 * ```ts
 * import { NATS_PHASES } from "./nats_phases.ts";
 * console.log(Object.keys(NATS_PHASES).join(",")); // "publish,e2e,latency,tx"
 * ```
 */
export const NATS_PHASES: Readonly<Partial<Record<PhaseName, NatsPhase>>> = {
  publish: runNatsPublish,
  e2e: runNatsE2e,
  latency: runNatsLatency,
  tx: runNatsTx,
};

/**
 * The peer's phases whose peak memory makes its headline peak RSS, as
 * Escrow's `PEAK_RSS_KEYS` do.
 *
 * @example
 * ```ts
 * import { NATS_PEAK_RSS_KEYS } from "./nats_phases.ts";
 * console.log(NATS_PEAK_RSS_KEYS[0]); // "nats.publish.peakRssMb"
 * ```
 */
export const NATS_PEAK_RSS_KEYS: readonly string[] = ["publish", "e2e", "latency", "tx"].map((
  phase,
) => `${PREFIX}.${phase}.peakRssMb`);
