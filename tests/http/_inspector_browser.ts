/**
 * The inspector scenario the real-browser test runs in a child process
 * (playwright-core needs permissions the test runner does not grant): a
 * broker served on 127.0.0.1 whose `ESCROW_INSPECTOR_URL` points at a local
 * stand-in inspector, a page built on `@statelyai/inspect`'s own browser
 * receiver (bundled here for the browser with `deno bundle`), served on
 * another 127.0.0.1 port. Chromium opens `/inspect?transaction=ID`; the
 * stand-in must receive the transaction's replay, then its live steps.
 * Every wait is bounded. Exits 0 when every step held; prints where its
 * screenshot is.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { join } from "@std/path";
import { chromium } from "playwright-core";
import { Broker } from "../../src/engine/broker.ts";
import { createApp } from "../../src/http/app.ts";
import { apiCaller, CHROMIUM } from "../_support/browser.ts";

/** Every wait in the browser is bounded by this (a hang guard, not a speed check). */
const WAIT_MS = 15_000;

/** What the stand-in inspector keeps of each message it receives. */
interface Seen {
  readonly type: string;
  readonly event?: string;
  readonly state?: unknown;
}

/** Bundles a stand-in receiver page's script from `@statelyai/inspect` for the browser. */
async function bundleReceiver(dir: string): Promise<string> {
  const entry = join(dir, "receiver_entry.ts");
  await Deno.writeTextFile(
    entry,
    `import { createBrowserReceiver } from "@statelyai/inspect";
const seen: unknown[] = [];
(globalThis as unknown as { seen: unknown[] }).seen = seen;
createBrowserReceiver().subscribe((message: any) => {
  seen.push({
    type: message.type,
    event: message.event?.type,
    state: message.snapshot?.value,
  });
  document.getElementById("count")!.textContent = String(seen.length);
});
`,
  );
  const out = join(dir, "receiver.js");
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "browser", "--quiet", "-o", out, entry],
    cwd: new URL("../../", import.meta.url),
    stdout: "null",
    stderr: "piped",
  }).output();
  assert(code === 0, `deno bundle failed: ${new TextDecoder().decode(stderr)}`);
  return await Deno.readTextFile(out);
}

/** Runs the scenario; returns the folder holding the screenshot. */
export async function runInspectorScenario(): Promise<string> {
  await using stack = new AsyncDisposableStack();
  const dir = await Deno.makeTempDir({ prefix: "escrow-inspector-" });
  const receiverJs = await bundleReceiver(dir);
  const standIn = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/receiver.js") {
      return new Response(receiverJs, { headers: { "content-type": "text/javascript" } });
    }
    return new Response(
      `<!doctype html><title>stand-in inspector</title><h1>stand-in inspector</h1>
<p>received <span id="count">0</span> messages</p><script src="/receiver.js"></script>`,
      { headers: { "content-type": "text/html; charset=utf-8" } },
    );
  });
  stack.defer(() => standIn.shutdown());
  const inspectorUrl = `http://127.0.0.1:${standIn.addr.port}/`;

  const kv = await Deno.openKv(":memory:");
  stack.defer(() => kv.close());
  const broker = await Broker.open(kv, { schedulerMode: "sweep" });
  stack.defer(() => broker.stop());
  const app = createApp(broker, { inspectorUrl });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  stack.defer(() => server.shutdown());
  const base = `http://127.0.0.1:${server.addr.port}`;
  const call = apiCaller(base, WAIT_MS);
  await call("PUT", "/v1/topics/Trade");
  const prepared = await call("POST", "/v1/topics/Trade/transactions", {
    transactionId: "purchase-1",
    tag: "FundPurchase",
    body: { fund: "F-042" },
  }) as { state: string };
  assertEquals(prepared.state, "executing");

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  stack.defer(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${base}/inspect?transaction=purchase-1`, { timeout: WAIT_MS });
  const frame = async () => {
    for (const deadline = Date.now() + WAIT_MS; Date.now() < deadline;) {
      const found = page.frames().find((f) => f.url().startsWith(inspectorUrl));
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`Cannot find the stand-in inspector's frame at ${inspectorUrl}`);
  };
  const inspector = await frame();
  const seenWhen = async (done: (seen: Seen[]) => boolean, what: string) => {
    await inspector.waitForFunction(
      (n) => ((globalThis as unknown as { seen?: unknown[] }).seen?.length ?? 0) >= n,
      1,
      { timeout: WAIT_MS },
    );
    for (const deadline = Date.now() + WAIT_MS; Date.now() < deadline;) {
      const seen = await inspector.evaluate(() =>
        JSON.stringify((globalThis as unknown as { seen: Seen[] }).seen)
      ).then((text) => JSON.parse(text) as Seen[]);
      if (done(seen)) return seen;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`Cannot see ${what} in the stand-in inspector`);
  };

  // The replay: the machine, then each stored event with the snapshot it led to.
  const replay = await seenWhen((s) => s.length >= 5, "the replay");
  assertEquals(
    replay.slice(0, 5),
    [
      { type: "@xstate.actor", state: "prepared" },
      { type: "@xstate.event", event: "xstate.init" },
      { type: "@xstate.snapshot", event: "xstate.init", state: "prepared" },
      { type: "@xstate.event", event: "LocalTransactionStarted" },
      { type: "@xstate.snapshot", event: "LocalTransactionStarted", state: "executing" },
    ].map((m) => JSON.parse(JSON.stringify(m))),
  );

  // Live: the producer commits, and the step arrives without a reload.
  await call("POST", "/v1/transactions/purchase-1/commit");
  const live = await seenWhen(
    (s) => s.some((m) => m.type === "@xstate.snapshot" && m.state === "committed"),
    "the live commit",
  );
  assertEquals(live.slice(5), [
    { type: "@xstate.event", event: "TransactionCommitted" },
    { type: "@xstate.snapshot", event: "TransactionCommitted", state: "committed" },
  ]);
  await page.screenshot({ path: join(dir, "inspector.png"), fullPage: true });
  return dir;
}

if (import.meta.main) {
  const dir = await runInspectorScenario();
  console.log(`inspector screenshot: ${dir}`);
}
