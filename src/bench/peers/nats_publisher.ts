/**
 * The NATS `publisher` role: the same publish loop as Escrow's publisher
 * (`publish_loop.ts`: index range, tags, bodies, closed or open loop, result),
 * but each message is a JetStream publish on `acc.<tag>` over one NATS
 * connection, confirmed when the stream's acknowledgement (its sequence
 * number, the message's id here) comes back. With `dedup`, each publish
 * carries a `Nats-Msg-Id` and an answer marked duplicate counts as a failure.
 *
 * @module
 */
import type { JetStreamClient } from "nats";
import { messagePadding } from "../http_client.ts";
import type { PublisherResult } from "../protocol.ts";
import { runPublishLoop } from "../publish_loop.ts";
import { tagOf } from "../workload.ts";
import { natsPayload, type NatsPublisherConfig, subjectOf } from "./nats_workload.ts";

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
  const padding = messagePadding(config.bodyBytes);
  const encoder = new TextEncoder();
  return await runPublishLoop(config, async (index, sentAt) => {
    const ack = await js.publish(
      subjectOf(tagOf(index)),
      encoder.encode(natsPayload(index, sentAt, padding)),
      config.dedup
        ? { msgID: `m-${index}`, timeout: PUBLISH_TIMEOUT_MS }
        : { timeout: PUBLISH_TIMEOUT_MS },
    );
    if (ack.duplicate) {
      return { failure: `publish: message ${index} was taken as a duplicate (seq ${ack.seq})` };
    }
    return { id: String(ack.seq) };
  });
}
