/**
 * A bounded, least-recently-used cache of transaction streams this process
 * wrote or read: the events, the replayed snapshot and the message record.
 * It saves the read and the replay before an append; it never decides
 * anything alone, because every append is checked against the stream's
 * version, and a stale entry (another process appended) makes that check
 * fail, which drops the entry and reloads from KV.
 *
 * @module
 */
import type { TransactionEvent } from "../../domain/events.ts";
import type { MessageRecord } from "../../domain/message.ts";
import type { TransactionSnapshot } from "./replay.ts";

/** What is cached per transaction. */
export interface CachedStream {
  readonly events: readonly TransactionEvent[];
  readonly snapshot: TransactionSnapshot;
  /** The half message, kept from prepare so that commit need not read it. */
  readonly record?: MessageRecord;
}

/**
 * An LRU map of transaction id → cached stream.
 *
 * @example
 * ```ts
 * import { StreamCache } from "./stream_cache.ts";
 * const cache = new StreamCache(2);
 * cache.get("t1"); // undefined
 * ```
 */
export class StreamCache {
  readonly #max: number;
  readonly #entries = new Map<string, CachedStream>();

  /** Creates a cache of at most `max` streams. */
  constructor(max = 4_096) {
    this.#max = max;
  }

  /** The cached stream, marked as recently used. */
  get(id: string): CachedStream | undefined {
    const entry = this.#entries.get(id);
    if (entry) {
      this.#entries.delete(id);
      this.#entries.set(id, entry);
    }
    return entry;
  }

  /** Caches a stream, evicting the least recently used beyond the bound. */
  set(id: string, entry: CachedStream): void {
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  /** Forgets a stream (after a failed append). */
  delete(id: string): void {
    this.#entries.delete(id);
  }
}
