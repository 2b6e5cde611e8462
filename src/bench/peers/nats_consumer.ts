/**
 * The NATS `consumer` role: for each of its groups, a pull `consume()` loop
 * on every durable that serves the group (two for compliance, see
 * `nats_workload.ts`), acking every message and recording, as Escrow's
 * consumer does, every delivered id (the stream sequence), deliveries whose
 * subject the group's tags do not accept, and (in latency mode) the time from
 * each message's send to its receipt. A plain ack is fire-and-forget in NATS;
 * the ack that completes a group's expected count is sent with `ackAck()`,
 * so the group's done time is when the server confirmed its last ack, as it
 * is for Escrow (the ack's 200). When the expected count only arrives after
 * the group's last ack (the consumers kept up with the publishers), the done
 * time is when that last ack was sent.
 *
 * @module
 */
import type { ConsumerMessages, JetStreamClient, JsMsg } from "nats";
import { ConsumerProgress, type GroupProgress } from "../group_progress.ts";
import { type ConsumerConfig, type ConsumerResult, epochMs } from "../protocol.ts";
import type { WorkerControl } from "../worker_control.ts";
import { NATS_STREAM, natsDurablesOf, tagOfSubject } from "./nats_workload.ts";

/**
 * Consumes as `config` says over `js` once `go` has come, until `stop` (or,
 * with `stopWhenDone`, until every group is done) or the deadline.
 *
 * @example
 * ```ts ignore
 * import { connect } from "nats";
 * import { natsConsume } from "./nats_consumer.ts";
 * import { WorkerControl } from "../worker_control.ts";
 * declare const config: import("../protocol.ts").ConsumerConfig;
 * const nc = await connect({ servers: config.url });
 * const result = await natsConsume(nc.jetstream(), config, WorkerControl.listen());
 * ```
 */
export async function natsConsume(
  js: JetStreamClient,
  config: ConsumerConfig,
  control: WorkerControl,
): Promise<ConsumerResult> {
  const decoder = new TextDecoder();
  const loops: ConsumerMessages[] = [];
  const stopAll = () => {
    for (const loop of loops) loop.stop();
  };
  const progress = new ConsumerProgress(config, control, stopAll);
  const { failures } = progress;

  const handle = async (group: GroupProgress, message: JsMsg) => {
    const receivedAt = epochMs();
    progress.received(receivedAt);
    const id = String(message.seq);
    group.receives++;
    const sentAt = config.recordLatency
      ? (JSON.parse(decoder.decode(message.data)) as { sentAt?: number }).sentAt
      : undefined;
    group.delivered(id, tagOfSubject(message.subject), receivedAt, sentAt, config.recordLatency);
    const isNew = !group.hasAcked(id);
    if (!isNew || group.ackedCount + 1 < group.expected) {
      message.ack();
      if (isNew) group.acked(id, epochMs());
      return progress.checkDone();
    }
    // This ack completes the group: wait for the server to confirm it.
    try {
      if (!(await message.ackAck())) group.ackFailed++;
    } catch (error) {
      failures.addRequest("ack", error);
    }
    group.acked(id, epochMs());
    group.doneAt = group.lastNewAckAt;
    progress.checkDone();
  };

  const pull = async (group: GroupProgress, durable: string) => {
    const consumer = await js.consumers.get(NATS_STREAM, durable);
    const messages = await consumer.consume({ max_messages: config.max });
    loops.push(messages);
    if (control.isStopped || (config.stopWhenDone && progress.reportedDone)) messages.stop();
    for await (const message of messages) {
      try {
        await handle(group, message);
      } catch (error) {
        failures.addRequest("receive", error);
      }
    }
  };

  const deadline = setTimeout(stopAll, config.deadlineMs);
  control.stopped.then(stopAll);
  progress.checkDone();
  try {
    await Promise.all(
      progress.groups.flatMap((group, g) =>
        natsDurablesOf(config.groups[g]!).map(({ durable }) =>
          pull(group, durable).catch((error) => failures.addRequest(`consume ${durable}`, error))
        )
      ),
    );
  } finally {
    clearTimeout(deadline);
  }
  return progress.result();
}
