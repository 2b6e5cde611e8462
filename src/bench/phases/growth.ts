/**
 * Phase 5, growth: how cost grows with the number of groups and with an
 * unconsumed backlog. Fan-outs with 1, 5 and 20 groups (a smaller N) give
 * throughput and peak memory per group count. Then the backlog probe: one
 * group that nobody consumes while many messages are published, with the
 * broker's resident memory before, after publishing, and after receiving
 * and acking a few thousand of them; it should stay flat, since nothing may
 * hold the backlog in RAM.
 *
 * @module
 */
import { createGroups, createTopic } from "../broker_api.ts";
import { Crew } from "../crew.ts";
import { runFanOut } from "../fan_out.ts";
import { type Metrics, type PhaseEnv, ratePerSecond, startBroker } from "../phase.ts";
import type { ConsumerResult, PublisherResult } from "../protocol.ts";
import { groupsOfSize, senderConfigs, TOPIC } from "../workload.ts";
import { fanOutMetrics } from "./e2e.ts";

const BACKLOG_GROUP = { name: "backlog", tags: "*" };
/** Let the broker settle (timers, GC) before reading its memory. */
const SETTLE_MS = 1_000;

/**
 * Runs the growth fan-outs and the backlog probe once.
 *
 * @example
 * ```ts ignore
 * import { runGrowthPhase } from "./growth.ts";
 * declare const env: import("../phase.ts").PhaseEnv;
 * console.log((await runGrowthPhase(env))["backlog.rssAfterPublishMb"]);
 * ```
 */
export async function runGrowthPhase(env: PhaseEnv): Promise<Metrics> {
  const { options } = env;
  const metrics: Metrics = {};
  for (const count of options.growthGroups) {
    env.log(`growth: ${count} group(s), ${options.growthN} messages`);
    const outcome = await runFanOut(env, {
      groups: groupsOfSize(count),
      messages: options.growthN,
      mode: { kind: "closed", publishers: options.publishers, inflight: options.inflight },
      recordLatency: false,
    });
    for (const sample of outcome.errorSamples.slice(0, 3)) env.log(`growth error: ${sample}`);
    Object.assign(metrics, fanOutMetrics(`growth.g${count}`, outcome));
  }
  env.log(`growth: backlog of ${options.backlogN} messages`);
  Object.assign(metrics, await runBacklogProbe(env));
  return metrics;
}

/** Publishes a backlog nobody consumes, then drains a few thousand of it. */
async function runBacklogProbe(env: PhaseEnv): Promise<Metrics> {
  const { options } = env;
  const deadlineMs = options.phaseTimeoutSeconds * 1000;
  await using broker = await startBroker(env);
  await createTopic(broker.url, TOPIC);
  await createGroups(broker.url, TOPIC, [BACKLOG_GROUP]);
  await using crew = new Crew();
  const publishers = crew.spawn(
    "publisher",
    senderConfigs("publisher", {
      url: broker.url,
      total: options.backlogN,
      processes: options.publishers,
      inflight: options.inflight,
      bodyBytes: options.bodyBytes,
      deadlineMs,
    }),
  );
  const [consumer] = crew.spawn("consumer", [{
    role: "consumer",
    url: broker.url,
    groups: [{ ...BACKLOG_GROUP, expected: options.backlogDrain }],
    receivers: 1,
    max: 256,
    waitSeconds: 1,
    recordLatency: false,
    stopWhenDone: true,
    deadlineMs,
  }]);
  await crew.ready();
  const idle = broker.sample();
  await crew.send(publishers, { type: "go" });
  const published = await crew.results<PublisherResult>(publishers, deadlineMs + 20_000);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const settled = broker.sample();
  // The consumer, started for this phase, stamps its receives on the wall clock as it read it
  // at its start; this process has run for minutes, and its timeOrigin + now() falls behind
  // the wall clock once that is stepped (seen: 9 s in a VM, which read as a 9 s first receive).
  const drainStartedAt = Date.now();
  await crew.send([consumer!], { type: "go" });
  const [drained] = await crew.results<ConsumerResult>([consumer!], deadlineMs + 20_000);
  const afterDrain = broker.sample();
  const confirmed = published.reduce((sum, r) => sum + r.confirmed, 0);
  const firstSendAt = Math.min(...published.map((r) => r.firstSendAt).filter(Number.isFinite));
  const lastConfirmAt = Math.max(
    ...published.map((r) => r.lastConfirmAt).filter(Number.isFinite),
  );
  const group = drained!.groups[0]!;
  const distinct = new Set(group.ids).size;
  for (const sample of [...published, drained!].flatMap((r) => r.errorSamples).slice(0, 3)) {
    env.log(`backlog error: ${sample}`);
  }
  return {
    "backlog.published": confirmed,
    "backlog.publishMsgPerSec": ratePerSecond(confirmed, firstSendAt, lastConfirmAt),
    "backlog.rssBeforeMb": idle.rssMb,
    "backlog.rssAfterPublishMb": settled.rssMb,
    "backlog.rssAfterDrainMb": afterDrain.rssMb,
    "backlog.peakRssMb": afterDrain.peakMb,
    "backlog.firstReceiveMs": drained!.firstReceiveAt - drainStartedAt,
    "backlog.drainMsgPerSec": ratePerSecond(distinct, drainStartedAt, group.doneAt),
    "backlog.drained": distinct,
    "backlog.errors": [...published, drained!].reduce((sum, r) => sum + r.errors, 0),
    "backlog.timedOut": published.some((r) => r.timedOut) || drained!.timedOut ? 1 : 0,
  };
}
