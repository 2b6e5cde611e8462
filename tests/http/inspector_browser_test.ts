/**
 * The inspector page in a real browser: headless Chromium from Debian opens
 * `/inspect?transaction=ID` on a broker whose `ESCROW_INSPECTOR_URL` points
 * at a local stand-in built on `@statelyai/inspect`'s own browser receiver,
 * and the stand-in receives the transaction's replay, then its live steps
 * (the scenario is `_inspector_browser.ts`, run as a child process because
 * playwright-core needs permissions the test runner does not grant).
 *
 * Skipped only where Chromium is missing and this is not CI; in CI it runs.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { browserTestSkipped, runScenario } from "../_support/browser.ts";

Deno.test({
  name:
    "in Chromium /inspect?transaction=ID feeds the inspector the transaction's replay, then its live steps",
  ignore: browserTestSkipped(),
  async fn() {
    const out = await runScenario(new URL("./_inspector_browser.ts", import.meta.url));
    const dir = out.match(/inspector screenshot: (.+)/)?.[1];
    assert(dir, `no screenshot reported:\n${out}`);
    assert(
      Deno.statSync(`${dir}/inspector.png`).size > 5_000,
      "the screenshot is missing or empty",
    );
  },
});
