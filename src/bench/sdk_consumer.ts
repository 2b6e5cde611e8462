/**
 * The `consumer` role through the SDK: for each group one
 * {@linkcode Consumer} over the consumer stream (the WebSocket with a credit
 * window, acks on the socket), acking everything, with the same records as
 * `consumer.ts` (every delivered id, tags the group should not have got,
 * publish → receipt latency in latency mode, the ack that completed the
 * expected count). `receivers × max` is the consumer's concurrency, so the
 * credit window matches what the HTTP consumer has in flight. The stream has
 * no receive requests: `receives` counts pushed messages, `emptyReceives`
 * stays 0.
 *
 * @module
 */
import { Consumer, EscrowClient, type ReceivedMessage } from "../client/mod.ts";
import { FailureLog } from "./http_client.ts";
import { readCpuMicros } from "./proc_stats.ts";
import {
  type ConsumerConfig,
  type ConsumerResult,
  epochMs,
  type GroupDeliveries,
} from "./protocol.ts";
import type { WorkerControl } from "./worker_control.ts";
import { acceptsTag } from "./workload.ts";

/** One group's progress, as `consumer.ts` keeps it. */
class GroupProgress {
  readonly ids: string[] = [];
  readonly acked = new Set<string>();
  readonly latenciesMs: number[] = [];
  /** Message id of each handle not yet acked. */
  readonly pending = new Map<string, string>();
  wrongTag = 0;
  receives = 0;
  ackFailed = 0;
  lastNewAckAt = NaN;

  constructor(readonly name: string, readonly tags: string, public expected: number) {}

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
      emptyReceives: 0,
      ackFailed: this.ackFailed,
      latenciesMs: this.latenciesMs,
    };
  }
}

/** Options of {@linkcode consumeWithSdk}. */
export interface SdkConsumeOptions {
  /** How the SDK consumer gets messages. @default {"stream"} */
  readonly transport?: "stream" | "auto" | "poll";
}

/**
 * Consumes as `config` says with the SDK's {@linkcode Consumer}, once `go`
 * has come, until `stop` (or, with `stopWhenDone`, until every group is
 * done) or the deadline; reports as `consume()` of `consumer.ts` does.
 *
 * @example
 * ```ts ignore
 * import { consumeWithSdk } from "./sdk_consumer.ts";
 * import { WorkerControl } from "./worker_control.ts";
 * declare const config: import("./protocol.ts").ConsumerConfig;
 * const result = await consumeWithSdk(config, WorkerControl.listen());
 * ```
 */
export async function consumeWithSdk(
  config: ConsumerConfig,
  control: WorkerControl,
  options: SdkConsumeOptions = {},
): Promise<ConsumerResult> {
  const groups = config.groups.map((g) =>
    new GroupProgress(g.name, g.tags, g.expected ?? Number.POSITIVE_INFINITY)
  );
  const failures = new FailureLog();
  const cpuBefore = readCpuMicros("self");
  const token = Deno.env.get("ESCROW_API_TOKEN");
  const client = new EscrowClient(config.url, token ? { token } : {});
  const finished = Promise.withResolvers<void>();
  let firstReceiveAt = NaN;
  let reportedDone = false;

  const checkDone = () => {
    if (reportedDone || !groups.every((g) => g.done)) return;
    reportedDone = true;
    control.emit({ type: "done", at: epochMs() });
    if (config.stopWhenDone) finished.resolve();
  };
  control.onExpect = (counts) => {
    for (const group of groups) {
      const count = counts[group.name];
      if (count !== undefined) group.expected = count;
    }
    checkDone();
  };
  control.stopped.then(() => finished.resolve());
  const deadline = setTimeout(() => finished.resolve(), config.deadlineMs);

  const consumers = groups.map((group) =>
    new Consumer(client, group.name, (message: ReceivedMessage) => {
      const receivedAt = epochMs();
      if (Number.isNaN(firstReceiveAt)) firstReceiveAt = receivedAt;
      group.receives++;
      group.ids.push(message.messageId);
      group.pending.set(message.receiptHandle, message.messageId);
      if (!acceptsTag(group.tags, message.tag)) group.wrongTag++;
      const sentAt = (message.body as { sentAt?: unknown } | undefined)?.sentAt;
      if (config.recordLatency && typeof sentAt === "number") {
        group.latenciesMs.push(receivedAt - sentAt);
      }
    }, {
      concurrency: Math.max(1, config.receivers * config.max),
      transport: options.transport ?? "stream",
      onError: (error) => failures.addRequest("consume", error),
      onAcked: (handles, failed) => {
        const refused = new Set(failed.map((f) => f.receiptHandle));
        group.ackFailed += refused.size;
        const now = epochMs();
        for (const handle of handles) {
          const id = group.pending.get(handle);
          group.pending.delete(handle);
          if (id === undefined || refused.has(handle) || group.acked.has(id)) continue;
          group.acked.add(id);
          group.lastNewAckAt = now;
        }
        checkDone();
      },
    })
  );

  checkDone();
  for (const consumer of consumers) consumer.start();
  await finished.promise;
  clearTimeout(deadline);
  await Promise.all(consumers.map((consumer) => consumer.stop()));
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
