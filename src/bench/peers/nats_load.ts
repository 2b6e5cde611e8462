/**
 * One NATS peer run of a phase's load, the twin of `fan_out.ts`: a fresh
 * `nats-server` with the stream `ACC` (subjects `acc.>`, file storage) and
 * the durable pull consumers of the groups, one consumer process per group
 * (at most five, groups dealt round-robin beyond that), then publishers;
 * measured from the first publish until every group has acked every message
 * it should get, with the same checks by message id (the stream sequence).
 * With no groups it is the publish phase; with `dedup` the publishers send
 * `Nats-Msg-Id`s (the tx phase's peer).
 *
 * @module
 */
import { AckPolicy, connect, DeliverPolicy, StorageType } from "nats";
import { Crew } from "../crew.ts";
import type { FanOutOutcome, PublishMode } from "../fan_out.ts";
import {
  cpuMicrosPerMessage,
  maxKnown,
  otherCpuPercent,
  type PhaseEnv,
  ratePerSecond,
} from "../phase.ts";
import { readCpuMicros } from "../proc_stats.ts";
import type { ConsumerConfig, ConsumerResult, PublisherResult } from "../protocol.ts";
import { median, summarizeLatencies } from "../stats.ts";
import { checkDeliveries, expectedCount, publishedTags } from "../verify.ts";
import { type GroupSpec, splitRange } from "../workload.ts";
import { NatsServer } from "./nats_server.ts";
import { NATS_STREAM, natsDurablesOf, type NatsPublisherConfig } from "./nats_workload.ts";

const NATS_WORKER_PATH = new URL("./nats_worker.ts", import.meta.url).pathname;
/** Consumer processes at most; more groups share them. */
const MAX_CONSUMER_PROCESSES = 5;
/** After the last ack, keep receiving this long to catch duplicates. */
const DUPLICATE_GRACE_MS = 500;
/** How long results may take once `stop` is sent. */
const RESULT_TIMEOUT_MS = 20_000;

/** A NATS load to run. */
export interface NatsLoadPlan {
  readonly groups: readonly GroupSpec[];
  readonly messages: number;
  readonly mode: PublishMode;
  readonly recordLatency: boolean;
  /** Publish with `Nats-Msg-Id` (JetStream's de-duplication). */
  readonly dedup: boolean;
}

/**
 * Creates the stream and the durables of `groups` on the server at `url`.
 *
 * @example
 * ```ts ignore
 * import { createNatsTopology } from "./nats_load.ts";
 * import { FAN_OUT_GROUPS } from "../workload.ts";
 * await createNatsTopology("nats://127.0.0.1:4222", FAN_OUT_GROUPS);
 * ```
 */
export async function createNatsTopology(
  url: string,
  groups: readonly GroupSpec[],
): Promise<void> {
  const nc = await connect({ servers: url, name: "escrow-bench-setup" });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: NATS_STREAM, subjects: ["acc.>"], storage: StorageType.File });
    for (const group of groups) {
      for (const { durable, filterSubject } of natsDurablesOf(group)) {
        await jsm.consumers.add(NATS_STREAM, {
          durable_name: durable,
          filter_subject: filterSubject,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
        });
      }
    }
  } finally {
    await nc.close();
  }
}

/**
 * Runs one load on a fresh `nats-server` (`binary`).
 *
 * @example
 * ```ts ignore
 * import { runNatsLoad } from "./nats_load.ts";
 * import { FAN_OUT_GROUPS } from "../workload.ts";
 * declare const env: import("../phase.ts").PhaseEnv;
 * const outcome = await runNatsLoad(env, "nats-server", {
 *   groups: FAN_OUT_GROUPS, messages: 5_000, recordLatency: false, dedup: false,
 *   mode: { kind: "closed", publishers: 4, inflight: 64 },
 * });
 * console.log(outcome.seconds, outcome.lost);
 * ```
 */
export async function runNatsLoad(
  env: PhaseEnv,
  binary: string,
  plan: NatsLoadPlan,
): Promise<FanOutOutcome> {
  const { options } = env;
  const deadlineMs = options.phaseTimeoutSeconds * 1000;
  await using server = await NatsServer.start({ binary });
  await createNatsTopology(server.url, plan.groups);
  await using crew = new Crew();

  const processCount = Math.min(plan.groups.length, MAX_CONSUMER_PROCESSES);
  const consumerConfigs: ConsumerConfig[] = Array.from({ length: processCount }, (_, p) => ({
    role: "consumer",
    url: server.url,
    groups: plan.groups.filter((_, g) => g % processCount === p).map((g) => ({
      name: g.name,
      tags: g.tags,
    })),
    receivers: 1,
    max: 256,
    waitSeconds: 1,
    recordLatency: plan.recordLatency,
    stopWhenDone: false,
    deadlineMs,
  }));
  const publisherCount = plan.mode.kind === "closed" ? plan.mode.publishers : 1;
  const publisherConfigs: NatsPublisherConfig[] = splitRange(plan.messages, publisherCount).map((
    range,
  ) => ({
    role: "publisher",
    url: server.url,
    topic: NATS_STREAM,
    range,
    inflight: plan.mode.kind === "closed" ? plan.mode.inflight : 0,
    ...(plan.mode.kind === "open" ? { ratePerSecond: plan.mode.ratePerSecond } : {}),
    bodyBytes: options.bodyBytes,
    deadlineMs,
    dedup: plan.dedup,
  }));
  const consumers = crew.spawn("nats-consumer", consumerConfigs, NATS_WORKER_PATH);
  const publishers = crew.spawn("nats-publisher", publisherConfigs, NATS_WORKER_PATH);
  await crew.ready();

  const before = server.sample();
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
    env.log(`nats: ${(error as Error).message.split("\n")[0]}`);
  }
  const after = server.sample();
  const ownCpuMicros = readCpuMicros("self") - ownCpuBefore;
  if (consumers.length > 0) await new Promise((resolve) => setTimeout(resolve, DUPLICATE_GRACE_MS));
  await crew.send(consumers, { type: "stop" });
  const consumed = await crew.results<ConsumerResult>(consumers, RESULT_TIMEOUT_MS);
  const end = server.sample();

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
