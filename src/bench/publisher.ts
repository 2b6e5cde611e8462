/**
 * The `publisher` role: publishes the normal messages of an index range to a
 * topic, either in a closed loop (a fixed number of requests in flight) or in
 * an open loop (a fixed rate, whatever the answers), and reports each
 * message's id, the first send and the last confirmation (201).
 *
 * @module
 */
import { delay } from "@std/async/delay";
import { FailureLog, messagePadding, messageRequest, postJson } from "./http_client.ts";
import { readCpuMicros } from "./proc_stats.ts";
import { epochMs, type PublisherConfig, type PublisherResult } from "./protocol.ts";
import { summarizeLatencies } from "./stats.ts";
import { tagOf, TAGS } from "./workload.ts";

/** Answers still awaited this long after the deadline are abandoned. */
const ABANDON_AFTER_MS = 10_000;
/** An open-loop send counts as late past this many ms behind its schedule. */
const LATE_MS = 5;

/**
 * Publishes as `config` says, after `go` has come; resolves with the result.
 *
 * @example
 * ```ts ignore
 * import { publish } from "./publisher.ts";
 * declare const config: import("./protocol.ts").PublisherConfig;
 * const result = await publish(config);
 * console.log(result.confirmed);
 * ```
 */
export async function publish(config: PublisherConfig): Promise<PublisherResult> {
  const { range, bodyBytes } = config;
  const endpoint = `${config.url}/v1/topics/${config.topic}/messages`;
  const padding = messagePadding(bodyBytes);
  const total = range.end - range.start;
  const ids: (string | null)[] = new Array(total).fill(null);
  const tags = Array.from({ length: total }, (_, k) => TAGS.indexOf(tagOf(range.start + k)))
    .join("");
  const failures = new FailureLog();
  const cpuBefore = readCpuMicros("self");
  const startedAt = epochMs();
  const deadline = startedAt + config.deadlineMs;
  const abandon = AbortSignal.timeout(config.deadlineMs + ABANDON_AFTER_MS);
  let firstSendAt = NaN;
  let lastConfirmAt = NaN;
  let confirmed = 0;
  let lateSends = 0;
  const confirmMs: number[] = [];

  const send = async (k: number) => {
    const index = range.start + k;
    const sentAt = epochMs();
    if (Number.isNaN(firstSendAt)) firstSendAt = sentAt;
    try {
      const answer = await postJson(
        endpoint,
        messageRequest(index, tagOf(index), sentAt, padding),
        abandon,
      );
      if (answer.status === 201) {
        ids[k] = (JSON.parse(answer.text) as { messageId: string }).messageId;
        confirmed++;
        lastConfirmAt = epochMs();
        confirmMs.push(lastConfirmAt - sentAt);
      } else {
        failures.addRequest("publish", answer);
      }
    } catch (error) {
      failures.addRequest("publish", error);
    }
  };

  let next = 0;
  if (config.ratePerSecond === undefined) {
    await Promise.all(
      Array.from({ length: Math.min(config.inflight, total) }, async () => {
        while (next < total && epochMs() < deadline) await send(next++);
      }),
    );
  } else {
    const interval = 1000 / config.ratePerSecond;
    const pending = new Set<Promise<void>>();
    while (next < total && epochMs() < deadline) {
      const now = epochMs();
      const due = Math.min(total, Math.floor((now - startedAt) / interval) + 1);
      while (next < due) {
        if (now - (startedAt + next * interval) > LATE_MS) lateSends++;
        const sending = send(next++);
        pending.add(sending);
        sending.finally(() => pending.delete(sending));
      }
      if (next < total) await delay(Math.max(0, startedAt + next * interval - epochMs()));
    }
    await Promise.all(pending);
  }

  return {
    role: "publisher",
    range,
    ids,
    tags,
    firstSendAt,
    lastConfirmAt,
    confirmed,
    lateSends,
    confirmMs: summarizeLatencies(confirmMs),
    errors: failures.count,
    errorSamples: failures.samples,
    timedOut: next < total,
    cpuMicros: readCpuMicros("self") - cpuBefore,
  };
}
