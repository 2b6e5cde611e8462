/**
 * The JSON shape of a delivered message, shared by pull receives and push
 * requests (times as ISO 8601).
 *
 * @module
 */
import type { ReceivedMessage } from "./deliveries.ts";

/** A delivered message as JSON. */
export interface WireMessage {
  messageId: string;
  receiptHandle?: string;
  topic: string;
  tag?: string;
  keys: string[];
  properties: Record<string, string>;
  body?: unknown;
  bodyBase64?: string;
  publishedAt: string;
  attempt: number;
  transactionId?: string;
  messageGroup?: string;
}

/**
 * Turns a received message into its JSON shape, with or without the handle.
 *
 * @example
 * ```ts
 * import { toWireMessage } from "./wire_message.ts";
 * declare const message: import("./deliveries.ts").ReceivedMessage;
 * JSON.stringify(toWireMessage(message, { withHandle: false }));
 * ```
 */
export function toWireMessage(
  message: ReceivedMessage,
  options: { withHandle: boolean },
): WireMessage {
  const { receiptHandle, publishedAt, keys, properties, ...rest } = message;
  return {
    ...rest,
    ...(options.withHandle ? { receiptHandle } : {}),
    keys: [...keys],
    properties: { ...properties },
    publishedAt: new Date(publishedAt).toISOString(),
  };
}
