/**
 * The dashboard in a real browser: headless Chromium from Debian driven by
 * playwright-core against a real `Deno.serve` on 127.0.0.1 over a broker on
 * `:memory:` KV (the scenario is `_dashboard_browser.ts`, run as a child
 * process). It publishes through the API and watches the counts change live
 * over SSE without a reload, opens a message's timeline, redrives a dead
 * letter through the confirmation, and saves screenshots in a temp dir.
 *
 * Skipped only where Chromium is missing and this is not CI; in CI it runs.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { browserTestSkipped, CHROMIUM, runScenario } from "../_support/browser.ts";

const skip = browserTestSkipped();
if (skip) {
  console.warn(
    `dashboard_browser_test: skipped, ${CHROMIUM} is missing (apt-get install -y chromium); ` +
      "in CI it always runs",
  );
}

Deno.test({
  name:
    "in Chromium the dashboard updates counts live, opens a message's timeline and redrives a dead letter after confirmation",
  ignore: skip,
  async fn() {
    const out = await runScenario(new URL("./_dashboard_browser.ts", import.meta.url));
    const shots = out.match(/dashboard screenshots: (.+)/)?.[1];
    assert(shots, `no screenshots reported:\n${out}`);
    for (const name of ["overview.png", "message.png", "confirm.png", "redriven.png"]) {
      assert(Deno.statSync(`${shots}/${name}`).size > 10_000, `${name} is missing or empty`);
    }
    console.log(`screenshots in ${shots}`);
  },
});
