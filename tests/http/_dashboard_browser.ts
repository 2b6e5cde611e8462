/**
 * The dashboard scenario the real-browser test runs in a child process
 * (playwright-core reads the home folder and more, which the test runner's
 * permissions do not grant): a real `Deno.serve` on 127.0.0.1 over a broker
 * on `:memory:` KV, headless Chromium from Debian, every wait bounded.
 * Exits 0 when every step held; prints where its screenshots are.
 *
 * `deno run -A tests/http/_dashboard_browser.ts` runs it by hand;
 * `ESCROW_DASHBOARD_SCREENSHOT=docs/dashboard.png` also copies the overview.
 *
 * @module
 */
import { assertEquals } from "@std/assert/equals";
import { assertStringIncludes } from "@std/assert/string-includes";
import { join } from "@std/path";
import { chromium } from "playwright-core";
import { Broker } from "../../src/engine/broker.ts";
import { createApp } from "../../src/http/app.ts";
import { type Call, seedScene } from "./_dashboard.ts";
import { apiCaller, CHROMIUM } from "../_support/browser.ts";

/** Every wait in the browser is bounded by this (a hang guard, not a speed check). */
const WAIT_MS = 15_000;

/**
 * Serves a seeded broker, drives Chromium through the dashboard and asserts
 * each step; returns the folder holding the screenshots.
 *
 * @example
 * ```ts
 * import { runBrowserScenario } from "./_dashboard_browser.ts";
 * const shots = await runBrowserScenario();
 * ```
 */
export async function runBrowserScenario(): Promise<string> {
  await using stack = new AsyncDisposableStack();
  const kv = await Deno.openKv(":memory:");
  stack.defer(() => kv.close());
  const broker = await Broker.open(kv, { schedulerMode: "sweep" });
  stack.defer(() => broker.stop());
  const app = createApp(broker);
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  stack.defer(() => server.shutdown());
  const base = `http://127.0.0.1:${server.addr.port}`;
  const call: Call = apiCaller(base, WAIT_MS);
  const scene = await seedScene(call);
  const shots = await Deno.makeTempDir({ prefix: "escrow-dashboard-" });

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  stack.defer(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(WAIT_MS);
  const failed: string[] = [];
  // The live stream is cut by every navigation away; anything else failing is a fault.
  page.on("requestfailed", (req) => {
    if (!req.url().endsWith("/dashboard/events")) failed.push(req.url());
  });
  page.on("request", (req) => {
    if (!req.url().startsWith(base)) failed.push(`another host: ${req.url()}`);
  });

  // Live: the page stays, the counts move.
  await page.goto(`${base}/`);
  await page.locator("#live.on").waitFor();
  const published = page.locator('[data-topic="Trade"] [data-field="published"]');
  assertEquals(await published.textContent(), "2");
  await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
  for (let i = 0; i < 3; i++) {
    await call("POST", "/v1/topics/Trade/messages", {
      tag: "FundPurchase",
      keys: [`order-${2001 + i}`],
      body: { order: 2001 + i },
    });
  }
  await page.locator('[data-topic="Trade"] [data-field="published"]', { hasText: /^5$/ })
    .waitFor();
  await page.locator('[data-group="audit"] [data-field="backlog"]', { hasText: "4" }).waitFor();
  // Rates come from counters sampled once a second; three publishes make one above zero.
  await page.locator('[data-topic="Trade"] [data-field="rate"]', { hasText: /[1-9]/ }).waitFor();
  assertEquals(
    await page.evaluate(() => "notReloaded" in globalThis),
    true,
    "updated without a reload",
  );
  const overviewShot = join(shots, "overview.png");
  await page.screenshot({ path: overviewShot, fullPage: true });

  // A message's timeline and machines.
  await page.locator(`#dead-letters a[href="/messages/${scene.deadMessageId}"]`).click();
  await page.waitForURL(`${base}/messages/${scene.deadMessageId}`);
  await page.locator('svg.timeline [data-row="audit"][data-current="deadLettered"]').waitFor();
  await page.locator('svg[data-machine="delivery"][data-current="deadLettered"] .state.current')
    .waitFor();
  await page.screenshot({ path: join(shots, "message.png"), fullPage: true });

  // Redrive through the confirmation.
  await page.goto(`${base}/`);
  await page.locator(`#dead-letters tr[data-message="${scene.deadMessageId}"] button`).click();
  await page.locator("#confirm-redrive").waitFor();
  assertStringIncludes((await page.textContent("main")) ?? "", scene.deadMessageId);
  assertEquals(
    (await broker.deliveries.deadLetters("audit")).messages.length,
    1,
    "not before yes",
  );
  await page.screenshot({ path: join(shots, "confirm.png") });
  await page.locator("#confirm-redrive").click();
  await page.locator(".notice", { hasText: "Redrove 1 dead letter of group audit" }).waitFor();
  await page.locator("#dead-letters", { hasText: "No dead letters" }).waitFor();
  assertEquals((await broker.deliveries.deadLetters("audit")).messages.length, 0);
  await page.screenshot({ path: join(shots, "redriven.png"), fullPage: true });

  assertEquals(failed, [], "every request stayed on the broker and succeeded");
  const copyTo = Deno.env.get("ESCROW_DASHBOARD_SCREENSHOT");
  if (copyTo) await Deno.copyFile(overviewShot, copyTo);
  return shots;
}

if (import.meta.main) {
  const shots = await runBrowserScenario();
  console.log(`dashboard screenshots: ${shots}`);
  // playwright-core keeps handles to the finished browser process: end here.
  Deno.exit(0);
}
