/**
 * Phase 1, publish: N normal messages (tags uniform, 1 KiB bodies) from
 * several publisher processes with many requests in flight each, on a fresh
 * broker with no consumer group. The figure is confirmed messages per
 * second: the 201s that came back over the time from the first send to the
 * last 201.
 *
 * @module
 */
import { createTopic } from "../broker_api.ts";
import { Crew } from "../crew.ts";
import {
  cpuBreakdown,
  cpuMicrosPerMessage,
  type Metrics,
  otherCpuPercent,
  type PhaseEnv,
  ratePerSecond,
  startBroker,
} from "../phase.ts";
import type { PublisherResult } from "../protocol.ts";
import { readCpuMicros } from "../proc_stats.ts";
import { median } from "../stats.ts";
import { senderConfigs, TOPIC } from "../workload.ts";

/**
 * Runs the publish phase once.
 *
 * @example
 * ```ts ignore
 * import { runPublishPhase } from "./publish.ts";
 * declare const env: import("../phase.ts").PhaseEnv;
 * const metrics = await runPublishPhase(env);
 * console.log(metrics["publish.msgPerSec"]);
 * ```
 */
export async function runPublishPhase(env: PhaseEnv): Promise<Metrics> {
  const { options } = env;
  const deadlineMs = options.phaseTimeoutSeconds * 1000;
  await using broker = await startBroker(env);
  await createTopic(broker.url, TOPIC);
  await using crew = new Crew();
  const publishers = crew.spawn(
    "publisher",
    senderConfigs("publisher", {
      url: broker.url,
      total: options.n,
      processes: options.publishers,
      inflight: options.inflight,
      bodyBytes: options.bodyBytes,
      deadlineMs,
    }),
  );
  await crew.ready();
  const before = broker.sample();
  const ownCpuBefore = readCpuMicros("self");
  await crew.send(publishers, { type: "go" });
  const results = await crew.results<PublisherResult>(publishers, deadlineMs + 20_000);
  const after = broker.sample();
  const ownCpuMicros = readCpuMicros("self") - ownCpuBefore;
  const confirmed = results.reduce((sum, r) => sum + r.confirmed, 0);
  const firstSendAt = Math.min(...results.map((r) => r.firstSendAt).filter(Number.isFinite));
  const lastConfirmAt = Math.max(...results.map((r) => r.lastConfirmAt).filter(Number.isFinite));
  for (const sample of results.flatMap((r) => r.errorSamples).slice(0, 3)) {
    env.log(`publish error: ${sample}`);
  }
  return {
    "publish.msgPerSec": ratePerSecond(confirmed, firstSendAt, lastConfirmAt),
    "publish.confirmed": confirmed,
    "publish.errors": results.reduce((sum, r) => sum + r.errors, 0),
    "publish.confirmP50Ms": median(results.map((r) => r.confirmMs.p50)),
    "publish.confirmP99Ms": Math.max(...results.map((r) => r.confirmMs.p99)),
    "publish.timedOut": results.some((r) => r.timedOut) ? 1 : 0,
    "publish.cpuUsPerMsg": cpuMicrosPerMessage(before, after, confirmed),
    "publish.clientCpuUsPerMsg": results.reduce((sum, r) => sum + r.cpuMicros, 0) / confirmed,
    "publish.peakRssMb": after.peakMb,
    "publish.endRssMb": after.rssMb,
    "publish.otherCpuPct": otherCpuPercent(
      before,
      after,
      results.reduce((sum, r) => sum + r.cpuMicros, 0),
      ownCpuMicros,
    ),
    ...cpuBreakdown("publish", before, after, confirmed),
  };
}
