/**
 * The `producer` role: for each index of its range, prepares a
 * transactional (half) message and then decides it, committing most and
 * rolling back the 10 % that `rollsBack` picks, with a fixed number of
 * transactions in flight; reports the message ids each decision applied to.
 *
 * @module
 */
import { FailureLog, messagePadding, messageRequest, postJson } from "./http_client.ts";
import { readCpuMicros } from "./proc_stats.ts";
import { epochMs, type ProducerConfig, type ProducerResult } from "./protocol.ts";
import { rollsBack, tagOf } from "./workload.ts";

/** Answers still awaited this long after the deadline are abandoned. */
const ABANDON_AFTER_MS = 10_000;

/**
 * Prepares and decides the transactions of `config.range`.
 *
 * @example
 * ```ts ignore
 * import { produce } from "./producer.ts";
 * declare const config: import("./protocol.ts").ProducerConfig;
 * const result = await produce(config);
 * console.log(result.committed.length);
 * ```
 */
export async function produce(config: ProducerConfig): Promise<ProducerResult> {
  const { range } = config;
  const prepareUrl = `${config.url}/v1/topics/${config.topic}/transactions`;
  const padding = messagePadding(config.bodyBytes);
  const failures = new FailureLog();
  const committed: string[] = [];
  const rolledBack: string[] = [];
  const cpuBefore = readCpuMicros("self");
  const deadline = epochMs() + config.deadlineMs;
  const abandon = AbortSignal.timeout(config.deadlineMs + ABANDON_AFTER_MS);
  let firstSendAt = NaN;
  let lastDecisionAt = NaN;

  const transact = async (index: number) => {
    const sentAt = epochMs();
    if (Number.isNaN(firstSendAt)) firstSendAt = sentAt;
    try {
      const prepared = await postJson(
        prepareUrl,
        messageRequest(index, tagOf(index), sentAt, padding),
        abandon,
      );
      if (prepared.status !== 201) return failures.addRequest("prepare", prepared);
      const { transactionId, messageId } = JSON.parse(prepared.text) as {
        transactionId: string;
        messageId: string;
      };
      const decision = rollsBack(index) ? "rollback" : "commit";
      const decided = await postJson(
        `${config.url}/v1/transactions/${encodeURIComponent(transactionId)}/${decision}`,
        undefined,
        abandon,
      );
      if (decided.status !== 200) return failures.addRequest(decision, decided);
      (decision === "commit" ? committed : rolledBack).push(messageId);
      lastDecisionAt = epochMs();
    } catch (error) {
      failures.addRequest("transaction", error);
    }
  };

  let next = range.start;
  await Promise.all(
    Array.from({ length: Math.min(config.inflight, range.end - range.start) }, async () => {
      while (next < range.end && epochMs() < deadline) await transact(next++);
    }),
  );
  return {
    role: "producer",
    committed,
    rolledBack,
    firstSendAt,
    lastDecisionAt,
    errors: failures.count,
    errorSamples: failures.samples,
    timedOut: next < range.end,
    cpuMicros: readCpuMicros("self") - cpuBefore,
  };
}
