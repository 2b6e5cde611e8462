/**
 * The NATS `publisher` role: the same index range, tags, bodies, closed or
 * open loop and result as Escrow's publisher ({@linkcode PublisherResult}),
 * but each message is a JetStream publish on `acc.<tag>` over one NATS
 * connection, confirmed when the stream's acknowledgement (its sequence
 * number, the message's id here) comes back. With `dedup`, each publish
 * carries a `Nats-Msg-Id` and an answer marked duplicate counts as a failure.
 *
 * @module
 */
import { delay } from "@std/async/delay";
import type { JetStreamClient } from "nats";
import { FailureLog, messagePadding } from "../http_client.ts";
import { readCpuMicros } from "../proc_stats.ts";
import { epochMs, type PublisherResult } from "../protocol.ts";
import { summarizeLatencies } from "../stats.ts";
import { tagOf, TAGS } from "../workload.ts";
import { natsPayload, type NatsPublisherConfig, subjectOf } from "./nats_workload.ts";

/** An open-loop send counts as late past this many ms behind its schedule. */
const LATE_MS = 5;
/** How long one publish may wait for the stream's acknowledgement. */
const PUBLISH_TIMEOUT_MS = 10_000;

/**
 * Publishes as `config` says over `js`; resolves with the result.
 *
 * @example
 * ```ts ignore
 * import { connect } from "nats";
 * import { natsPublish } from "./nats_publisher.ts";
 * declare const config: import("./nats_workload.ts").NatsPublisherConfig;
 * const nc = await connect({ servers: config.url });
 * console.log((await natsPublish(nc.jetstream(), config)).confirmed);
 * ```
 */
export async function natsPublish(
  js: JetStreamClient,
  config: NatsPublisherConfig,
): Promise<PublisherResult> {
  const { range } = config;
  const padding = messagePadding(config.bodyBytes);
  const encoder = new TextEncoder();
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

  const send = async (k: number) => {
    const index = range.start + k;
    const sentAt = epochMs();
    if (Number.isNaN(firstSendAt)) firstSendAt = sentAt;
    try {
      const ack = await js.publish(
        subjectOf(tagOf(index)),
        encoder.encode(natsPayload(index, sentAt, padding)),
        config.dedup
          ? { msgID: `m-${index}`, timeout: PUBLISH_TIMEOUT_MS }
          : { timeout: PUBLISH_TIMEOUT_MS },
      );
      if (ack.duplicate) {
        failures.add(`publish: message ${index} was taken as a duplicate (seq ${ack.seq})`);
        return;
      }
      ids[k] = String(ack.seq);
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
