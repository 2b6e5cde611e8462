/**
 * Receipt handles: the proof of one delivery attempt that a pull consumer
 * acks with. A handle names the exact head of the delivery's event stream it
 * was issued at, so settling it is an append at that position: once anything
 * else happened to the delivery (the visibility timeout passed, a new handle
 * was issued), the append's check fails and the old handle is refused.
 *
 * @module
 */
import { decodeBase64Url, encodeBase64Url } from "@std/encoding/base64url";

/** What a handle carries. */
export interface ReceiptHandle {
  /** Consumer group. */
  readonly group: string;
  readonly messageId: string;
  readonly topic: string;
  /** Seq of the delivery event the handle was issued with. */
  readonly seq: number;
  /** Attempt number (1-based). */
  readonly attempt: number;
  /** End of the visibility timeout, epoch ms. */
  readonly visibleUntil: number;
  /** Message group, for ordered groups. */
  readonly messageGroup?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes a handle as an opaque URL-safe string.
 *
 * @example
 * ```ts
 * import { decodeReceiptHandle, encodeReceiptHandle } from "./receipt_handle.ts";
 * const text = encodeReceiptHandle({ group: "ops", messageId: "m1", topic: "T", seq: 1,
 *   attempt: 1, visibleUntil: 30_000 });
 * decodeReceiptHandle(text)?.messageId; // "m1"
 * ```
 */
export function encodeReceiptHandle(handle: ReceiptHandle): string {
  const parts = [
    handle.group,
    handle.messageId,
    handle.topic,
    handle.seq,
    handle.attempt,
    handle.visibleUntil,
    ...(handle.messageGroup !== undefined ? [handle.messageGroup] : []),
  ];
  return encodeBase64Url(encoder.encode(JSON.stringify(parts)));
}

/**
 * Decodes a handle, or returns undefined when the text is not one.
 *
 * @example
 * ```ts
 * import { decodeReceiptHandle } from "./receipt_handle.ts";
 * decodeReceiptHandle("garbage"); // undefined
 * ```
 */
export function decodeReceiptHandle(text: string): ReceiptHandle | undefined {
  try {
    const parts = JSON.parse(decoder.decode(decodeBase64Url(text)));
    if (!Array.isArray(parts) || parts.length < 6 || parts.length > 7) return undefined;
    const [group, messageId, topic, seq, attempt, visibleUntil, messageGroup] = parts;
    if (
      typeof group !== "string" || typeof messageId !== "string" || typeof topic !== "string" ||
      !Number.isInteger(seq) || !Number.isInteger(attempt) || typeof visibleUntil !== "number" ||
      (messageGroup !== undefined && typeof messageGroup !== "string")
    ) return undefined;
    return {
      group,
      messageId,
      topic,
      seq,
      attempt,
      visibleUntil,
      ...(messageGroup !== undefined ? { messageGroup } : {}),
    };
  } catch {
    return undefined;
  }
}
