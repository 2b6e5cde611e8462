/**
 * Signed check-back: a producer group's secret signs every check-back of its
 * transactions exactly as push is signed (checked here with WebCrypto, not
 * the broker's code); the SDK's `TransactionProducer.fetch` and
 * `pushHandler` refuse unsigned, badly signed and stale calls; and a secret
 * is rotated without a refused call: add the new one to the SDK, change the
 * broker's, drop the old one.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import {
  type CheckBackMessage,
  EscrowClient,
  pushHandler,
  TransactionProducer,
} from "../../src/client/mod.ts";
import { openBroker, serveBroker } from "../_support/broker.ts";
import { expectedSignature, RecordingServer } from "../_support/recording_server.ts";

const T0 = Date.UTC(2030, 0, 1);

/** A request signed at `seconds` with `secret` (or unsigned), as the broker sends one. */
async function signed(body: string, seconds: number, secret?: string): Promise<Request> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "escrow-timestamp": String(seconds),
  };
  if (secret !== undefined) {
    headers["escrow-signature"] = await expectedSignature(secret, String(seconds), body);
  }
  return new Request("http://127.0.0.1/check", { method: "POST", headers, body });
}

const CHECK: CheckBackMessage = {
  transactionId: "t1",
  messageId: "m1",
  topic: "Trade",
  keys: [],
  properties: {},
  checkCount: 1,
};

Deno.test("check-backs of a producer group with a secret carry Escrow-Timestamp and Escrow-Signature", async () => {
  await using listener = RecordingServer.serve(() => Response.json({ state: "commit" }));
  await using t = await openBroker({ clock: { manual: T0 } });
  await t.broker.topics.create("Trade");
  await t.broker.topics.setProducerGroup("wallet", {
    checkUrl: listener.url,
    secret: "wallet-s3cret",
  });
  // One at the group's URL, one with its own URL: both the group's, both signed.
  for (const own of [undefined, `${listener.url}/own`]) {
    await t.broker.transactions.prepare("Trade", {
      body: {},
      producerGroup: "wallet",
      checkAfterSeconds: 0,
      ...(own ? { checkUrl: own } : {}),
    });
  }
  // Not of the group: unsigned.
  await t.broker.transactions.prepare("Trade", {
    body: {},
    checkUrl: listener.url,
    checkAfterSeconds: 0,
  });
  t.advance(1_000);
  await t.broker.scheduler.runDue();
  assertEquals(listener.calls.length, 3);
  const timestamp = String(Math.floor(t.now() / 1000));
  for (const call of listener.calls) {
    assertEquals(call.headers.get("escrow-timestamp"), timestamp);
    const grouped = (call.json as { producerGroup?: string }).producerGroup === "wallet";
    assertEquals(
      call.headers.get("escrow-signature"),
      grouped ? await expectedSignature("wallet-s3cret", timestamp, call.rawBody) : null,
    );
  }
});

Deno.test("TransactionProducer.fetch refuses unsigned, badly signed and stale check-backs", async () => {
  const asked: string[] = [];
  const now = T0;
  const producer = new TransactionProducer(new EscrowClient("http://127.0.0.1:9"), {
    topic: "Trade",
    producerGroup: "wallet",
    secrets: ["s3cret"],
    clock: () => now,
    checkLocalTransaction: (message) => {
      asked.push(message.transactionId);
      return Promise.resolve("commit");
    },
  });
  const body = JSON.stringify(CHECK);
  const seconds = now / 1000;
  const cases: [string, Request, number, string][] = [
    ["unsigned", await signed(body, seconds), 401, "missing signature"],
    ["no timestamp", new Request("http://x/", { method: "POST", body }), 401, "stale"],
    ["signed with another secret", await signed(body, seconds, "other"), 401, "bad signature"],
    ["signed 301 s ago", await signed(body, seconds - 301, "s3cret"), 401, "stale"],
    ["signed 301 s ahead", await signed(body, seconds + 301, "s3cret"), 401, "stale"],
    [
      "another body",
      await signed("{}", seconds, "s3cret").then((r) =>
        new Request(r.url, { method: "POST", headers: r.headers, body })
      ),
      401,
      "bad signature",
    ],
  ];
  for (const [what, request, status, text] of cases) {
    const res = await producer.fetch(request);
    assertEquals(res.status, status, what);
    assertStringIncludes(await res.text(), text, what);
  }
  assertEquals(asked, []);
  const ok = await producer.fetch(await signed(body, seconds - 299, "s3cret"));
  assertEquals([ok.status, await ok.json()], [200, { state: "commit" }]);
  assertEquals(asked, ["t1"]);
});

Deno.test("a TransactionProducer without secrets answers unsigned check-backs as before", async () => {
  const producer = new TransactionProducer(new EscrowClient("http://127.0.0.1:9"), {
    topic: "Trade",
    producerGroup: "wallet",
    checkLocalTransaction: () => Promise.resolve("rollback"),
  });
  const res = await producer.fetch(new Request("http://x/", { method: "POST", body: "{}" }));
  assertEquals(await res.json(), { state: "rollback" });
});

Deno.test("rotating the check-back secret: SDK first, then the broker, and no call is refused", async () => {
  await using live = await serveBroker({ clock: { manual: T0 } });
  await live.broker.topics.create("Trade");
  const client = new EscrowClient(live.url, { retryDelayMs: 10 });
  let producer: TransactionProducer;
  await using endpoint = RecordingServer.serve((_, request) => producer.fetch(request));
  const make = (secret: string, secrets: string[]) =>
    new TransactionProducer(client, {
      topic: "Trade",
      producerGroup: "wallet",
      checkUrl: endpoint.url,
      secret,
      secrets,
      clock: live.now,
      checkLocalTransaction: () => Promise.resolve("commit"),
    });
  /** One transaction left to check-back; its state once checked. */
  const checked = async () => {
    const { view } = await live.broker.transactions.prepare("Trade", {
      body: {},
      producerGroup: "wallet",
      checkAfterSeconds: 0,
      maxChecks: 1,
    });
    live.advance(1_000);
    await live.broker.scheduler.runDue();
    return (await live.broker.transactions.get(view.transactionId));
  };

  producer = make("old", []);
  await producer.register();
  assertEquals((await checked()).state, "committed");
  producer = make("old", ["new"]); // 1. the SDK accepts both
  assertEquals((await checked()).state, "committed");
  producer = make("new", ["old"]);
  await producer.register(); // 2. the broker signs with the new one
  assertEquals((await checked()).state, "committed");
  producer = make("new", []); // 3. the old one is dropped
  assertEquals((await checked()).state, "committed");

  // The wrong order refuses: the broker's secret changed before the SDK knew it.
  await client.setProducerGroup("wallet", endpoint.url, { secret: "newer" });
  const refused = await checked();
  assertEquals([refused.state, refused.reason], ["rolledBack", "checksExhausted"]);
  const failed = refused.history.find((e) => e.type === "CheckBackFailed");
  assertStringIncludes(JSON.stringify(failed?.data), "HTTP 401");
  assert(endpoint.calls.length === 5);
});

Deno.test("pushHandler accepts any of its secrets, so a push secret rotates the same way", async () => {
  const seen: string[] = [];
  const now = T0;
  const handler = (secrets: string[]) =>
    pushHandler((message) => void seen.push(message.messageId), { secrets, clock: () => now });
  const body = JSON.stringify({ messageId: "m1" });
  const seconds = now / 1000;
  const both = handler(["old", "new"]);
  assertEquals((await both(await signed(body, seconds, "old"))).status, 204);
  assertEquals((await both(await signed(body, seconds, "new"))).status, 204);
  const newOnly = handler(["new"]);
  assertEquals((await newOnly(await signed(body, seconds, "old"))).status, 401);
  assertEquals((await newOnly(await signed(body, seconds))).status, 401);
  assertEquals((await newOnly(await signed(body, seconds - 301, "new"))).status, 401);
  assertEquals(seen, ["m1", "m1"]);
});
