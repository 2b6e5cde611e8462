/**
 * The fan-out scenario behind the e2e, latency and growth phases: a fresh
 * broker with a topic and consumer groups, one consumer process per group
 * (at most five processes, groups dealt round-robin beyond that), then
 * publishers; it measures from the first publish until every group has
 * acked every message it should get, and checks each delivery by message id.
 *
 * @module
 */
import { createGroups, createTopic } from "./broker_api.ts";
import type { BrokerSample } from "./broker_process.ts";
import { Crew } from "./crew.ts";
import {
  cpuMicrosPerMessage,
  maxKnown,
  otherCpuPercent,
  type PhaseEnv,
  ratePerSecond,
  startBroker,
} from "./phase.ts";
import { readCpuMicros } from "./proc_stats.ts";
import type {
  ConsumerConfig,
  ConsumerResult,
  PublisherConfig,
  PublisherResult,
} from "./protocol.ts";
import { type LatencySummary, median, summarizeLatencies } from "./stats.ts";
import { checkDeliveries, expectedCount, publishedTags } from "./verify.ts";
import { type GroupSpec, splitRange, TOPIC } from "./workload.ts";

/** Consumer processes at most; more groups share them. */
const MAX_CONSUMER_PROCESSES = 5;
/** After the last ack, keep receiving this long to catch duplicates. */
const DUPLICATE_GRACE_MS = 500;
/** How long results may take once `stop` is sent (a long poll is up to 1 s). */
const RESULT_TIMEOUT_MS = 20_000;

/** How the messages are published. */
export type PublishMode =
  | { readonly kind: "closed"; readonly publishers: number; readonly inflight: number }
  | { readonly kind: "open"; readonly ratePerSecond: number };

/** A fan-out to run. */
export interface FanOutPlan {
  readonly groups: readonly GroupSpec[];
  readonly messages: number;
  readonly mode: PublishMode;
  readonly recordLatency: boolean;
}

/** What a fan-out measured. */
export interface FanOutOutcome {
  readonly messages: number;
  readonly confirmed: number;
  readonly publishErrors: number;
  /** Confirmed messages per second while the consumers ran too. */
  readonly publishMsgPerSec: number;
  /** First publish → every group acked all its messages, in seconds (NaN if never). */
  readonly seconds: number;
  /** Deliveries the groups should have got, over all groups. */
  readonly deliveries: number;
  readonly deliveriesPerSec: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly wrong: number;
  /** Consumer-side failures (receive or ack requests) plus refused acks. */
  readonly consumerErrors: number;
  readonly timedOut: boolean;
  readonly cpuMicrosPerMessage: number;
  readonly peakRssMb: number;
  readonly endRssMb: number;
  /** CPU of all client processes per message, in µs. */
  readonly clientCpuMicrosPerMessage: number;
  /** Share of all cores used by other processes meanwhile, in percent (an estimate). */
  readonly otherCpuPercent: number;
  /** Publish call → 201 in ms: the median of the publishers' p50s, the worst p99. */
  readonly confirmP50Ms: number;
  readonly confirmP99Ms: number;
  /** Open loop: sends more than 5 ms behind schedule. */
  readonly lateSends: number;
  readonly latency?: LatencySummary;
  /** Samples of failures, for the report. */
  readonly errorSamples: readonly string[];
  /** The broker just before `go` and when every group was done. */
  readonly brokerBefore: BrokerSample;
  readonly brokerAfter: BrokerSample;
}

/**
 * Runs one fan-out on a fresh broker.
 *
 * @example
 * ```ts ignore
 * import { runFanOut } from "./fan_out.ts";
 * import { FAN_OUT_GROUPS } from "./workload.ts";
 * declare const env: import("./phase.ts").PhaseEnv;
 * const outcome = await runFanOut(env, {
 *   groups: FAN_OUT_GROUPS,
 *   messages: 5_000,
 *   mode: { kind: "closed", publishers: 4, inflight: 64 },
 *   recordLatency: false,
 * });
 * console.log(outcome.seconds, outcome.lost);
 * ```
 */
export async function runFanOut(env: PhaseEnv, plan: FanOutPlan): Promise<FanOutOutcome> {
  const { options } = env;
  const deadlineMs = options.phaseTimeoutSeconds * 1000;
  await using broker = await startBroker(env);
  await createTopic(broker.url, TOPIC);
  await createGroups(broker.url, TOPIC, plan.groups);
  await using crew = new Crew();

  const processCount = Math.min(plan.groups.length, MAX_CONSUMER_PROCESSES);
  const consumerConfigs: ConsumerConfig[] = Array.from({ length: processCount }, (_, p) => ({
    role: "consumer",
    url: broker.url,
    groups: plan.groups.filter((_, g) => g % processCount === p).map((g) => ({
      name: g.name,
      tags: g.tags,
    })),
    receivers: options.receivers,
    max: 256,
    waitSeconds: 1,
    recordLatency: plan.recordLatency,
    stopWhenDone: false,
    deadlineMs,
  }));
  const publisherCount = plan.mode.kind === "closed" ? plan.mode.publishers : 1;
  const publisherConfigs: PublisherConfig[] = splitRange(plan.messages, publisherCount).map((
    range,
  ) => ({
    role: "publisher",
    url: broker.url,
    topic: TOPIC,
    range,
    inflight: plan.mode.kind === "closed" ? plan.mode.inflight : 0,
    ...(plan.mode.kind === "open" ? { ratePerSecond: plan.mode.ratePerSecond } : {}),
    bodyBytes: options.bodyBytes,
    deadlineMs,
  }));
  const consumers = crew.spawn("consumer", consumerConfigs);
  const publishers = crew.spawn("publisher", publisherConfigs);
  await crew.ready();

  const before = broker.sample();
  const ownCpuBefore = readCpuMicros("self");
  const startedAt = Date.now();
  await crew.send(consumers, { type: "go" });
  await crew.send(publishers, { type: "go" });
  const published = await crew.results<PublisherResult>(publishers, deadlineMs + 20_000);
  const tags = publishedTags(published);
  for (const [p, worker] of consumers.entries()) {
    const counts: Record<string, number> = {};
    for (const group of consumerConfigs[p]!.groups) {
      counts[group.name] = expectedCount(tags, group.tags);
    }
    await worker.send({ type: "expect", counts });
  }
  let timedOut = false;
  try {
    await crew.done(consumers, Math.max(1_000, startedAt + deadlineMs - Date.now()));
  } catch (error) {
    timedOut = true;
    env.log(`fan-out: ${(error as Error).message.split("\n")[0]}`);
  }
  const after = broker.sample();
  const ownCpuMicros = readCpuMicros("self") - ownCpuBefore;
  await new Promise((resolve) => setTimeout(resolve, DUPLICATE_GRACE_MS));
  await crew.send(consumers, { type: "stop" });
  const consumed = await crew.results<ConsumerResult>(consumers, RESULT_TIMEOUT_MS);
  const end = broker.sample();

  const firstSendAt = Math.min(...published.map((r) => r.firstSendAt).filter(Number.isFinite));
  const lastConfirmAt = Math.max(
    ...published.map((r) => r.lastConfirmAt).filter(Number.isFinite),
  );
  const groupResults = consumed.flatMap((r) => r.groups);
  let deliveries = 0, lost = 0, duplicates = 0, wrong = 0, allAckedAt = NaN;
  for (const group of plan.groups) {
    const result = groupResults.find((r) => r.name === group.name);
    const check = checkDeliveries(tags, group.tags, result?.ids ?? []);
    deliveries += check.expected;
    lost += check.lost;
    duplicates += check.duplicates;
    wrong += Math.max(check.wrong, result?.wrongTag ?? 0);
    allAckedAt = maxKnown(allAckedAt, result?.doneAt ?? NaN);
    if (result === undefined || Number.isNaN(result.doneAt)) allAckedAt = Infinity;
  }
  const seconds = Number.isFinite(allAckedAt) ? (allAckedAt - firstSendAt) / 1000 : NaN;
  const workers = [...published, ...consumed];
  const clientCpuMicros = workers.reduce((sum, r) => sum + r.cpuMicros, 0);
  const latencies = plan.recordLatency
    ? summarizeLatencies(groupResults.flatMap((g) => g.latenciesMs))
    : undefined;
  return {
    messages: plan.messages,
    confirmed: tags.size,
    publishErrors: published.reduce((sum, r) => sum + r.errors, 0),
    publishMsgPerSec: ratePerSecond(tags.size, firstSendAt, lastConfirmAt),
    seconds,
    deliveries,
    deliveriesPerSec: Number.isFinite(seconds) ? deliveries / seconds : NaN,
    lost,
    duplicates,
    wrong,
    consumerErrors: consumed.reduce((sum, r) => sum + r.errors, 0) +
      groupResults.reduce((sum, g) => sum + g.ackFailed, 0),
    timedOut: timedOut || workers.some((r) => r.timedOut && r.role === "publisher"),
    cpuMicrosPerMessage: cpuMicrosPerMessage(before, after, plan.messages),
    peakRssMb: end.peakMb,
    endRssMb: after.rssMb,
    clientCpuMicrosPerMessage: clientCpuMicros / plan.messages,
    otherCpuPercent: otherCpuPercent(before, after, clientCpuMicros, ownCpuMicros),
    lateSends: published.reduce((sum, r) => sum + r.lateSends, 0),
    confirmP50Ms: median(published.map((r) => r.confirmMs.p50)),
    confirmP99Ms: Math.max(...published.map((r) => r.confirmMs.p99)),
    ...(latencies ? { latency: latencies } : {}),
    errorSamples: workers.flatMap((r) => r.errorSamples).slice(0, 5),
    brokerBefore: before,
    brokerAfter: after,
  };
}
