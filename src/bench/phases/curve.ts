/**
 * Phase `curve` (run only when named: `--phases curve`): how a receive, its
 * CPU and a group's figures cost as an unconsumed backlog grows. One topic,
 * `--curve-groups` groups (100 by default, over the five tag expressions of
 * the fan-out) that nobody consumes, and `--curve-n` messages (1,000,000)
 * published by SDK publishers in steps: 1 %, 10 %, 25 %, 50 % and 100 % of
 * the backlog. After each step, from this process over plain HTTP:
 *
 * - **receive**: one `receive` (32 messages, no wait) and its `ack` from
 *   each of twenty groups not probed before, so every probe starts at the old
 *   end of a full backlog; the median time of each;
 * - **CPU**: the broker's CPU over those receives and acks, per message;
 * - **figures**: `GET /v1/groups/{group}` of one group per tag expression;
 *   the median time;
 * - the broker's resident memory.
 *
 * Flat rows mean a cost does not grow with the backlog.
 *
 * @module
 */
import { createGroups, createTopic } from "../broker_api.ts";
import { Crew } from "../crew.ts";
import { authHeaders, postJson } from "../http_client.ts";
import { type Metrics, type PhaseEnv, ratePerSecond, startBroker } from "../phase.ts";
import type { PublisherConfig, PublisherResult } from "../protocol.ts";
import { median } from "../stats.ts";
import { groupsOfSize, splitRange, TOPIC } from "../workload.ts";

/** The backlog sizes probed, as fractions of `--curve-n`. */
export const CURVE_STEPS: readonly number[] = [0.01, 0.1, 0.25, 0.5, 1];

/** Groups each step receives from (each once in the whole phase, while there are enough). */
const RECEIVE_PROBES = 20;
/** Messages per probing receive. */
export const PROBE_MAX = 32;

/**
 * The backlog sizes a curve of `total` messages is probed at.
 *
 * @example
 * ```ts
 * import { curvePoints } from "./curve.ts";
 * console.log(curvePoints(1_000_000)); // [10000, 100000, 250000, 500000, 1000000]
 * ```
 */
export function curvePoints(total: number): number[] {
  return [...new Set(CURVE_STEPS.map((fraction) => Math.max(1, Math.round(total * fraction))))];
}

/** The metric key of figure `name` at backlog `size`. */
export function curveKey(size: number, name: string): string {
  return `curve.b${size}.${name}`;
}

/**
 * Runs the backlog curve once.
 *
 * @example
 * ```ts ignore
 * import { runCurvePhase } from "./curve.ts";
 * declare const env: import("../phase.ts").PhaseEnv;
 * console.log(await runCurvePhase(env));
 * ```
 */
export async function runCurvePhase(env: PhaseEnv): Promise<Metrics> {
  const { options } = env;
  const deadlineMs = options.phaseTimeoutSeconds * 1000;
  const groups = groupsOfSize(options.curveGroups);
  await using broker = await startBroker(env);
  await createTopic(broker.url, TOPIC);
  await createGroups(broker.url, TOPIC, groups);
  const metrics: Metrics = {};
  let published = 0;
  let probed = 0;
  let confirmed = 0;
  let errors = 0;
  let publishMs = 0;
  for (const size of curvePoints(options.curveN)) {
    env.log(`curve: publishing to a backlog of ${size} messages in ${groups.length} groups`);
    await using crew = new Crew();
    const publishers = crew.spawn(
      "publisher",
      splitRange(size - published, options.publishers).map((range): PublisherConfig => ({
        role: "publisher",
        client: "sdk",
        url: broker.url,
        topic: TOPIC,
        range: { start: published + range.start, end: published + range.end },
        inflight: options.inflight,
        bodyBytes: options.bodyBytes,
        deadlineMs,
      })),
    );
    await crew.ready();
    await crew.send(publishers, { type: "go" });
    const results = await crew.results<PublisherResult>(publishers, deadlineMs + 20_000);
    for (const sample of results.flatMap((r) => r.errorSamples).slice(0, 3)) {
      env.log(`curve error: ${sample}`);
    }
    const first = Math.min(...results.map((r) => r.firstSendAt).filter(Number.isFinite));
    const last = Math.max(...results.map((r) => r.lastConfirmAt).filter(Number.isFinite));
    if (Number.isFinite(first) && Number.isFinite(last)) publishMs += last - first;
    confirmed += results.reduce((sum, r) => sum + r.confirmed, 0);
    errors += results.reduce((sum, r) => sum + r.errors, 0);
    published = size;

    const probes = Array.from(
      { length: RECEIVE_PROBES },
      (_, i) => groups[(probed + i) % groups.length]!,
    );
    probed += RECEIVE_PROBES;
    const before = broker.sample();
    const receiveMs: number[] = [];
    const ackMs: number[] = [];
    let received = 0;
    for (const group of probes) {
      const base = `${broker.url}/v1/groups/${group.name}`;
      let started = performance.now();
      const answer = await postJson(`${base}/receive`, JSON.stringify({ max: PROBE_MAX }));
      receiveMs.push(performance.now() - started);
      if (answer.status !== 200) {
        errors++;
        continue;
      }
      const { messages } = JSON.parse(answer.text) as { messages: { receiptHandle: string }[] };
      received += messages.length;
      started = performance.now();
      const acked = await postJson(
        `${base}/ack`,
        JSON.stringify({ receiptHandles: messages.map((m) => m.receiptHandle) }),
      );
      ackMs.push(performance.now() - started);
      if (acked.status !== 200) errors++;
    }
    const after = broker.sample();
    const statsMs: number[] = [];
    for (const group of groups.slice(0, 5)) {
      const started = performance.now();
      const res = await fetch(`${broker.url}/v1/groups/${group.name}`, { headers: authHeaders() });
      await res.body?.cancel();
      statsMs.push(performance.now() - started);
      if (res.status !== 200) errors++;
    }
    Object.assign(metrics, {
      [curveKey(size, "receiveMs")]: median(receiveMs),
      [curveKey(size, "ackMs")]: median(ackMs),
      [curveKey(size, "cpuUsPerMsg")]: received > 0
        ? (after.cpuMicros - before.cpuMicros) / received
        : NaN,
      [curveKey(size, "groupMs")]: median(statsMs),
      [curveKey(size, "rssMb")]: after.rssMb,
    });
  }
  return {
    ...metrics,
    "curve.published": confirmed,
    "curve.publishMsgPerSec": ratePerSecond(confirmed, 0, publishMs),
    "curve.errors": errors,
  };
}
