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
import { postJson } from "./http_client.ts";
import { ConsumerProgress, type GroupProgress } from "./group_progress.ts";
import { type ConsumerConfig, type ConsumerResult, epochMs } from "./protocol.ts";
import type { WorkerControl } from "./worker_control.ts";

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
  const deadline = epochMs() + config.deadlineMs;
  const hardStop = AbortSignal.timeout(config.deadlineMs + ABANDON_AFTER_MS);
  const receiving = new AbortController();
  const receiveSignal = AbortSignal.any([hardStop, receiving.signal]);
  const receiveBody = JSON.stringify({ max: config.max, waitSeconds: config.waitSeconds });
  const progress = new ConsumerProgress(config, control, () => receiving.abort());
  const { failures } = progress;
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
        if (!refused.has(delivery.receiptHandle)) group.acked(delivery.messageId, now);
      }
      progress.checkDone();
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
        progress.received(receivedAt);
        deliveries = (JSON.parse(answer.text) as { messages: Delivery[] }).messages;
        group.receives++;
        for (const d of deliveries) {
          group.delivered(d.messageId, d.tag, receivedAt, d.body?.sentAt, config.recordLatency);
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

  progress.checkDone();
  await Promise.all(
    progress.groups.flatMap((group) => Array.from({ length: config.receivers }, () => pull(group))),
  );
  return progress.result();
}
