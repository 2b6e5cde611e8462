/**
 * Phase 2, e2e: the five pull groups of the fund company's scenario, one
 * consumer process each, then N messages published as in phase 1, once per
 * way of talking to Escrow (SDK, plain HTTP). The figure is the time from the
 * first publish until every group has acked every message it should get;
 * deliveries are checked per message id.
 *
 * @module
 */
import { type FanOutOutcome, runFanOut } from "../fan_out.ts";
import { cpuBreakdown, metricPrefix, type Metrics, type PhaseEnv } from "../phase.ts";
import type { ClientKind } from "../protocol.ts";
import { FAN_OUT_GROUPS } from "../workload.ts";

/**
 * A fan-out's figures as metrics named `${prefix}.name`.
 *
 * @example
 * ```ts ignore
 * import { fanOutMetrics } from "./e2e.ts";
 * declare const outcome: import("../fan_out.ts").FanOutOutcome;
 * console.log(fanOutMetrics("e2e", outcome)["e2e.seconds"]);
 * ```
 */
export function fanOutMetrics(prefix: string, outcome: FanOutOutcome): Metrics {
  return {
    [`${prefix}.seconds`]: outcome.seconds,
    [`${prefix}.msgPerSec`]: outcome.messages / outcome.seconds,
    [`${prefix}.deliveriesPerSec`]: outcome.deliveriesPerSec,
    [`${prefix}.publishMsgPerSec`]: outcome.publishMsgPerSec,
    [`${prefix}.cpuUsPerMsg`]: outcome.cpuMicrosPerMessage,
    [`${prefix}.clientCpuUsPerMsg`]: outcome.clientCpuMicrosPerMessage,
    [`${prefix}.peakRssMb`]: outcome.peakRssMb,
    [`${prefix}.endRssMb`]: outcome.endRssMb,
    [`${prefix}.lost`]: outcome.lost,
    [`${prefix}.duplicates`]: outcome.duplicates,
    [`${prefix}.wrong`]: outcome.wrong,
    [`${prefix}.errors`]: outcome.publishErrors + outcome.consumerErrors,
    [`${prefix}.timedOut`]: outcome.timedOut ? 1 : 0,
    [`${prefix}.otherCpuPct`]: outcome.otherCpuPercent,
    ...cpuBreakdown(prefix, outcome.brokerBefore, outcome.brokerAfter, outcome.messages),
  };
}

/**
 * Runs the e2e phase once, its clients talking to Escrow the `client` way.
 *
 * @example
 * ```ts ignore
 * import { runE2ePhase } from "./e2e.ts";
 * declare const env: import("../phase.ts").PhaseEnv;
 * console.log((await runE2ePhase(env, "http"))["e2e.seconds"]);
 * ```
 */
export async function runE2ePhase(env: PhaseEnv, client: ClientKind): Promise<Metrics> {
  const { options } = env;
  const outcome = await runFanOut(env, {
    groups: FAN_OUT_GROUPS,
    messages: options.n,
    mode: { kind: "closed", publishers: options.publishers, inflight: options.inflight },
    recordLatency: false,
    client,
  });
  const prefix = metricPrefix(client, "e2e");
  for (const sample of outcome.errorSamples.slice(0, 3)) env.log(`${prefix} error: ${sample}`);
  return fanOutMetrics(prefix, outcome);
}
