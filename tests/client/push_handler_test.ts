/**
 * `pushHandler` served with `Deno.serve` on 127.0.0.1 as a real push
 * group's endpoint: signed messages are parsed once and acked, a wrong
 * secret or a throwing handler makes the broker retry; stale or unsigned
 * requests are refused (called directly with hand-signed requests and a
 * fixed clock).
 *
 * @module
 */
import { assertEquals } from "@std/assert/equals";
import { assertStringIncludes } from "@std/assert/string-includes";
import { type PushedMessage, pushHandler } from "../../src/client/mod.ts";
import { expectedSignature, RecordingServer } from "../_support/recording_server.ts";
import { startBroker, type TestBroker, waitFor } from "./_broker.ts";

const SECRET = "s3cret-of-the-group";

/** `v1=` and the hex HMAC-SHA256 of `${timestamp}.${body}`, computed with WebCrypto, not the SDK. */
const signature = expectedSignature;

/** A push request as the broker builds it, signed at `timestampSeconds`. */
async function signedRequest(
  body: string,
  timestampSeconds: number,
  secret = SECRET,
): Promise<Request> {
  const timestamp = String(timestampSeconds);
  return new Request("http://127.0.0.1/hook", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "escrow-timestamp": timestamp,
      "escrow-signature": await signature(secret, timestamp, body),
    },
    body,
  });
}

/** Serves `handle` on 127.0.0.1, recording the status of each answer. */
function serveRecording(handle: (request: Request) => Promise<Response>) {
  const statuses: number[] = [];
  const server = RecordingServer.serve(async (_call, request) => {
    const response = await handle(request);
    statuses.push(response.status);
    return response;
  }, { path: "/hook" });
  return { server, statuses };
}

async function pushGroup(live: TestBroker, url: string, secret: string, maxRetries = 3) {
  await live.client.createTopic("Orders");
  await live.client.putGroup("webhook", {
    subscriptions: [{ topic: "Orders" }],
    delivery: { mode: "push", url, secret, timeoutSeconds: 2 },
    retryDelaysSeconds: [0.1],
    maxRetries,
  });
}

async function deliveryOf(live: TestBroker, messageId: string) {
  const message = await live.client.getMessage(messageId);
  return message.deliveries.find((d) => d.group === "webhook");
}

Deno.test("a push group's messages reach pushHandler parsed, and its 204 acks them", async () => {
  await using live = await startBroker();
  const received: PushedMessage[] = [];
  const { server, statuses } = serveRecording(
    pushHandler((message) => {
      received.push(message);
    }, { secret: SECRET }),
  );
  await using _server = server;
  await pushGroup(live, server.url, SECRET);

  const first = await live.client.publish("Orders", {
    tag: "Paid",
    keys: ["order-7"],
    properties: { region: "SH" },
    body: { orderId: 7, amount: 100 },
  });
  const second = await live.client.publish("Orders", { body: "plain text" });
  await waitFor(() => live.client.getGroup("webhook"), (g) => g.acked === 2, { what: "2 acks" });

  received.sort((a, b) => a.messageId.localeCompare(b.messageId));
  assertEquals(received.map((m) => [m.messageId, m.attempt, m.body]), [
    [first.messageId, 1, { orderId: 7, amount: 100 }],
    [second.messageId, 1, "plain text"],
  ]);
  assertEquals(received[0]?.tag, "Paid");
  assertEquals(received[0]?.keys, ["order-7"]);
  assertEquals(received[0]?.properties, { region: "SH" });
  assertEquals(received[0]?.topic, "Orders");
  assertEquals("receiptHandle" in received[0]!, false);
  assertEquals(statuses, [204, 204]);
});

Deno.test("a receiver with the wrong secret answers 401, so the broker retries and dead-letters", async () => {
  await using live = await startBroker();
  const handled: PushedMessage[] = [];
  const { server, statuses } = serveRecording(
    pushHandler((message) => {
      handled.push(message);
    }, { secret: "not-the-group-secret" }),
  );
  await using _server = server;
  await pushGroup(live, server.url, SECRET, 1);

  const { messageId } = await live.client.publish("Orders", { body: 1 });
  await waitFor(
    () => live.client.getGroup("webhook"),
    (g) => g.deadLettered === 1,
    { what: "the message to be dead-lettered" },
  );

  assertEquals(handled, [], "the handler never saw an unverified message");
  assertEquals(statuses, [401, 401]);
  const delivery = await deliveryOf(live, messageId);
  assertEquals(delivery?.attempts.map((a) => [a.attempt, a.error]), [
    [1, "endpoint answered HTTP 401"],
    [2, "endpoint answered HTTP 401"],
  ]);
});

Deno.test("a throwing handler answers 500 and the broker retries until it succeeds", async () => {
  await using live = await startBroker();
  const attempts: number[] = [];
  const { server, statuses } = serveRecording(
    pushHandler((message) => {
      attempts.push(message.attempt);
      if (message.attempt < 3) throw new Error("warehouse offline");
    }, { secret: SECRET }),
  );
  await using _server = server;
  await pushGroup(live, server.url, SECRET);

  const { messageId } = await live.client.publish("Orders", { body: 1 });
  await waitFor(() => deliveryOf(live, messageId), (d) => d?.state === "acked", {
    what: "the delivery to be acked",
  });

  assertEquals(attempts, [1, 2, 3]);
  assertEquals(statuses, [500, 500, 204]);
  const delivery = await deliveryOf(live, messageId);
  assertEquals(delivery?.attempts.map((a) => a.error), [
    "endpoint answered HTTP 500",
    "endpoint answered HTTP 500",
    undefined,
  ]);
});

Deno.test("a stale, future or missing timestamp is refused with 401 before the handler runs", async () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const nowSeconds = now / 1000;
  const handled: PushedMessage[] = [];
  const handle = pushHandler((message) => {
    handled.push(message);
  }, { secret: SECRET, clock: () => now });
  const body = JSON.stringify({ messageId: "m-1", topic: "Orders", attempt: 1 });

  const stale = await handle(await signedRequest(body, nowSeconds - 301));
  const future = await handle(await signedRequest(body, nowSeconds + 301));
  const missing = await handle(
    new Request("http://127.0.0.1/hook", {
      method: "POST",
      headers: { "escrow-signature": await signature(SECRET, "", body) },
      body,
    }),
  );
  const garbage = await handle(
    new Request("http://127.0.0.1/hook", {
      method: "POST",
      headers: {
        "escrow-timestamp": "yesterday",
        "escrow-signature": await signature(SECRET, "yesterday", body),
      },
      body,
    }),
  );
  const fresh = await handle(await signedRequest(body, nowSeconds - 299));

  assertEquals([stale.status, future.status, missing.status, garbage.status], [401, 401, 401, 401]);
  assertStringIncludes(await stale.text(), "stale");
  assertEquals(fresh.status, 204, "within the 300 s tolerance");
  assertEquals(handled.map((m) => m.messageId), ["m-1"]);
});

Deno.test("toleranceSeconds narrows the accepted clock skew", async () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const handle = pushHandler(() => {}, { secret: SECRET, clock: () => now, toleranceSeconds: 10 });
  const body = "{}";

  assertEquals((await handle(await signedRequest(body, now / 1000 - 11))).status, 401);
  assertEquals((await handle(await signedRequest(body, now / 1000 - 9))).status, 204);
});

Deno.test("a bad signature is a 401; a request other than POST is a 405", async () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  let calls = 0;
  const handle = pushHandler(() => {
    calls++;
  }, { secret: SECRET, clock: () => now });
  const body = JSON.stringify({ messageId: "m-1" });

  const forged = await handle(await signedRequest(body, now / 1000, "guessed-secret"));
  const tampered = await signedRequest(body, now / 1000);
  const swapped = await handle(
    new Request(tampered.url, {
      method: "POST",
      headers: tampered.headers,
      body: JSON.stringify({ messageId: "m-2" }),
    }),
  );
  const get = await handle(new Request("http://127.0.0.1/hook"));

  assertEquals([forged.status, swapped.status, get.status], [401, 401, 405]);
  assertEquals(calls, 0);
});

Deno.test("the raw body is read once, verified as sent, and handed over parsed", async () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const handled: PushedMessage[] = [];
  const handle = pushHandler((message) => {
    handled.push(message);
  }, { secret: SECRET, clock: () => now });
  // Spacing that a re-serialised body would not reproduce: only the raw bytes verify.
  const raw = '{ "messageId" : "m-9",  "body": {"a" : [1, 2]}, "attempt": 1 }';
  const request = await signedRequest(raw, now / 1000);

  const response = await handle(request);

  assertEquals(response.status, 204);
  assertEquals(request.bodyUsed, true);
  assertEquals(handled, [{ messageId: "m-9", body: { a: [1, 2] }, attempt: 1 } as PushedMessage]);
});

Deno.test("a signed body that is not JSON is a 400; without a secret nothing is verified", async () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const signed = pushHandler(() => {}, { secret: SECRET, clock: () => now });
  const handled: PushedMessage[] = [];
  const open = pushHandler((message) => {
    handled.push(message);
  });

  const invalid = await signed(await signedRequest("{oops", now / 1000));
  const unsigned = await open(
    new Request("http://127.0.0.1/hook", { method: "POST", body: '{"messageId":"m-3"}' }),
  );

  assertEquals(invalid.status, 400);
  assertEquals(unsigned.status, 204);
  assertEquals(handled.map((m) => m.messageId), ["m-3"]);
});
