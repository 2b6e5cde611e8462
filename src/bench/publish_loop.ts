/**
 * The loop every publisher role runs, whatever it publishes to (Escrow over
 * plain HTTP or the SDK, NATS JetStream): the messages of an index range,
 * either in a closed loop (a fixed number of sends in flight) or in an open
 * loop (a fixed rate, whatever the answers), recording each message's id,
 * the first send, the last confirmation and each send → confirmation time.
 * A role gives only how one message is sent.
 *
 * @module
 */
import { delay } from "@std/async/delay";
import { FailureLog } from "./http_client.ts";
import { readCpuMicros } from "./proc_stats.ts";
import { epochMs, type PublisherConfig, type PublisherResult } from "./protocol.ts";
import { summarizeLatencies } from "./stats.ts";
import { tagOf, TAGS } from "./workload.ts";

/** An open-loop send counts as late past this many ms behind its schedule. */
const LATE_MS = 5;

/** What sending one message came to: its id once confirmed, or why not. */
export type SendOutcome = { readonly id: string } | { readonly failure: string };

/** Sends message `index` (sent at `sentAt`, epoch ms); a throw counts as a failure. */
export type SendMessage = (index: number, sentAt: number) => Promise<SendOutcome>;

/**
 * Publishes the range of `config` with `send`, after `go` has come; resolves
 * with the result.
 *
 * @example
 * ```ts
 * import { runPublishLoop } from "./publish_loop.ts";
 * const result = await runPublishLoop(
 *   { role: "publisher", url: "", topic: "T", range: { start: 0, end: 3 }, inflight: 2, bodyBytes: 0, deadlineMs: 1_000 },
 *   (index) => Promise.resolve({ id: `m${index}` }),
 * );
 * console.log(result.ids); // ["m0", "m1", "m2"]
 * ```
 */
export async function runPublishLoop(
  config: PublisherConfig,
  send: SendMessage,
): Promise<PublisherResult> {
  const { range } = config;
  const total = range.end - range.start;
  const ids: (string | null)[] = new Array(total).fill(null);
  const tags = Array.from({ length: total }, (_, k) => TAGS.indexOf(tagOf(range.start + k)))
    .join("");
  const failures = new FailureLog();
  const cpuBefore = readCpuMicros("self");
  const startedAt = epochMs();
  const deadline = startedAt + config.deadlineMs;
  let firstSendAt = NaN;
  let lastConfirmAt = NaN;
  let confirmed = 0;
  let lateSends = 0;
  const confirmMs: number[] = [];

  const sendOne = async (k: number) => {
    const sentAt = epochMs();
    if (Number.isNaN(firstSendAt)) firstSendAt = sentAt;
    try {
      const outcome = await send(range.start + k, sentAt);
      if ("failure" in outcome) return failures.add(outcome.failure);
      ids[k] = outcome.id;
      confirmed++;
      lastConfirmAt = epochMs();
      confirmMs.push(lastConfirmAt - sentAt);
    } catch (error) {
      failures.addRequest("publish", error);
    }
  };

  let next = 0;
  if (config.ratePerSecond === undefined) {
    await Promise.all(
      Array.from({ length: Math.min(config.inflight, total) }, async () => {
        while (next < total && epochMs() < deadline) await sendOne(next++);
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
        const sending = sendOne(next++);
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
