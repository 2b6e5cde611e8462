/**
 * Phase 3, latency: the five groups and their consumers, and one publisher
 * in an open loop (a fixed rate whatever the answers) with its send time in
 * each body; every delivery's time from the publish call to the consumer's
 * receipt, over all groups, gives p50, p99 and max.
 *
 * @module
 */
import { runFanOut } from "../fan_out.ts";
import { cpuBreakdown, type Metrics, type PhaseEnv } from "../phase.ts";
import { FAN_OUT_GROUPS } from "../workload.ts";

/**
 * Runs the latency phase once.
 *
 * @example
 * ```ts ignore
 * import { runLatencyPhase } from "./latency.ts";
 * declare const env: import("../phase.ts").PhaseEnv;
 * console.log((await runLatencyPhase(env))["latency.p99Ms"]);
 * ```
 */
export async function runLatencyPhase(env: PhaseEnv): Promise<Metrics> {
  const { options } = env;
  const messages = Math.round(options.rate * options.latencySeconds);
  const outcome = await runFanOut(env, {
    groups: FAN_OUT_GROUPS,
    messages,
    mode: { kind: "open", ratePerSecond: options.rate },
    recordLatency: true,
  });
  for (const sample of outcome.errorSamples.slice(0, 3)) env.log(`latency error: ${sample}`);
  return {
    "latency.p50Ms": outcome.latency?.p50 ?? NaN,
    "latency.p99Ms": outcome.latency?.p99 ?? NaN,
    "latency.maxMs": outcome.latency?.max ?? NaN,
    "latency.deliveries": outcome.latency?.count ?? 0,
    "latency.publishMsgPerSec": outcome.publishMsgPerSec,
    "latency.confirmP50Ms": outcome.confirmP50Ms,
    "latency.confirmP99Ms": outcome.confirmP99Ms,
    "latency.lateSends": outcome.lateSends,
    "latency.cpuUsPerMsg": outcome.cpuMicrosPerMessage,
    "latency.peakRssMb": outcome.peakRssMb,
    "latency.lost": outcome.lost,
    "latency.duplicates": outcome.duplicates,
    "latency.wrong": outcome.wrong,
    "latency.errors": outcome.publishErrors + outcome.consumerErrors,
    "latency.timedOut": outcome.timedOut ? 1 : 0,
    "latency.otherCpuPct": outcome.otherCpuPercent,
    ...cpuBreakdown("latency", outcome.brokerBefore, outcome.brokerAfter, messages),
  };
}
