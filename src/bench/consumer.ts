/**
 * The `consumer` role: for each of its groups, a few pull loops that
 * receive (long poll) and acknowledge, recording every delivered id, tags the
 * group should not have got, and (in latency mode) the time from each
 * message's send to its receipt. A group is done once the acks of its
 * expected number of distinct messages have come back; the process reports
 * `done` when all its groups are, and its result at `stop`.
 *
 * @module
 */
import { delay } from "@std/async/delay";
import { FailureLog, postJson } from "./http_client.ts";
import { readCpuMicros } from "./proc_stats.ts";
import {
  type ConsumerConfig,
  type ConsumerResult,
  epochMs,
  type GroupDeliveries,
} from "./protocol.ts";
import type { WorkerControl } from "./worker_control.ts";
import { acceptsTag } from "./workload.ts";

/** Requests still running this long after the deadline are abandoned. */
const ABANDON_AFTER_MS = 5_000;
/** Pause after a failed receive, so a broken broker is not hammered. */
const ERROR_PAUSE_MS = 50;

/** A received message, as far as the consumer reads it. */
interface Delivery {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly tag?: string;
  readonly body?: { readonly sentAt?: number };
}

/** One group's progress. */
class GroupProgress {
  readonly name: string;
  readonly tags: string;
  expected: number;
  readonly ids: string[] = [];
  readonly acked = new Set<string>();
  readonly latenciesMs: number[] = [];
  wrongTag = 0;
  receives = 0;
  emptyReceives = 0;
  ackFailed = 0;
  lastNewAckAt = NaN;

  constructor(name: string, tags: string, expected: number) {
    this.name = name;
    this.tags = tags;
    this.expected = expected;
  }

  get done(): boolean {
    return this.acked.size >= this.expected;
  }

  report(): GroupDeliveries {
    return {
      name: this.name,
      ids: this.ids,
      wrongTag: this.wrongTag,
      doneAt: this.done ? this.lastNewAckAt : NaN,
      receives: this.receives,
      emptyReceives: this.emptyReceives,
      ackFailed: this.ackFailed,
      latenciesMs: this.latenciesMs,
    };
  }
}

/**
 * Consumes as `config` says once `go` has come, until `stop` (or, with
 * `stopWhenDone`, until every group is done) or the deadline.
 *
 * @example
 * ```ts ignore
 * import { consume } from "./consumer.ts";
 * import { WorkerControl } from "./worker_control.ts";
 * declare const config: import("./protocol.ts").ConsumerConfig;
 * const result = await consume(config, WorkerControl.listen());
 * ```
 */
export async function consume(
  config: ConsumerConfig,
  control: WorkerControl,
): Promise<ConsumerResult> {
  const groups = config.groups.map((g) =>
    new GroupProgress(g.name, g.tags, g.expected ?? Number.POSITIVE_INFINITY)
  );
  const failures = new FailureLog();
  const cpuBefore = readCpuMicros("self");
  const deadline = epochMs() + config.deadlineMs;
  const hardStop = AbortSignal.timeout(config.deadlineMs + ABANDON_AFTER_MS);
  const receiving = new AbortController();
  const receiveSignal = AbortSignal.any([hardStop, receiving.signal]);
  const receiveBody = JSON.stringify({ max: config.max, waitSeconds: config.waitSeconds });
  let firstReceiveAt = NaN;
  let reportedDone = false;

  const checkDone = () => {
    if (reportedDone || !groups.every((g) => g.done)) return;
    reportedDone = true;
    control.emit({ type: "done", at: epochMs() });
    if (config.stopWhenDone) receiving.abort();
  };
  control.onExpect = (counts) => {
    for (const group of groups) {
      const count = counts[group.name];
      if (count !== undefined) group.expected = count;
    }
    checkDone();
  };
  control.stopped.then(() => receiving.abort());

  const ack = async (group: GroupProgress, deliveries: Delivery[]) => {
    const url = `${config.url}/v1/groups/${group.name}/ack`;
    const body = JSON.stringify({ receiptHandles: deliveries.map((d) => d.receiptHandle) });
    try {
      const answer = await postJson(url, body, hardStop);
      if (answer.status !== 200) {
        failures.addRequest("ack", answer);
        return;
      }
      const now = epochMs();
      const { failed } = JSON.parse(answer.text) as { failed: { receiptHandle: string }[] };
      const refused = new Set(failed.map((f) => f.receiptHandle));
      group.ackFailed += refused.size;
      for (const delivery of deliveries) {
        if (refused.has(delivery.receiptHandle) || group.acked.has(delivery.messageId)) continue;
        group.acked.add(delivery.messageId);
        group.lastNewAckAt = now;
      }
      checkDone();
    } catch (error) {
      failures.addRequest("ack", error);
    }
  };

  const pull = async (group: GroupProgress) => {
    const url = `${config.url}/v1/groups/${group.name}/receive`;
    let acking: Promise<void> | undefined;
    while (!receiving.signal.aborted && epochMs() < deadline) {
      let deliveries: Delivery[];
      try {
        const answer = await postJson(url, receiveBody, receiveSignal);
        if (answer.status !== 200) {
          failures.addRequest("receive", answer);
          await delay(ERROR_PAUSE_MS);
          continue;
        }
        const receivedAt = epochMs();
        if (Number.isNaN(firstReceiveAt)) firstReceiveAt = receivedAt;
        deliveries = (JSON.parse(answer.text) as { messages: Delivery[] }).messages;
        group.receives++;
        for (const delivery of deliveries) {
          group.ids.push(delivery.messageId);
          if (!acceptsTag(group.tags, delivery.tag)) group.wrongTag++;
          const sentAt = delivery.body?.sentAt;
          if (config.recordLatency && typeof sentAt === "number") {
            group.latenciesMs.push(receivedAt - sentAt);
          }
        }
      } catch (error) {
        if (receiving.signal.aborted) break;
        failures.addRequest("receive", error);
        await delay(ERROR_PAUSE_MS);
        continue;
      }
      if (deliveries.length === 0) {
        group.emptyReceives++;
        continue;
      }
      await acking;
      acking = ack(group, deliveries);
    }
    await acking;
  };

  checkDone();
  await Promise.all(
    groups.flatMap((group) => Array.from({ length: config.receivers }, () => pull(group))),
  );
  return {
    role: "consumer",
    groups: groups.map((g) => g.report()),
    firstReceiveAt,
    errors: failures.count,
    errorSamples: failures.samples,
    timedOut: !control.isStopped && !(config.stopWhenDone && reportedDone),
    cpuMicros: readCpuMicros("self") - cpuBefore,
  };
}
