/**
 * Counted slots, in total and per key: a request (or a long poll) takes one
 * of each while it runs and gives both back when it ends. What is counted
 * is work in progress, so an entry per key exists only while that key holds
 * a slot, and memory follows the requests open now, not every key ever seen.
 *
 * @module
 */

/** Why {@linkcode Slots.take} refused: the total is full, or the key's share is. */
export type SlotRefusal = "total" | "key";

/** A taken slot; disposing it (or calling `release`) gives it back, once. */
export interface Slot extends Disposable {
  /** Gives the slot back; calling it again does nothing. */
  release(): void;
}

/**
 * Slots with a cap in total and a cap per key; a cap of 0 means unlimited.
 *
 * @example
 * ```ts
 * import { Slots } from "./slots.ts";
 * const slots = new Slots({ total: 10, perKey: 1 });
 * const slot = slots.take("wallet");
 * console.log(typeof slot === "object"); // true
 * console.log(slots.take("wallet")); // "key"
 * if (typeof slot === "object") slot.release();
 * console.log(slots.inUse); // 0
 * ```
 */
export class Slots {
  readonly #total: number;
  readonly #perKey: number;
  readonly #byKey = new Map<string, number>();
  #inUse = 0;

  /**
   * Creates the slots.
   *
   * @param caps `total` and `perKey`, each a non-negative integer; 0 = no cap.
   */
  constructor(caps: { total: number; perKey: number }) {
    this.#total = caps.total;
    this.#perKey = caps.perKey;
  }

  /** Slots taken now, over all keys. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Slots `key` holds now. */
  heldBy(key: string): number {
    return this.#byKey.get(key) ?? 0;
  }

  /**
   * Takes a slot for `key`.
   *
   * @param key Who takes it (a principal's name).
   * @param options `shared: true` counts the slot in the total only (for a
   * key no per-key cap applies to).
   * @returns The slot, or which cap refused it.
   */
  take(key: string, options: { shared?: boolean } = {}): Slot | SlotRefusal {
    if (this.#total > 0 && this.#inUse >= this.#total) return "total";
    const perKey = !options.shared;
    const held = this.#byKey.get(key) ?? 0;
    if (perKey && this.#perKey > 0 && held >= this.#perKey) return "key";
    this.#inUse++;
    if (perKey) this.#byKey.set(key, held + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#inUse--;
      if (!perKey) return;
      const left = (this.#byKey.get(key) ?? 1) - 1;
      if (left > 0) this.#byKey.set(key, left);
      else this.#byKey.delete(key);
    };
    return { release, [Symbol.dispose]: release };
  }
}
