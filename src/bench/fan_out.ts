/**
 * The fan-out scenario behind the e2e, latency and growth phases: a fresh
 * broker with a topic and consumer groups, one consumer process per group
 * (at most five processes, groups dealt round-robin beyond that), then
 * publishers, all talking to Escrow one way (its SDK or plain HTTP); it
 * measures from the first publish until every group has acked every message
 * it should get, and checks each delivery by message id. The load itself
 * ({@linkcode driveLoad}) is the same for every server: the NATS peer runs it
 * with its own client processes.
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
  ClientKind,
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
  /** How the client processes talk to Escrow. @default {"http"} */
  readonly client?: ClientKind;
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
 *   client: "sdk",
 * });
 * console.log(outcome.seconds, outcome.lost);
 * ```
 */
export async function runFanOut(env: PhaseEnv, plan: FanOutPlan): Promise<FanOutOutcome> {
  await using broker = await startBroker(env);
  await createTopic(broker.url, TOPIC);
  await createGroups(broker.url, TOPIC, plan.groups);
  const client = plan.client ?? "http";
  return await driveLoad(env, broker, plan, {
    topic: TOPIC,
    receivers: env.options.receivers,
    label: client === "sdk" ? "sdk-" : "",
    consumer: { client },
    publisher: { client },
  });
}

/** A server a load runs against: its address and its process samples. */
export interface LoadTarget {
  readonly url: string;
  sample(): BrokerSample;
}

/** How a load's client processes are made. */
export interface LoadClients {
  /** The topic (or stream) the publishers publish to. */
  readonly topic: string;
  /** Receive loops per group. */
  readonly receivers: number;
  /** Prefix of the processes' names in errors (`nats-`). */
  readonly label: string;
  /** The client processes' entry point. @default {the bench's `worker.ts`} */
  readonly workerPath?: string;
  /** Fields every consumer configuration gets on top of the common ones. */
  readonly consumer?: Partial<ConsumerConfig>;
  /** Fields every publisher configuration gets on top of the common ones. */
  readonly publisher?: Record<string, unknown>;
}

/**
 * Runs a fan-out's load against a started `target` whose topic and groups
 * exist: starts the consumer and publisher processes, sends `go`, tells the
 * consumers how many messages each group should get once the publishers are
 * done, waits until every group acked them all, and checks every delivery.
 *
 * @example
 * ```ts ignore
 * import { driveLoad } from "./fan_out.ts";
 * declare const env: import("./phase.ts").PhaseEnv;
 * declare const target: import("./fan_out.ts").LoadTarget;
 * declare const plan: import("./fan_out.ts").FanOutPlan;
 * const outcome = await driveLoad(env, target, plan, { topic: "Trade", receivers: 2, label: "" });
 * ```
 */
export async function driveLoad(
  env: PhaseEnv,
  target: LoadTarget,
  plan: FanOutPlan,
  clients: LoadClients,
): Promise<FanOutOutcome> {
  const { options } = env;
  const deadlineMs = options.phaseTimeoutSeconds * 1000;
  await using crew = new Crew();

  const processCount = Math.min(plan.groups.length, MAX_CONSUMER_PROCESSES);
  const consumerConfigs: ConsumerConfig[] = Array.from({ length: processCount }, (_, p) => ({
    role: "consumer",
    url: target.url,
    groups: plan.groups.filter((_, g) => g % processCount === p).map((g) => ({
      name: g.name,
      tags: g.tags,
    })),
    receivers: clients.receivers,
    max: 256,
    waitSeconds: 1,
    recordLatency: plan.recordLatency,
    stopWhenDone: false,
    deadlineMs,
    ...clients.consumer,
  }));
  const publisherCount = plan.mode.kind === "closed" ? plan.mode.publishers : 1;
  const publisherConfigs: PublisherConfig[] = splitRange(plan.messages, publisherCount).map((
    range,
  ) => ({
    role: "publisher",
    url: target.url,
    topic: clients.topic,
    range,
    inflight: plan.mode.kind === "closed" ? plan.mode.inflight : 0,
    ...(plan.mode.kind === "open" ? { ratePerSecond: plan.mode.ratePerSecond } : {}),
    bodyBytes: options.bodyBytes,
    deadlineMs,
    ...clients.publisher,
  }));
  const consumers = crew.spawn(`${clients.label}consumer`, consumerConfigs, clients.workerPath);
  const publishers = crew.spawn(
    `${clients.label}publisher`,
    publisherConfigs,
    clients.workerPath,
  );
  await crew.ready();

  const before = target.sample();
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
    env.log(`${clients.label}fan-out: ${(error as Error).message.split("\n")[0]}`);
  }
  const after = target.sample();
  const ownCpuMicros = readCpuMicros("self") - ownCpuBefore;
  if (consumers.length > 0) await new Promise((resolve) => setTimeout(resolve, DUPLICATE_GRACE_MS));
  await crew.send(consumers, { type: "stop" });
  const consumed = await crew.results<ConsumerResult>(consumers, RESULT_TIMEOUT_MS);
  const end = target.sample();

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
