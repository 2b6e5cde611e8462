/**
 * `deno task demo`: the fund company's two scenarios, narrated, against a
 * broker on a temporary KV. Exits 0 only when every check holds.
 *
 * @module
 */
import { runAccompaniment } from "./accompaniment.ts";
import { runDiscountPurchase } from "./discount_purchase.ts";
import { Narrator, startDemoBroker } from "./harness.ts";

/**
 * Runs both scenarios; returns the checks that failed.
 *
 * @example
 * ```ts
 * import { runDemo } from "./main.ts";
 * const failures = await runDemo({ quiet: true });
 * console.log(failures.length === 0);
 * ```
 */
export async function runDemo(options: { quiet?: boolean } = {}): Promise<string[]> {
  const narrator = new Narrator(options);
  await using broker = await startDemoBroker();
  narrator.step(`broker running at ${broker.url}`);
  await runAccompaniment(broker.client, narrator);
  await runDiscountPurchase(broker.client, narrator);
  return narrator.failures;
}

if (import.meta.main) {
  const failures = await runDemo();
  console.log(
    failures.length === 0
      ? "\nEvery check held."
      : `\n${failures.length} check(s) failed:\n- ${failures.join("\n- ")}`,
  );
  Deno.exit(failures.length === 0 ? 0 : 1);
}
