/**
 * Publish rates derived from the topics' `published` counters sampled over
 * time: nothing new is stored, each open page keeps its own few samples.
 *
 * @module
 */

/** How far back the samples of a rate reach. */
export const RATE_WINDOW_MS = 10_000;

/**
 * Keeps the last {@linkcode RATE_WINDOW_MS} of counter samples per topic.
 *
 * @example
 * ```ts
 * import { RateMeter } from "./rate_meter.ts";
 * const meter = new RateMeter();
 * meter.observe(0, { Trade: 10 });
 * meter.observe(2_000, { Trade: 30 });
 * meter.rate("Trade"); // 10 (per second)
 * ```
 */
export class RateMeter {
  readonly #samples = new Map<string, { at: number; value: number }[]>();

  /** Records the counters as read at `at` (epoch ms). */
  observe(at: number, counters: Readonly<Record<string, number>>): void {
    for (const [name, value] of Object.entries(counters)) {
      const samples = this.#samples.get(name) ?? [];
      samples.push({ at, value });
      while (samples.length > 1 && samples[0]!.at < at - RATE_WINDOW_MS) samples.shift();
      this.#samples.set(name, samples);
    }
  }

  /** Per second over the window, or undefined before two samples half a second apart. */
  rate(name: string): number | undefined {
    const samples = this.#samples.get(name);
    const first = samples?.[0];
    const last = samples?.at(-1);
    if (!first || !last || last.at - first.at < 500) return undefined;
    return Math.max(0, last.value - first.value) / ((last.at - first.at) / 1_000);
  }
}
