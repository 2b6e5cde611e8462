/**
 * The `publisher` role for Escrow: the publish loop ({@linkcode runPublishLoop})
 * with each message sent either as its own plain HTTP request (`client:
 * "http"`, one `POST /v1/topics/{topic}/messages` per message) or through the
 * SDK's `EscrowClient.publish()` (`client: "sdk"`), which coalesces the
 * concurrent publishes into batch requests. A message counts as confirmed
 * when its own 201 (HTTP) or its own result (SDK) came back.
 *
 * @module
 */
import { EscrowClient } from "../client/client.ts";
import { messagePadding, messageRequest, postJson } from "./http_client.ts";
import type { PublisherConfig, PublisherResult } from "./protocol.ts";
import { runPublishLoop, type SendMessage } from "./publish_loop.ts";
import { tagOf } from "./workload.ts";

/** Answers still awaited this long after the deadline are abandoned. */
const ABANDON_AFTER_MS = 10_000;

/** One plain HTTP request per message; confirmed by its 201. */
function httpSender(config: PublisherConfig): SendMessage {
  const endpoint = `${config.url}/v1/topics/${config.topic}/messages`;
  const padding = messagePadding(config.bodyBytes);
  const abandon = AbortSignal.timeout(config.deadlineMs + ABANDON_AFTER_MS);
  return async (index, sentAt) => {
    const answer = await postJson(
      endpoint,
      messageRequest(index, tagOf(index), sentAt, padding),
      abandon,
    );
    if (answer.status !== 201) return { failure: `publish: ${answer.status} ${answer.text}` };
    return { id: (JSON.parse(answer.text) as { messageId: string }).messageId };
  };
}

/** The SDK's `publish()`, batching as it does by default; confirmed by the caller's own result. */
function sdkSender(config: PublisherConfig): SendMessage {
  const token = Deno.env.get("ESCROW_API_TOKEN");
  const client = new EscrowClient(config.url, {
    timeoutMs: config.deadlineMs + ABANDON_AFTER_MS,
    ...(token ? { token } : {}),
  });
  const pad = messagePadding(config.bodyBytes);
  return async (index, sentAt) => {
    const result = await client.publish(config.topic, {
      tag: tagOf(index),
      body: { seq: index, sentAt, pad },
    });
    if (result.duplicate) return { failure: `publish: message ${index} was taken as a duplicate` };
    return { id: result.messageId };
  };
}

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
  const send = config.client === "sdk" ? sdkSender(config) : httpSender(config);
  return await runPublishLoop(config, send);
}
