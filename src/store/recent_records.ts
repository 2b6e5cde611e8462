/**
 * The message records this process committed lately, kept in memory so that
 * a receive of a message published moments ago need not read its record
 * back from Deno KV. A message record is written once, in the commit that
 * stores its message, and never changed or deleted, so a record remembered
 * after that commit is the stored one for as long as it is kept. Records
 * another process stored are simply not here: their readers fall back to KV.
 *
 * @module
 */
import type { MessageRecord } from "../domain/message.ts";

/** What a remembered record is counted as beyond its inline body (keys, fields, the map). */
const RECORD_OVERHEAD_BYTES = 256;

/**
 * Default bound of the bytes kept: the last 800 or so 1 KiB messages, about a second at
 * 1,000 msg/s. A larger bound also serves consumers that lag further behind (the fan-out
 * bench: 4 MiB, 8 % faster) but keeps every record long enough to be promoted to V8's old
 * generation (4 MiB: 15 MB more resident at the peak).
 */
export const RECENT_RECORDS_BYTES = 1024 * 1024;

/**
 * A byte-bounded, first-in first-out memory of committed message records.
 *
 * @example
 * ```ts
 * import { RecentRecords } from "./recent_records.ts";
 * const recent = new RecentRecords(1024 * 1024);
 * recent.remember({
 *   messageId: "m1", topic: "T", keys: [], properties: {}, bodyEncoding: "json",
 *   bodyChunks: 0, bodySize: 0, storedAt: 0,
 * });
 * console.log(recent.get("m1")?.topic); // "T"
 * ```
 */
export class RecentRecords {
  readonly #maxBytes: number;
  readonly #records = new Map<string, MessageRecord>();
  /** Ids in the order they were remembered, from `#oldest` on (a queue over an array). */
  #order: string[] = [];
  #oldest = 0;
  #bytes = 0;

  /** A memory of at most `maxBytes` (counted as inline body bytes plus a fixed overhead). */
  constructor(maxBytes: number = RECENT_RECORDS_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** A record whose commit succeeded; the oldest are forgotten past the bound. */
  remember(record: MessageRecord): void {
    if (this.#records.has(record.messageId)) return;
    this.#records.set(record.messageId, record);
    this.#order.push(record.messageId);
    this.#bytes += sizeOf(record);
    // Forgotten through the queue, not by iterating the map: a map whose oldest entries are
    // deleted one by one makes each new iteration step over the deleted ones first.
    while (this.#bytes > this.#maxBytes && this.#oldest < this.#order.length) {
      const id = this.#order[this.#oldest++]!;
      this.#bytes -= sizeOf(this.#records.get(id)!);
      this.#records.delete(id);
    }
    if (this.#oldest > 1024 && this.#oldest * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#oldest);
      this.#oldest = 0;
    }
  }

  /** The committed record of `messageId`, when this process stored it lately. */
  get(messageId: string): MessageRecord | undefined {
    return this.#records.get(messageId);
  }

  /** How many records are kept now. */
  get size(): number {
    return this.#records.size;
  }
}

function sizeOf(record: MessageRecord): number {
  return (record.inlineBody?.byteLength ?? 0) + RECORD_OVERHEAD_BYTES;
}
