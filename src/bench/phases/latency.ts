/**
 * Phase 3, latency: the five groups and their consumers, and one publisher
 * in an open loop (a fixed rate whatever the answers) with its send time in
 * each body, once per way of talking to Escrow (SDK, plain HTTP); every
 * delivery's time from the publish call to the consumer's receipt, over all
 * groups, gives p50, p99 and max.
 *
 * @module
 */
import { type FanOutOutcome, runFanOut } from "../fan_out.ts";
import { metricPrefix, type Metrics, type PhaseEnv } from "../phase.ts";
import { fanOutMetrics } from "./e2e.ts";
import type { ClientKind } from "../protocol.ts";
import { FAN_OUT_GROUPS } from "../workload.ts";

/**
 * A latency load's figures as metrics named `${prefix}.name`: the fan-out's
 * (verification, CPU, memory) and the publish → receipt and publish →
 * confirmed latencies.
 *
 * @example
 * ```ts ignore
 * import { latencyMetrics } from "./latency.ts";
 * declare const outcome: import("../fan_out.ts").FanOutOutcome;
 * console.log(latencyMetrics("latency", outcome)["latency.p99Ms"]);
 * ```
 */
export function latencyMetrics(prefix: string, outcome: FanOutOutcome): Metrics {
  return {
    ...fanOutMetrics(prefix, outcome),
    [`${prefix}.p50Ms`]: outcome.latency?.p50 ?? NaN,
    [`${prefix}.p99Ms`]: outcome.latency?.p99 ?? NaN,
    [`${prefix}.maxMs`]: outcome.latency?.max ?? NaN,
    [`${prefix}.deliveries`]: outcome.latency?.count ?? 0,
    [`${prefix}.confirmP50Ms`]: outcome.confirmP50Ms,
    [`${prefix}.confirmP99Ms`]: outcome.confirmP99Ms,
    [`${prefix}.lateSends`]: outcome.lateSends,
  };
}

/**
 * Runs the latency phase once, its clients talking to Escrow the `client` way.
 *
 * @example
 * ```ts ignore
 * import { runLatencyPhase } from "./latency.ts";
 * declare const env: import("../phase.ts").PhaseEnv;
 * console.log((await runLatencyPhase(env, "http"))["latency.p99Ms"]);
 * ```
 */
export async function runLatencyPhase(env: PhaseEnv, client: ClientKind): Promise<Metrics> {
  const { options } = env;
  const messages = Math.round(options.rate * options.latencySeconds);
  const outcome = await runFanOut(env, {
    groups: FAN_OUT_GROUPS,
    messages,
    mode: { kind: "open", ratePerSecond: options.rate },
    recordLatency: true,
    client,
  });
  const prefix = metricPrefix(client, "latency");
  for (const sample of outcome.errorSamples.slice(0, 3)) env.log(`${prefix} error: ${sample}`);
  return latencyMetrics(prefix, outcome);
}
