/**
 * The outbound policy end to end, with real listeners on 127.0.0.1 proving
 * which URLs are called and which are not: refusals at the API (a 400
 * naming the rule, nothing stored, nothing called), the broker refusing to
 * call itself, DNS rebinding caught by the check right before the call,
 * connections pinned to the address checked (http and https), redirects not
 * followed, answers read only up to 64 KiB, and no credentials in URLs.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { fromFileUrl } from "@std/path/from-file-url";
import type { Broker } from "../../src/engine/broker.ts";
import type { GroupRecord } from "../../src/engine/groups/groups.ts";
import type { TransactionView } from "../../src/engine/transactions/transactions.ts";
import { createPinnedFetch, Outbound, OutboundPolicy, redactUrls } from "../../src/outbound/mod.ts";
import { keys } from "../../src/store/keys.ts";
import { type BrokerFixture, openBroker, serveBroker } from "../_support/broker.ts";
import { CheckEndpoint } from "../_support/check_endpoint.ts";
import { RecordingServer } from "../_support/recording_server.ts";
import { assertProblem, kvSnapshot, openApi, type TestApi } from "../http/_helpers.ts";

/** A resolver from a table; an unknown name does not resolve. */
function table(names: Record<string, string[] | (() => string[])>) {
  return (host: string) => {
    const found = names[host];
    if (!found) return Promise.reject(new Error(`NXDOMAIN ${host}`));
    return Promise.resolve(typeof found === "function" ? found() : found);
  };
}

/** Runs due jobs until the transaction's first check has been made. */
async function runFirstCheck(broker: Broker, advance: (ms: number) => void): Promise<void> {
  advance(1_000);
  await broker.scheduler.runDue();
}

/** The error of the transaction's last failed check-back, if any. */
async function lastCheckError(broker: Broker, id: string): Promise<string | undefined> {
  const view = await broker.transactions.get(id);
  const failed = view.history.filter((e) => e.type === "CheckBackFailed").at(-1);
  return (failed?.data as { error?: string } | undefined)?.error;
}

/** A broker (jobs run by the test) on a manual clock, with topic Trade. */
async function checkingBroker(outbound?: OutboundPolicy): Promise<BrokerFixture> {
  const t = await openBroker({
    ...(outbound ? { outbound } : {}),
    clock: { manual: Date.UTC(2030, 0, 1) },
  });
  await t.broker.topics.create("Trade");
  return t;
}

/** Prepares a transaction on Trade checked at `checkUrl` at once, and runs its first check. */
async function checkedOnce(
  t: BrokerFixture,
  checkUrl: string,
  options: { maxChecks?: number } = {},
): Promise<TransactionView> {
  const { view } = await t.broker.transactions.prepare("Trade", {
    body: {},
    checkUrl,
    checkAfterSeconds: 0,
    ...options,
  });
  await runFirstCheck(t.broker, t.advance);
  return view;
}

/** The URLs each API field is refused for, with the rule named. */
function refusedForms(port: number): [string, string][] {
  return [
    ["http://169.254.169.254/latest/meta-data/", "link-local"],
    ["http://metadata.google.internal/computeMetadata/v1/", "metadata"],
    ["http://[fd00:ec2::254]/", "metadata"],
    ["http://0.0.0.0:" + port + "/", "unspecified"],
    ["http://[::ffff:169.254.169.254]/", "link-local"],
    ["http://0xa9fea9fe/", "link-local"],
    [`http://alice:pa55@127.0.0.1:${port}/hook`, "credentials"],
    [`http://127.0.0.1:${port}/hook`, "not-allowed"], // not in the list below
    [`http://0x7f000001:${port}/hook`, "not-allowed"],
    [`http://[::1]:${port}/hook`, "not-allowed"],
  ];
}

/** The four places a URL is given, as requests. */
function requestsWith(
  url: string,
): { what: string; field: string; send: (api: TestApi) => Promise<unknown> }[] {
  return [
    {
      what: "PUT /v1/producer-groups/{group} checkUrl",
      field: "checkUrl",
      send: (api) => api.put("/v1/producer-groups/wallet", { checkUrl: url }),
    },
    {
      what: "POST /v1/topics/{topic}/transactions checkUrl",
      field: "checkUrl",
      send: (api) => api.post("/v1/topics/Trade/transactions", { body: {}, checkUrl: url }),
    },
    {
      what: "PUT /v1/groups/{group} delivery.url",
      field: "delivery.url",
      send: (api) =>
        api.put("/v1/groups/hooks", {
          subscriptions: [{ topic: "Trade" }],
          delivery: { mode: "push", url },
        }),
    },
    {
      what: "PUT /v1/groups/{group} alertUrl",
      field: "alertUrl",
      send: (api) =>
        api.put("/v1/groups/ops", { subscriptions: [{ topic: "Trade" }], alertUrl: url }),
    },
  ];
}

Deno.test("every refused URL form is a 400 naming field and rule at each API, stores nothing and is never called", async () => {
  await using listener = RecordingServer.serve();
  await using api = await openApi({ outbound: new OutboundPolicy({ allow: "10.20.0.0/16" }) });
  await api.put("/v1/topics/Trade");
  for (const [url, rule] of refusedForms(listener.port)) {
    for (const request of requestsWith(url)) {
      const before = await kvSnapshot(api.kv);
      const res = await request.send(api) as Parameters<typeof assertProblem>[0];
      const problem = assertProblem(res, 400);
      assertEquals(
        [problem.type, problem.rule, problem.field],
        ["https://escrow.dev/problems/outboundrefused", rule, request.field],
        `${request.what} ${url}: ${JSON.stringify(problem)}`,
      );
      assertEquals(String(problem.detail).includes("pa55"), false);
      assertEquals(await kvSnapshot(api.kv), before, `${request.what} ${url} stored something`);
    }
  }
  assertEquals(listener.calls.length, 0);
});

Deno.test("without ESCROW_OUTBOUND_ALLOW a loopback check URL is allowed and called", async () => {
  await using endpoint = CheckEndpoint.serve(() => "commit");
  await using t = await checkingBroker();
  const url = endpoint.url.replace("127.0.0.1", "0x7f000001"); // normalised, then called
  const view = await checkedOnce(t, url);
  assertEquals((await t.broker.transactions.get(view.transactionId)).state, "committed");
  assertEquals(endpoint.calls.length, 1);
});

Deno.test("a check URL aimed at the broker's own API is refused and never commits the victim", async () => {
  const policy = new OutboundPolicy();
  await using live = await serveBroker({
    outbound: policy,
    clock: { manual: Date.UTC(2030, 0, 1) },
  });
  policy.listeningOn({ hostname: "127.0.0.1", port: live.port });
  await live.broker.topics.create("Trade");
  const victim = (await live.broker.transactions.prepare("Trade", { body: { victim: true } })).view;
  for (
    const host of [
      "127.0.0.1",
      "0x7f000001",
      "2130706433",
      "0177.0.0.1",
      "localhost",
      "[::ffff:127.0.0.1]",
    ]
  ) {
    const res = await fetch(`${live.url}/v1/topics/Trade/transactions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        body: {},
        checkUrl: `http://${host}:${live.port}/v1/transactions/${victim.transactionId}/commit`,
      }),
    });
    const problem = await res.json();
    assertEquals([res.status, problem.rule], [400, "broker-itself"], host);
  }
  assertEquals((await live.broker.transactions.get(victim.transactionId)).state, "executing");
});

Deno.test("a stored URL the policy now refuses is not called: the check before each call catches it", async () => {
  const policy = new OutboundPolicy();
  await using live = await serveBroker({
    outbound: policy,
    clock: { manual: Date.UTC(2030, 0, 1) },
  });
  await live.broker.topics.create("Trade");
  const victim = (await live.broker.transactions.prepare("Trade", { body: {} })).view;
  // Stored before the broker knew its port (as when PORT=0): allowed then.
  const attack = (await live.broker.transactions.prepare("Trade", {
    body: {},
    checkUrl: `http://127.0.0.1:${live.port}/v1/transactions/${victim.transactionId}/commit`,
    checkAfterSeconds: 0,
    maxChecks: 1,
  })).view;
  policy.listeningOn({ hostname: "127.0.0.1", port: live.port });
  await runFirstCheck(live.broker, live.advance);
  assertEquals((await live.broker.transactions.get(victim.transactionId)).state, "executing");
  assertStringIncludes((await lastCheckError(live.broker, attack.transactionId))!, "broker-itself");
});

Deno.test("DNS rebinding between the API's check and the call is caught before connecting", async () => {
  await using endpoint = CheckEndpoint.serve(() => "commit");
  let answers = 0;
  const policy = new OutboundPolicy({
    resolve: table({
      "rebind.test": () => answers++ === 0 ? ["127.0.0.1"] : ["169.254.169.254"],
    }),
  });
  await using t = await checkingBroker(policy);
  const port = new URL(endpoint.url).port;
  const view = await checkedOnce(t, `http://rebind.test:${port}/check`, { maxChecks: 1 });
  assertStringIncludes((await lastCheckError(t.broker, view.transactionId))!, "link-local");
  assertEquals(endpoint.calls.length, 0);
});

Deno.test("an http call connects to the address checked, with the URL's host in Host", async () => {
  await using listener = RecordingServer.serve(() => Response.json({ state: "commit" }));
  // The system cannot resolve pinned.test: only the checked address can have been used.
  const policy = new OutboundPolicy({ resolve: table({ "pinned.test": ["127.0.0.1"] }) });
  await using t = await checkingBroker(policy);
  const view = await checkedOnce(t, `http://pinned.test:${listener.port}/check?x=1`);
  assertEquals((await t.broker.transactions.get(view.transactionId)).state, "committed");
  assertEquals(listener.calls.length, 1);
  assertEquals(listener.calls[0]!.headers.get("host"), `pinned.test:${listener.port}`);
  assertEquals([listener.calls[0]!.path, listener.calls[0]!.search], ["/check", "?x=1"]);
});

const FIXTURES = fromFileUrl(new URL("./fixtures/", import.meta.url));

Deno.test("an https call tunnels to the address checked and verifies the certificate for the URL's name", async () => {
  const [ca, cert, key] = await Promise.all(
    ["ca.pem", "pinned.pem", "pinned.key"].map((f) => Deno.readTextFile(FIXTURES + f)),
  );
  const hits: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: cert!, key: key!, onListen: () => {} },
    (request) => {
      hits.push(new URL(request.url).host);
      return new Response("ok");
    },
  );
  try {
    const port = server.addr.port;
    const outbound = new Outbound(
      new OutboundPolicy({
        resolve: table({ "pinned.test": ["127.0.0.1"], "other.test": ["127.0.0.1"] }),
      }),
      { transport: createPinnedFetch({ caCerts: [ca!] }) },
    );
    const post = (host: string) =>
      outbound.send(new Request(`https://${host}:${port}/hook`, { method: "POST", body: "{}" }), {
        timeoutMs: 5_000,
      });
    const ok = await post("pinned.test");
    assert(ok.ok, JSON.stringify(ok));
    assertEquals([ok.status, new TextDecoder().decode(ok.body)], [200, "ok"]);
    // Same address, another name: the certificate is for pinned.test, so TLS fails.
    const wrongName = await post("other.test");
    assertEquals(wrongName.ok, false);
    assertEquals(hits, [`pinned.test:${port}`]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a check-back answered with a redirect is a failed check; the redirect's target is never called", async () => {
  await using target = CheckEndpoint.serve(() => "commit");
  await using endpoint = RecordingServer.serve(() =>
    new Response(null, { status: 302, headers: { location: target.url } })
  );
  await using t = await checkingBroker();
  const view = await checkedOnce(t, endpoint.url, { maxChecks: 1 });
  const error = (await lastCheckError(t.broker, view.transactionId))!;
  assertStringIncludes(error, "HTTP 302 (redirects are not followed)");
  assertEquals(endpoint.calls.length, 1);
  assertEquals(target.calls.length, 0);
});

Deno.test("a push answered with a redirect is a failed attempt; the redirect's target is never called", async () => {
  await using target = RecordingServer.serve();
  await using endpoint = RecordingServer.serve(() =>
    new Response(null, { status: 307, headers: { location: target.url } })
  );
  await using t = await openBroker({ start: true });
  await t.broker.topics.create("Trade");
  await t.broker.groups.put("hooks", {
    subscriptions: [{ topic: "Trade" }],
    delivery: { mode: "push", url: endpoint.url, timeoutSeconds: 2 },
    retryDelaysSeconds: [60],
  });
  const { messageId } = await t.broker.publisher.publish("Trade", { body: { n: 1 } });
  for (let i = 0; i < 100 && endpoint.calls.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await t.broker.push.stop();
  assertEquals(endpoint.calls.length, 1);
  assertEquals(target.calls.length, 0);
  const delivery = (await t.broker.messages.get(messageId)).deliveries[0]!;
  assertEquals(delivery.ackedAt, undefined);
  assertStringIncludes(JSON.stringify(delivery.attempts), "HTTP 307 (redirects are not followed)");
});

Deno.test("a 20 MiB check-back answer is a failed check after reading 64 KiB", async () => {
  let sent = 0;
  await using endpoint = RecordingServer.serve(() => {
    const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"state":"commit","pad":"'));
      },
      pull(controller) {
        if (sent >= 20 * 1024 * 1024) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  await using t = await checkingBroker();
  const view = await checkedOnce(t, endpoint.url, { maxChecks: 1 });
  assertStringIncludes((await lastCheckError(t.broker, view.transactionId))!, "more than 65536");
  assertEquals((await t.broker.transactions.get(view.transactionId)).state, "rolledBack");
  assert(sent < 20 * 1024 * 1024, `the whole answer was sent: ${sent} bytes`);
});

Deno.test("a check that cannot resolve within the timeout fails as a timeout", async () => {
  const outbound = new Outbound(
    new OutboundPolicy({ resolve: () => new Promise<string[]>(() => {}) }),
  );
  const result = await outbound.send(new Request("http://slow-dns.test/check"), { timeoutMs: 50 });
  assertEquals(result, { ok: false, error: "no answer within 50 ms", timedOut: true });
});

Deno.test("GET /v1/groups/{g} and the producer group never show secrets", async () => {
  await using api = await openApi();
  await api.put("/v1/topics/Trade");
  const group = await api.put<Record<string, unknown>>("/v1/groups/hooks", {
    subscriptions: [{ topic: "Trade" }],
    delivery: { mode: "push", url: "http://127.0.0.1:9/hook", secret: "push-s3cret" },
    alertUrl: "http://127.0.0.1:9/alert",
    alertSecret: "alert-s3cret",
  });
  assertEquals(group.status, 201);
  const producer = await api.put<Record<string, unknown>>("/v1/producer-groups/wallet", {
    checkUrl: "http://127.0.0.1:9/check",
    secret: "check-s3cret",
  });
  assertEquals(producer.status, 201);
  assertEquals(producer.body.hasSecret, true);
  const shown = JSON.stringify([
    group.body,
    producer.body,
    (await api.get("/v1/groups/hooks")).body,
  ]);
  for (const secret of ["push-s3cret", "alert-s3cret", "check-s3cret"]) {
    assertEquals(shown.includes(secret), false, secret);
  }
});

Deno.test("a URL with credentials stored before they were refused is shown without them", async () => {
  await using api = await openApi();
  await api.put("/v1/topics/Trade");
  await api.put("/v1/groups/hooks", {
    subscriptions: [{ topic: "Trade" }],
    delivery: { mode: "push", url: "http://127.0.0.1:9/hook" },
    alertUrl: "http://127.0.0.1:9/alert",
  });
  // As an older broker stored it: the credentials in the URLs themselves.
  const entry = await api.kv.get<GroupRecord>(keys.group("hooks"));
  const legacy = {
    ...entry.value!,
    delivery: { ...entry.value!.delivery, url: "http://alice:pa55@127.0.0.1:9/hook" },
    alertUrl: "http://bob:s3cret@127.0.0.1:9/alert",
  } as GroupRecord;
  await api.kv.set(keys.group("hooks"), legacy);
  const shown = await api.get<{ delivery: { url: string }; alertUrl: string }>("/v1/groups/hooks");
  assertEquals(shown.body.delivery.url, "http://127.0.0.1:9/hook");
  assertEquals(shown.body.alertUrl, "http://127.0.0.1:9/alert");
  assertEquals(
    redactUrls({ checkUrl: "http://u:p@127.0.0.1:9/check", check: 1 }),
    { checkUrl: "http://127.0.0.1:9/check", check: 1 },
  );
});
