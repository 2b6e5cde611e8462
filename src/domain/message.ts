/**
 * The stored shape of a message: immutable facts written once when it is
 * published or prepared. Whether it is visible comes from its transaction's
 * events, never from this record.
 *
 * @module
 */

/** How the body was given: a JSON value or raw bytes (base64 on the wire). */
export type BodyEncoding = "json" | "bytes" | "none";

/** A message as stored under `["msg", id]`. */
export interface MessageRecord {
  readonly messageId: string;
  readonly topic: string;
  readonly tag?: string;
  readonly keys: readonly string[];
  readonly properties: Readonly<Record<string, string>>;
  readonly bodyEncoding: BodyEncoding;
  /** Body bytes kept inside the record when small enough. */
  readonly inlineBody?: Uint8Array;
  /** Number of `["body", id, i]` chunks when the body is stored apart. */
  readonly bodyChunks: number;
  readonly bodySize: number;
  readonly delaySeconds?: number;
  readonly messageGroup?: string;
  readonly dedupId?: string;
  readonly transactionId?: string;
  /** When the broker stored the record (epoch ms). */
  readonly storedAt: number;
}

/** What a producer sends: the common fields of a normal and a half message. */
export interface MessageInput {
  readonly body?: unknown;
  readonly bodyBase64?: string;
  readonly tag?: string;
  readonly keys?: readonly string[];
  readonly properties?: Readonly<Record<string, string>>;
  readonly delaySeconds?: number;
  readonly messageGroup?: string;
  readonly dedupId?: string;
}

/**
 * One message in a topic's log: what consumer groups need to route it
 * without reading the record (its tag and properties), and its delivery hints.
 */
export interface LogEntry {
  readonly messageId: string;
  readonly tag?: string;
  readonly properties: Readonly<Record<string, string>>;
  /** When it became visible (epoch ms). */
  readonly publishedAt: number;
  /** Not to be delivered before this time (epoch ms). */
  readonly deliverAt?: number;
  readonly messageGroup?: string;
  readonly transactionId?: string;
  /** Body size in bytes, to bound what one receive returns (absent when empty). */
  readonly bodySize?: number;
}
