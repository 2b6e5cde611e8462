/**
 * Phase 4, tx: transactional messages. Producer processes prepare a half
 * message and then commit it (or roll back 10 % of them), many in flight
 * each, while one consumer drains a `*` group. The figure is decided
 * transactions per second (prepare and decision both answered, over the
 * time from the first prepare to the last decision); the consumer must get
 * exactly the committed messages: none rolled back, none missing.
 *
 * @module
 */
import { createGroups, createTopic } from "../broker_api.ts";
import { Crew } from "../crew.ts";
import {
  cpuBreakdown,
  cpuMicrosPerMessage,
  type Metrics,
  otherCpuPercent,
  type PhaseEnv,
  ratePerSecond,
  startBroker,
} from "../phase.ts";
import type { ConsumerResult, ProducerResult } from "../protocol.ts";
import { readCpuMicros } from "../proc_stats.ts";
import { senderConfigs, TOPIC } from "../workload.ts";

const GROUP = { name: "all", tags: "*" };
/** After the last ack, keep receiving this long to catch duplicates and late rollbacks. */
const DUPLICATE_GRACE_MS = 500;

/**
 * Runs the tx phase once.
 *
 * @example
 * ```ts ignore
 * import { runTxPhase } from "./tx.ts";
 * declare const env: import("../phase.ts").PhaseEnv;
 * console.log((await runTxPhase(env))["tx.msgPerSec"]);
 * ```
 */
export async function runTxPhase(env: PhaseEnv): Promise<Metrics> {
  const { options } = env;
  const deadlineMs = options.phaseTimeoutSeconds * 1000;
  await using broker = await startBroker(env);
  await createTopic(broker.url, TOPIC);
  await createGroups(broker.url, TOPIC, [GROUP]);
  await using crew = new Crew();
  const [consumer] = crew.spawn("consumer", [{
    role: "consumer",
    url: broker.url,
    groups: [GROUP],
    receivers: options.receivers,
    max: 256,
    waitSeconds: 1,
    recordLatency: false,
    stopWhenDone: false,
    deadlineMs,
  }]);
  const producers = crew.spawn(
    "producer",
    senderConfigs("producer", {
      url: broker.url,
      total: options.txN,
      processes: options.publishers,
      inflight: options.inflight,
      bodyBytes: options.bodyBytes,
      deadlineMs,
    }),
  );
  await crew.ready();
  const before = broker.sample();
  const ownCpuBefore = readCpuMicros("self");
  const startedAt = Date.now();
  await crew.send([consumer!], { type: "go" });
  await crew.send(producers, { type: "go" });
  const produced = await crew.results<ProducerResult>(producers, deadlineMs + 20_000);
  const committed = new Set(produced.flatMap((r) => r.committed));
  const rolledBack = new Set(produced.flatMap((r) => r.rolledBack));
  await consumer!.send({ type: "expect", counts: { [GROUP.name]: committed.size } });
  let timedOut = false;
  try {
    await crew.done([consumer!], Math.max(1_000, startedAt + deadlineMs - Date.now()));
  } catch (error) {
    timedOut = true;
    env.log(`tx: ${(error as Error).message.split("\n")[0]}`);
  }
  const after = broker.sample();
  const ownCpuMicros = readCpuMicros("self") - ownCpuBefore;
  await new Promise((resolve) => setTimeout(resolve, DUPLICATE_GRACE_MS));
  await consumer!.send({ type: "stop" });
  const [consumed] = await crew.results<ConsumerResult>([consumer!], 20_000);
  const delivered = consumed!.groups[0]!.ids;
  const distinct = new Set(delivered);
  const decided = committed.size + rolledBack.size;
  const firstSendAt = Math.min(...produced.map((r) => r.firstSendAt).filter(Number.isFinite));
  const lastDecisionAt = Math.max(
    ...produced.map((r) => r.lastDecisionAt).filter(Number.isFinite),
  );
  for (const sample of [...produced, consumed!].flatMap((r) => r.errorSamples).slice(0, 3)) {
    env.log(`tx error: ${sample}`);
  }
  return {
    "tx.msgPerSec": ratePerSecond(decided, firstSendAt, lastDecisionAt),
    "tx.committed": committed.size,
    "tx.rolledBack": rolledBack.size,
    "tx.missing": [...committed].filter((id) => !distinct.has(id)).length,
    "tx.rolledBackDelivered": [...distinct].filter((id) => rolledBack.has(id)).length,
    "tx.unknownDelivered": [...distinct].filter((id) => !committed.has(id) && !rolledBack.has(id))
      .length,
    "tx.duplicates": delivered.length - distinct.size,
    "tx.errors": [...produced, consumed!].reduce((sum, r) => sum + r.errors, 0),
    "tx.timedOut": timedOut || produced.some((r) => r.timedOut) ? 1 : 0,
    "tx.allDeliveredSeconds": (consumed!.groups[0]!.doneAt - firstSendAt) / 1000,
    "tx.cpuUsPerMsg": cpuMicrosPerMessage(before, after, decided),
    "tx.peakRssMb": after.peakMb,
    "tx.endRssMb": after.rssMb,
    "tx.otherCpuPct": otherCpuPercent(
      before,
      after,
      [...produced, consumed!].reduce((sum, r) => sum + r.cpuMicros, 0),
      ownCpuMicros,
    ),
    ...cpuBreakdown("tx", before, after, decided),
  };
}
