/**
 * Messages between Escrow's shape and RocketMQ's `Message`: bodies are bytes
 * (what HTTP shows as `bodyBase64`; a JSON body is its compact text), tag,
 * keys and user properties pass as they are, and every message handed to a
 * client carries the digest, handle and attempt the clients insist on.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { decodeBase64 } from "@std/encoding/base64";
import type { WireBody } from "../domain/body.ts";
import { StatusError } from "./status.ts";

/** A `google.protobuf.Duration` or `Timestamp` as the loader gives it. */
export interface ProtoTime {
  readonly seconds?: number | string;
  readonly nanos?: number;
}

/** A `Message` as the loader gives and takes it (camelCase fields). */
export interface ProtoMessage {
  topic?: { name?: string; resourceNamespace?: string };
  userProperties?: Record<string, string>;
  systemProperties?: Record<string, unknown>;
  body?: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * Milliseconds of a duration or timestamp (undefined when absent).
 *
 * @example
 * ```ts
 * import { millisOf } from "./message.ts";
 * millisOf({ seconds: 1, nanos: 500_000_000 }); // 1500
 * ```
 */
export function millisOf(time: ProtoTime | undefined | null): number | undefined {
  if (!time) return undefined;
  return Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}

/**
 * A duration or timestamp of `ms` milliseconds.
 *
 * @example
 * ```ts
 * import { protoTime } from "./message.ts";
 * protoTime(1500); // { seconds: 1, nanos: 500000000 }
 * ```
 */
export function protoTime(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/**
 * The bytes of a stored body: raw bytes as they are, a JSON body as its compact text.
 *
 * @example
 * ```ts
 * import { bodyBytes } from "./message.ts";
 * bodyBytes({ body: { a: 1 } }).length; // 7
 * ```
 */
export function bodyBytes(wire: WireBody): Uint8Array {
  if (wire.bodyBase64 !== undefined) return decodeBase64(wire.bodyBase64);
  if (wire.body !== undefined) return encoder.encode(JSON.stringify(wire.body));
  return new Uint8Array();
}

/**
 * The body a client sent, decompressed when it says `GZIP`.
 *
 * @example
 * ```ts
 * import { sentBody } from "./message.ts";
 * sentBody({ body: new Uint8Array([104, 105]) }).length; // 2
 * ```
 */
export function sentBody(message: ProtoMessage): Uint8Array {
  const body = message.body ?? new Uint8Array();
  if (message.systemProperties?.bodyEncoding !== "GZIP") return body;
  try {
    return new Uint8Array(gunzipSync(body));
  } catch {
    throw new StatusError("BAD_REQUEST", "Cannot accept message: its GZIP body does not inflate");
  }
}

/** What {@linkcode toProtoMessage} needs of a message. */
export interface OutgoingMessage {
  readonly messageId: string;
  readonly topic: string;
  readonly tag?: string;
  readonly keys: readonly string[];
  readonly properties: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly bornAt: number;
  readonly messageGroup?: string;
  readonly transactionId?: string;
  readonly receiptHandle?: string;
  readonly attempt?: number;
  readonly invisibleMs?: number;
}

/**
 * A RocketMQ `Message` for a client (with its MD5 body digest).
 *
 * @example
 * ```ts
 * import { toProtoMessage } from "./message.ts";
 * toProtoMessage({
 *   messageId: "m1", topic: "Trade", keys: [], properties: {}, body: new Uint8Array(), bornAt: 0,
 * }).systemProperties?.messageId; // "m1"
 * ```
 */
export function toProtoMessage(message: OutgoingMessage): ProtoMessage {
  const type = message.transactionId !== undefined
    ? "TRANSACTION"
    : message.messageGroup !== undefined
    ? "FIFO"
    : "NORMAL";
  return {
    topic: { name: message.topic, resourceNamespace: "" },
    userProperties: { ...message.properties },
    body: message.body,
    systemProperties: {
      messageId: message.messageId,
      keys: [...message.keys],
      bodyDigest: {
        type: "MD5",
        checksum: createHash("md5").update(message.body).digest("hex").toUpperCase(),
      },
      bodyEncoding: "IDENTITY",
      messageType: type,
      bornTimestamp: protoTime(message.bornAt),
      bornHost: "escrow",
      storeTimestamp: protoTime(message.bornAt),
      storeHost: "escrow",
      queueId: 0,
      ...(message.tag !== undefined ? { tag: message.tag } : {}),
      ...(message.messageGroup !== undefined ? { messageGroup: message.messageGroup } : {}),
      ...(message.receiptHandle !== undefined ? { receiptHandle: message.receiptHandle } : {}),
      ...(message.attempt !== undefined ? { deliveryAttempt: message.attempt } : {}),
      ...(message.invisibleMs !== undefined
        ? { invisibleDuration: protoTime(message.invisibleMs) }
        : {}),
    },
  };
}
