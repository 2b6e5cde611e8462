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
import { FailureLog } from "../http_client.ts";
import { readCpuMicros } from "../proc_stats.ts";
import {
  type ConsumerConfig,
  type ConsumerResult,
  epochMs,
  type GroupDeliveries,
} from "../protocol.ts";
import type { WorkerControl } from "../worker_control.ts";
import { acceptsTag } from "../workload.ts";
import { NATS_STREAM, natsDurablesOf, tagOfSubject } from "./nats_workload.ts";

/** One group's progress over all its durables. */
class GroupProgress {
  readonly name: string;
  readonly tags: string;
  expected: number;
  readonly ids: string[] = [];
  readonly acked = new Set<string>();
  readonly latenciesMs: number[] = [];
  wrongTag = 0;
  deliveries = 0;
  ackFailed = 0;
  lastNewAckAt = NaN;
  doneAt = NaN;

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
      doneAt: this.done ? (Number.isNaN(this.doneAt) ? this.lastNewAckAt : this.doneAt) : NaN,
      receives: this.deliveries,
      emptyReceives: 0,
      ackFailed: this.ackFailed,
      latenciesMs: this.latenciesMs,
    };
  }
}

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
  const groups = config.groups.map((g) =>
    new GroupProgress(g.name, g.tags, g.expected ?? Number.POSITIVE_INFINITY)
  );
  const failures = new FailureLog();
  const cpuBefore = readCpuMicros("self");
  const decoder = new TextDecoder();
  let firstReceiveAt = NaN;
  let reportedDone = false;
  const loops: ConsumerMessages[] = [];
  const stopAll = () => {
    for (const loop of loops) loop.stop();
  };

  const checkDone = () => {
    if (reportedDone || !groups.every((g) => g.done)) return;
    reportedDone = true;
    control.emit({ type: "done", at: epochMs() });
    if (config.stopWhenDone) stopAll();
  };
  control.onExpect = (counts) => {
    for (const group of groups) {
      const count = counts[group.name];
      if (count !== undefined) group.expected = count;
    }
    checkDone();
  };

  const handle = async (group: GroupProgress, message: JsMsg) => {
    const receivedAt = epochMs();
    if (Number.isNaN(firstReceiveAt)) firstReceiveAt = receivedAt;
    const id = String(message.seq);
    group.deliveries++;
    group.ids.push(id);
    if (!acceptsTag(group.tags, tagOfSubject(message.subject))) group.wrongTag++;
    if (config.recordLatency) {
      const sentAt = (JSON.parse(decoder.decode(message.data)) as { sentAt?: number }).sentAt;
      if (typeof sentAt === "number") group.latenciesMs.push(receivedAt - sentAt);
    }
    const isNew = !group.acked.has(id);
    if (isNew) group.acked.add(id);
    if (!isNew || !group.done) {
      message.ack();
      if (isNew) group.lastNewAckAt = epochMs();
      return checkDone();
    }
    // This ack completes the group: wait for the server to confirm it.
    try {
      if (!(await message.ackAck())) group.ackFailed++;
    } catch (error) {
      failures.addRequest("ack", error);
    }
    group.lastNewAckAt = group.doneAt = epochMs();
    checkDone();
  };

  const pull = async (group: GroupProgress, durable: string) => {
    const consumer = await js.consumers.get(NATS_STREAM, durable);
    const messages = await consumer.consume({ max_messages: config.max });
    loops.push(messages);
    if (control.isStopped || (config.stopWhenDone && reportedDone)) messages.stop();
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
  checkDone();
  try {
    await Promise.all(
      groups.flatMap((group, g) =>
        natsDurablesOf(config.groups[g]!).map(({ durable }) =>
          pull(group, durable).catch((error) => failures.addRequest(`consume ${durable}`, error))
        )
      ),
    );
  } finally {
    clearTimeout(deadline);
  }
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
