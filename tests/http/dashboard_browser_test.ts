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
import { fromFileUrl } from "@std/path/from-file-url";

const CHROMIUM = "/usr/bin/chromium";
/** The whole scenario's hang guard. */
const TIMEOUT_MS = 120_000;

function chromiumPresent(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

const skip = !chromiumPresent() && Deno.env.get("CI") !== "true";
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
    const script = fromFileUrl(new URL("./_dashboard_browser.ts", import.meta.url));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script],
      cwd: fromFileUrl(new URL("../../", import.meta.url)),
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).spawn();
    const { code, stdout, stderr } = await child.output();
    const out = new TextDecoder().decode(stdout);
    const err = new TextDecoder().decode(stderr);
    assert(code === 0, `the browser scenario failed (exit ${code}):\n${out}\n${err}`);
    const shots = out.match(/dashboard screenshots: (.+)/)?.[1];
    assert(shots, `no screenshots reported:\n${out}`);
    for (const name of ["overview.png", "message.png", "confirm.png", "redriven.png"]) {
      assert(Deno.statSync(`${shots}/${name}`).size > 10_000, `${name} is missing or empty`);
    }
    console.log(`screenshots in ${shots}`);
  },
});
