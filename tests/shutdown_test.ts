/**
 * Graceful shutdown of the real process: `main.ts` runs as a child on a KV
 * file and gets SIGINT or SIGTERM. Open long polls answer at once and the
 * process exits 0; a push endpoint that never answers cannot hold it past
 * the 2 s grace period; a second signal exits at once; and a message whose
 * push was cut off is pushed again after a restart on the same file.
 *
 * @module
 */
import { assertEquals } from "@std/assert/equals";
import { assertLess } from "@std/assert/less";
import { assertMatch } from "@std/assert/match";
import { assertNotMatch } from "@std/assert/not-match";
import { assertRejects } from "@std/assert/rejects";
import { delay } from "@std/async/delay";
import { join } from "@std/path/join";
import { GracefulShutdown } from "../src/shutdown.ts";
import { BrokerProcess, EscrowApi, waitFor } from "./_process.ts";
import { PushReceiver } from "./_support/push_receiver.ts";

/** Hang guard of every exit: well above the 2 s grace period, well below a 20 s long poll. */
const EXIT_GUARD_MS = 5_000;
const SHUTTING_DOWN = /^Escrow shutting down \((SIGINT|SIGTERM)\): .+$/m;
const STILL_WAITING = /Escrow shutdown not done after 2000 ms: still waiting for (.+?);/;

/** Runs `fn` with a KV file in a fresh temp folder, removed afterwards. */
async function withKvFile(fn: (kvPath: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "escrow_shutdown_" });
  try {
    await fn(join(dir, "escrow.kv"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts a request answered with one of `statuses`. */
async function expectStatus(
  api: EscrowApi,
  method: string,
  path: string,
  body: unknown,
  statuses: number[],
): Promise<unknown> {
  const res = await api.request(method, path, body);
  if (!statuses.includes(res.status)) {
    throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** The lines announcing a shutdown in `output`. */
const announcements = (output: string) =>
  [...output.matchAll(new RegExp(SHUTTING_DOWN, "gm"))].map((m) => m[1]);

/**
 * A push endpoint whose first request for each message hangs until the test
 * releases it (so the push stays in flight), and which answers 204 after.
 */
function hangingFirstPush() {
  const release = Promise.withResolvers<void>();
  const receiver = PushReceiver.serve(async (call) => {
    if (call.previousCalls === 0) await release.promise;
    return new Response(null, { status: 204 });
  });
  return {
    receiver,
    async [Symbol.asyncDispose]() {
      release.resolve();
      await receiver.close();
    },
  };
}

/** Creates topic Orders and push group "hooks" on `url`, publishes one message, returns its id. */
async function publishToPushGroup(api: EscrowApi, url: string): Promise<string> {
  await api.createTopic("Orders");
  await expectStatus(api, "PUT", "/v1/groups/hooks", {
    subscriptions: [{ topic: "Orders" }],
    // In flight past the grace period and the exit guard; its visibility timeout (8 + 5 s) ends
    // soon after.
    delivery: { mode: "push", url, timeoutSeconds: 8 },
    retryDelaysSeconds: [0.1],
  }, [201]);
  const published = await expectStatus(api, "POST", "/v1/topics/Orders/messages", {
    body: { orderId: 7 },
  }, [201]) as { messageId: string };
  return published.messageId;
}

Deno.test("on SIGINT an open 20 s long poll answers 200 with no messages, one line is logged and the process exits 0 within the grace period", async () => {
  await withKvFile(async (kvPath) => {
    await using broker = await BrokerProcess.spawn(kvPath);
    const api = new EscrowApi(broker.url);
    await api.createTopic("Orders");
    await expectStatus(api, "PUT", "/v1/groups/ops", { subscriptions: [{ topic: "Orders" }] }, [
      201,
    ]);
    const receiving = fetch(`${broker.url}/v1/groups/ops/receive`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ waitSeconds: 20 }),
      signal: AbortSignal.timeout(EXIT_GUARD_MS * 2),
    });
    // Bounded pause so the request has reached the server (nothing outside shows a long poll
    // waiting); a long poll answering before the signal fails the race below.
    const early = await Promise.race([receiving.then(() => true), delay(500).then(() => false)]);
    assertEquals(early, false, "the long poll answered before the signal");

    const signalledAt = Date.now();
    broker.signal("SIGINT");
    const res = await receiving;
    assertEquals([res.status, await res.json()], [200, { messages: [] }]);
    const status = await broker.waitForExit(EXIT_GUARD_MS);
    const exitedAfterMs = Date.now() - signalledAt;
    assertEquals(status.code, 0, broker.output);
    assertLess(exitedAfterMs, 20_000, "exited before the long poll's own 20 s wait");
    assertEquals(announcements(broker.output), ["SIGINT"], broker.output);
    assertNotMatch(broker.output, STILL_WAITING);
  });
});

Deno.test("on SIGTERM a push stuck in flight holds the process only for the 2 s grace period: one line names it, the exit code is 1, and after a restart the message is pushed again", async () => {
  await withKvFile(async (kvPath) => {
    await using endpoint = hangingFirstPush();
    const { receiver } = endpoint;
    let messageId: string;
    {
      await using broker = await BrokerProcess.spawn(kvPath);
      messageId = await publishToPushGroup(new EscrowApi(broker.url), receiver.url);
      await waitFor(() => receiver.callsFor(messageId).length, (n) => n === 1, {
        timeoutMs: 10_000,
        what: "the first push to be in flight",
      });
      broker.signal("SIGTERM");
      const status = await broker.waitForExit(EXIT_GUARD_MS);
      assertEquals(status.code, 1, broker.output);
      assertEquals(announcements(broker.output), ["SIGTERM"], broker.output);
      assertMatch(broker.output, STILL_WAITING);
      assertEquals(
        STILL_WAITING.exec(broker.output)![1],
        "jobs, pushes and commits in flight",
        broker.output,
      );
    }
    await using restarted = await BrokerProcess.spawn(kvPath);
    const calls = await waitFor(() => receiver.callsFor(messageId), (calls) => calls.length >= 2, {
      // The cut-off attempt's 13 s visibility timeout ends, then its retry is due at once.
      timeoutMs: 30_000,
      what: `the push of ${messageId} again after the restart`,
    });
    assertEquals(calls.map((call) => call.message.attempt), [1, 2], restarted.output);
  });
});

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test(`a second ${signal} while shutting down exits at once with ${code}, without waiting out the grace period`, async () => {
    await withKvFile(async (kvPath) => {
      await using endpoint = hangingFirstPush();
      const { receiver } = endpoint;
      await using broker = await BrokerProcess.spawn(kvPath);
      const messageId = await publishToPushGroup(new EscrowApi(broker.url), receiver.url);
      await waitFor(() => receiver.callsFor(messageId).length, (n) => n === 1, {
        timeoutMs: 10_000,
        what: "the first push to be in flight",
      });
      broker.signal(signal);
      // Two signals sent back to back can reach the process as one: send the second once the
      // first is being handled.
      await broker.waitForOutput(SHUTTING_DOWN, { timeoutMs: EXIT_GUARD_MS });
      broker.signal(signal);
      const status = await broker.waitForExit(EXIT_GUARD_MS);
      assertEquals(status.code, code, broker.output);
      assertEquals(announcements(broker.output), [signal], broker.output);
      assertNotMatch(broker.output, STILL_WAITING, "exited before the grace period ran out");
    });
  });
}

Deno.test("a shutdown step that fails is logged, the later steps still run (the KV is closed) and the exit code is 1", async () => {
  const kv = await Deno.openKv(":memory:");
  const lines: string[] = [];
  const exits: number[] = [];
  const shutdown = new GracefulShutdown([
    { waitsFor: "a step that fails", run: () => Promise.reject(new Error("boom")) },
    { waitsFor: "the KV database", run: () => kv.close() },
  ], {
    log: (line) => lines.push(line),
    error: (line) => lines.push(line),
    exit: (c) => exits.push(c),
  });
  await shutdown.handle("SIGTERM");
  assertEquals(exits, [1]);
  assertEquals(lines.length, 2);
  assertMatch(lines[1]!, /waiting for a step that fails failed: boom/);
  await assertRejects(() => kv.get(["anything"]), "the KV was closed");
});
