/**
 * Acks of one group that arrive while an earlier one is being settled wait
 * for it and then settle together, as one: the handles of one lease are
 * then acked by one record in one commit. Without this, a push group (which
 * acks every message on its own, many at once) or many small ack calls would
 * each rewrite the same lease, one commit after another, most losing their
 * check on it and settling again one by one.
 *
 * A handle is settled once per batch: a call naming a handle that an
 * earlier call of the batch names waits for the next batch, so that of two
 * acks of one handle exactly one reports it settled, as before.
 *
 * @module
 */
import type { SettleResult } from "./settle.ts";

/** Most handles settled together. */
const MAX_BATCH = 2_048;

interface Waiting {
  readonly texts: readonly string[];
  resolve(result: SettleResult): void;
  reject(error: unknown): void;
}

/**
 * Settles one group's acks in batches (see the module doc).
 *
 * @example
 * ```ts
 * import { AckBatcher } from "./ack_batcher.ts";
 * const batcher = new AckBatcher(async (texts) => ({ settled: texts.length, failed: [] }));
 * const [a, b] = await Promise.all([batcher.ack(["h1"]), batcher.ack(["h2", "h3"])]);
 * console.log(a.settled, b.settled); // 1 2
 * ```
 */
export class AckBatcher {
  readonly #settle: (texts: readonly string[]) => Promise<SettleResult>;
  #queue: Waiting[] = [];
  #running = false;

  /** Creates a batcher over the function that settles a batch's handles. */
  constructor(settle: (texts: readonly string[]) => Promise<SettleResult>) {
    this.#settle = settle;
  }

  /** Whether nothing is waiting or being settled. */
  get idle(): boolean {
    return !this.#running && this.#queue.length === 0;
  }

  /** Acks `texts`, together with the acks that wait alongside; resolves with this call's part. */
  ack(texts: readonly string[]): Promise<SettleResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ texts: [...new Set(texts)], resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#take();
        try {
          const result = await this.#settle(batch.flatMap((waiting) => waiting.texts));
          const failed = new Map(result.failed.map((f) => [f.receiptHandle, f]));
          for (const waiting of batch) {
            const mine = waiting.texts.flatMap((text) => failed.get(text) ?? []);
            waiting.resolve({ settled: waiting.texts.length - mine.length, failed: mine });
          }
        } catch (error) {
          for (const waiting of batch) waiting.reject(error);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** The waiting calls that settle together now: no handle twice, at most MAX_BATCH handles. */
  #take(): Waiting[] {
    const seen = new Set<string>();
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    for (const waiting of this.#queue) {
      const fits = batch.length === 0 || seen.size + waiting.texts.length <= MAX_BATCH;
      if (!fits || waiting.texts.some((text) => seen.has(text))) {
        rest.push(waiting);
        continue;
      }
      batch.push(waiting);
      for (const text of waiting.texts) seen.add(text);
    }
    this.#queue = rest;
    return batch;
  }
}
