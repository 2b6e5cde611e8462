/**
 * Phase 1, publish: N normal messages (tags uniform, 1 KiB bodies) from
 * several publisher processes with many sends in flight each, on a fresh
 * broker with no consumer group, once per way of talking to Escrow (the
 * SDK, whose `publish()` batches, and plain HTTP, one request per message).
 * The figure is confirmed messages per second: the confirmations that came
 * back over the time from the first send to the last one. It is the fan-out
 * with no groups, so the NATS peer's publish phase is the same load.
 *
 * @module
 */
import { type FanOutOutcome, runFanOut } from "../fan_out.ts";
import { cpuBreakdown, metricPrefix, type Metrics, type PhaseEnv } from "../phase.ts";
import type { ClientKind } from "../protocol.ts";

/**
 * A publish load's figures as metrics named `${prefix}.name`.
 *
 * @example
 * ```ts ignore
 * import { publishMetrics } from "./publish.ts";
 * declare const outcome: import("../fan_out.ts").FanOutOutcome;
 * console.log(publishMetrics("publish", outcome)["publish.msgPerSec"]);
 * ```
 */
export function publishMetrics(prefix: string, outcome: FanOutOutcome): Metrics {
  return {
    [`${prefix}.msgPerSec`]: outcome.publishMsgPerSec,
    [`${prefix}.confirmed`]: outcome.confirmed,
    [`${prefix}.errors`]: outcome.publishErrors,
    [`${prefix}.confirmP50Ms`]: outcome.confirmP50Ms,
    [`${prefix}.confirmP99Ms`]: outcome.confirmP99Ms,
    [`${prefix}.timedOut`]: outcome.timedOut ? 1 : 0,
    [`${prefix}.cpuUsPerMsg`]: outcome.cpuMicrosPerMessage,
    [`${prefix}.clientCpuUsPerMsg`]: outcome.clientCpuMicrosPerMessage,
    [`${prefix}.peakRssMb`]: outcome.peakRssMb,
    [`${prefix}.endRssMb`]: outcome.endRssMb,
    [`${prefix}.otherCpuPct`]: outcome.otherCpuPercent,
    ...cpuBreakdown(prefix, outcome.brokerBefore, outcome.brokerAfter, outcome.confirmed),
  };
}

/**
 * Runs the publish phase once, its clients talking to Escrow the `client` way.
 *
 * @example
 * ```ts ignore
 * import { runPublishPhase } from "./publish.ts";
 * declare const env: import("../phase.ts").PhaseEnv;
 * const metrics = await runPublishPhase(env, "sdk");
 * console.log(metrics["sdk.publish.msgPerSec"]);
 * ```
 */
export async function runPublishPhase(env: PhaseEnv, client: ClientKind): Promise<Metrics> {
  const { options } = env;
  const outcome = await runFanOut(env, {
    groups: [],
    messages: options.n,
    mode: { kind: "closed", publishers: options.publishers, inflight: options.inflight },
    recordLatency: false,
    client,
  });
  const prefix = metricPrefix(client, "publish");
  for (const sample of outcome.errorSamples.slice(0, 3)) env.log(`${prefix} error: ${sample}`);
  return publishMetrics(prefix, outcome);
}
