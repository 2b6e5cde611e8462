/**
 * The shapes the broker, its HTTP layer and the SDK share on the wire: a
 * delivered message (pull receives and push requests, times as ISO 8601)
 * and the check-back request a producer answers. They live here so that
 * neither the HTTP layer nor the SDK imports the engine for them.
 *
 * @module
 */
import type { WireBody } from "./body.ts";

/** A message handed to a consumer. */
export interface ReceivedMessage extends WireBody {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly topic: string;
  readonly tag?: string;
  readonly keys: readonly string[];
  readonly properties: Readonly<Record<string, string>>;
  readonly publishedAt: number;
  readonly attempt: number;
  readonly transactionId?: string;
  readonly messageGroup?: string;
}

/** What the broker POSTs to the producer's check URL. */
export interface CheckBackRequest {
  readonly transactionId: string;
  readonly messageId: string;
  readonly topic: string;
  readonly tag?: string;
  readonly keys: readonly string[];
  readonly properties: Readonly<Record<string, string>>;
  readonly producerGroup?: string;
  readonly checkCount: number;
}

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
 * import { toWireMessage } from "./wire.ts";
 * declare const message: import("./wire.ts").ReceivedMessage;
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
