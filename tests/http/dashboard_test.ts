/**
 * The dashboard server-side: every page renders from the broker's state,
 * the machine diagrams and timelines come out of the stored histories with
 * the current states highlighted, search finds by id, transaction id and
 * key, redrive asks first, the live stream sends what changed, and with a
 * token set nothing opens without it.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertMatch } from "@std/assert/match";
import { assertStringIncludes } from "@std/assert/string-includes";
import { bearerAuth } from "hono/bearer-auth";
import { deliveryMachine } from "../../machines/delivery.ts";
import { transactionMachine } from "../../machines/transaction.ts";
import { machineGraph } from "../../src/http/dashboard/machine_graph.ts";
import { MachineDiagram } from "../../src/http/dashboard/machine_svg.tsx";
import { RateMeter } from "../../src/http/dashboard/rate_meter.ts";
import { browserAuth } from "../../src/http/browser_auth.ts";
import { openDashboard, seedScene } from "./_dashboard.ts";

const ORIGIN = "http://localhost";

function form(fields: [string, string][]): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
    body: new URLSearchParams(fields).toString(),
  };
}

/** The `<svg …>` of one machine diagram, or undefined. */
function diagram(html: string, machine: string, current: string): string | undefined {
  const start = html.indexOf(`data-machine="${machine}" data-current="${current}"`);
  if (start < 0) return undefined;
  return html.slice(start, html.indexOf("</svg>", start));
}

Deno.test("the overview shows topics, groups with their counts, open transactions and dead letters", async () => {
  await using fx = await openDashboard();
  const scene = await seedScene(fx.call);
  const res = await fx.app.request("/");
  assertEquals(res.status, 200);
  assertStringIncludes(res.headers.get("content-type") ?? "", "text/html");
  const html = await res.text();
  assert(html.startsWith("<!DOCTYPE html>"));
  for (const text of ['data-topic="Trade"', 'data-topic="Wallet"', 'data-group="audit"']) {
    assertStringIncludes(html, text);
  }
  assertMatch(html, /data-group="audit".*?data-field="deadLettered">1</s);
  assertMatch(html, /data-group="settlement".*?data-field="acked">2</s);
  assertStringIncludes(html, `data-transaction="${scene.open.transactionId}"`);
  assert(
    !html.includes(`data-transaction="${scene.committed.transactionId}"`),
    "decided: not open",
  );
  assertStringIncludes(html, `data-message="${scene.deadMessageId}"`);
  assertStringIncludes(html, "fund F-042 is closed for purchases");
});

Deno.test("an empty broker's overview says what is missing instead of empty tables", async () => {
  await using fx = await openDashboard();
  const html = await (await fx.app.request("/")).text();
  assertStringIncludes(html, "No topics yet");
  assertStringIncludes(html, "No consumer groups yet");
  assertStringIncludes(html, "No open transactions");
  assertStringIncludes(html, "No dead letters");
});

Deno.test("pages load nothing from another host: every script, style and image is served by the broker", async () => {
  await using fx = await openDashboard();
  const scene = await seedScene(fx.call);
  for (const path of ["/", `/messages/${scene.committed.messageId}`, "/search?q=order-1001"]) {
    const html = await (await fx.app.request(path)).text();
    assert(!/(src|href)="(https?:)?\/\//.test(html), `${path} links to another host`);
    for (const [, asset] of html.matchAll(/(?:src|href)="(\/dashboard\/assets\/[^"]+)"/g)) {
      const res = await fx.app.request(asset!);
      assertEquals(res.status, 200, asset);
      assert((await res.arrayBuffer()).byteLength > 0, asset);
    }
  }
  assertEquals(
    (await fx.app.request("/dashboard/assets/app.css")).headers.get("content-type"),
    "text/css; charset=utf-8",
  );
  assertEquals((await fx.app.request("/dashboard/assets/secret.txt")).status, 404);
});

Deno.test("a message's page draws its timeline and each machine with its current state highlighted", async () => {
  await using fx = await openDashboard();
  const scene = await seedScene(fx.call);
  const res = await fx.app.request(`/messages/${scene.committed.messageId}`);
  assertEquals(res.status, 200);
  const html = await res.text();
  assertMatch(html, /<svg class="timeline"/);
  assertStringIncludes(html, 'data-row="transaction" data-current="committed"');
  assertStringIncludes(html, 'data-row="settlement" data-current="acked"');
  const tx = diagram(html, "transaction", "committed");
  assert(tx, "transaction diagram with committed current");
  assertMatch(tx, /class="state current" data-state="committed"/);
  assertEquals(tx.match(/class="state current"/g)?.length, 1);
  const delivery = diagram(html, "delivery", "acked");
  assert(delivery, "delivery diagram with acked current");
  assertMatch(delivery, /class="state current" data-state="acked"/);
  assertStringIncludes(html, `/inspect?transaction=${scene.committed.transactionId}`);
  assertStringIncludes(html, `/inspect?message=${scene.committed.messageId}&amp;group=settlement`);
  const dead = await (await fx.app.request(`/messages/${scene.deadMessageId}`)).text();
  assertMatch(
    diagram(dead, "delivery", "deadLettered") ?? "",
    /class="state current" data-state="deadLettered"/,
  );
  assertStringIncludes(dead, 'data-row="audit" data-current="deadLettered"');
});

Deno.test("both machine diagrams show every state and every transition between states of the definition", () => {
  for (const machine of [transactionMachine, deliveryMachine]) {
    const svg = String(MachineDiagram({ machine, current: "nowhere" }));
    for (const state of Object.keys(machine.root.states)) {
      assertStringIncludes(svg, `data-state="${state}"`);
    }
    assert(!svg.includes("state current"), "no state is highlighted for an unknown current");
    const graph = machineGraph(machine);
    for (const edge of graph.edges) {
      assertStringIncludes(svg, `data-from="${edge.from}" data-to="${edge.to}"`);
      for (const event of edge.events) assertStringIncludes(svg, event);
    }
  }
  const tx = machineGraph(transactionMachine);
  assertEquals(tx.nodes.find((n) => n.id === "prepared")?.initial, true);
  assertEquals(tx.edges.find((e) => e.from === "checking" && e.to === "executing")?.back, true);
  assertEquals(
    machineGraph(deliveryMachine).edges.find((e) => e.from === "deadLettered")?.events,
    ["DeliveryRedriven"],
  );
});

Deno.test("search opens a message by its id or its transaction's id, and lists the messages carrying a key", async () => {
  await using fx = await openDashboard();
  const scene = await seedScene(fx.call);
  const byId = await fx.app.request(`/search?q=${scene.deadMessageId}`);
  assertEquals(byId.status, 303);
  assertEquals(byId.headers.get("location"), `/messages/${scene.deadMessageId}`);
  const byTx = await fx.app.request(`/search?q=${scene.open.transactionId}`);
  assertEquals(byTx.status, 303);
  assertEquals(byTx.headers.get("location"), `/messages/${scene.open.messageId}`);
  const byKey = await fx.app.request("/search?q=order-1002");
  assertEquals(byKey.status, 200);
  const listed = await byKey.text();
  assertStringIncludes(listed, `data-message="${scene.committed.messageId}"`);
  assert(!listed.includes(`data-message="${scene.deadMessageId}"`));
  const none = await (await fx.app.request("/search?q=no-such-thing")).text();
  assertStringIncludes(none, "Nothing matches");
  assertEquals((await fx.app.request("/messages/nope")).status, 404);
  const tx = await fx.app.request(`/transactions/${scene.committed.transactionId}`);
  assertEquals(tx.headers.get("location"), `/messages/${scene.committed.messageId}`);
});

Deno.test("a redrive asks for confirmation first and changes nothing until it is confirmed", async () => {
  await using fx = await openDashboard();
  const scene = await seedScene(fx.call);
  const ask = await fx.app.request(
    "/dashboard/redrive",
    form([["group", "audit"], ["only", scene.deadMessageId]]),
  );
  assertEquals(ask.status, 200);
  const page = await ask.text();
  assertStringIncludes(page, "Yes, redrive");
  assertStringIncludes(page, `name="messageId" value="${scene.deadMessageId}"`);
  assertEquals((await fx.broker.deliveries.deadLetters("audit")).messages.length, 1);
  const done = await fx.app.request(
    "/dashboard/redrive",
    form([["group", "audit"], ["messageId", scene.deadMessageId], ["scope", "selected"], [
      "confirm",
      "yes",
    ]]),
  );
  assertEquals(done.status, 303);
  assertEquals(done.headers.get("location"), "/?redriven=1&group=audit#dead-letters");
  assertEquals((await fx.broker.deliveries.deadLetters("audit")).messages.length, 0);
  const view = await fx.broker.messages.get(scene.deadMessageId);
  assertEquals(view.deliveries.find((d) => d.group === "audit")?.state, "pending");
  const notice = await (await fx.app.request("/?redriven=1&group=audit")).text();
  assertStringIncludes(notice, "Redrove 1 dead letter of group audit");
});

Deno.test("redrive all redrives every dead letter of the group once confirmed; selecting none is refused", async () => {
  await using fx = await openDashboard();
  await seedScene(fx.call);
  const none = await fx.app.request(
    "/dashboard/redrive",
    form([["group", "audit"], ["scope", "selected"]]),
  );
  assertEquals(none.status, 400);
  const ask =
    await (await fx.app.request("/dashboard/redrive", form([["group", "audit"], ["scope", "all"]])))
      .text();
  assertStringIncludes(ask, "Every dead letter of group");
  assertEquals((await fx.broker.deliveries.deadLetters("audit")).messages.length, 1);
  const done = await fx.app.request(
    "/dashboard/redrive",
    form([["group", "audit"], ["scope", "all"], ["confirm", "yes"]]),
  );
  assertEquals(done.status, 303);
  assertEquals((await fx.broker.deliveries.deadLetters("audit")).messages.length, 0);
  const missing = await fx.app.request(
    "/dashboard/redrive",
    form([["group", "nope"], ["scope", "all"], ["confirm", "yes"]]),
  );
  assertEquals(missing.status, 404);
});

Deno.test("a redrive form posted from another site is refused", async () => {
  await using fx = await openDashboard();
  await seedScene(fx.call);
  const init = form([["group", "audit"], ["scope", "all"], ["confirm", "yes"]]);
  const res = await fx.app.request("/dashboard/redrive", {
    ...init,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: "https://evil.example",
    },
  });
  assertEquals(res.status, 403);
  assertEquals((await fx.broker.deliveries.deadLetters("audit")).messages.length, 1);
});

Deno.test("with a token set every page needs it; ?token= once sets an HttpOnly cookie that opens them", async () => {
  const token = "s3cret-token";
  await using fx = await openDashboard(
    { auth: bearerAuth({ token }), browserAuth: browserAuth(token) },
    { authorization: `Bearer ${token}` },
  );
  const scene = await seedScene(fx.call);
  for (
    const path of ["/", `/messages/${scene.deadMessageId}`, "/search?q=x", "/dashboard/events"]
  ) {
    const res = await fx.app.request(path);
    assertEquals(res.status, 401, path);
    const body = await res.text();
    assert(!body.includes(scene.deadMessageId), `${path} leaks data`);
  }
  const denied = await fx.app.request(
    "/dashboard/redrive",
    form([["group", "audit"], ["scope", "all"], ["confirm", "yes"]]),
  );
  assertEquals(denied.status, 401);
  assertEquals((await fx.broker.deliveries.deadLetters("audit")).messages.length, 1);
  assertEquals((await fx.app.request("/?token=wrong")).status, 401);
  const login = await fx.app.request(`/?token=${token}`);
  assertEquals(login.status, 303);
  assertEquals(login.headers.get("location"), "/");
  const cookie = login.headers.get("set-cookie") ?? "";
  assertMatch(cookie, /^escrow_token=/);
  assertMatch(cookie, /HttpOnly/);
  const jar = cookie.split(";")[0]!;
  const page = await fx.app.request("/", { headers: { cookie: jar } });
  assertEquals(page.status, 200);
  assertStringIncludes(await page.text(), scene.deadMessageId);
  assertEquals((await fx.app.request("/dashboard/assets/app.css")).status, 200);
});

Deno.test("the live stream sends every section first, then a section again when what it shows changes", async () => {
  await using fx = await openDashboard();
  const abort = new AbortController();
  const res = await fx.app.request("/dashboard/events", { signal: abort.signal });
  assertEquals(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { event: string; data: string }[] = [];
  let buffer = "";
  const deadline = Date.now() + 10_000; // a hang guard, not a speed check
  const readUntil = async (done: () => boolean) => {
    while (!done()) {
      assert(Date.now() < deadline, `stream stalled after ${events.map((e) => e.event)}`);
      const { value, done: ended } = await reader.read();
      assert(!ended, "stream ended");
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = block.match(/^event: (.*)$/m)?.[1] ?? "message";
        const data = [...block.matchAll(/^data: (.*)$/gm)].map((m) => m[1]).join("\n");
        events.push({ event, data });
      }
    }
  };
  try {
    await readUntil(() => events.length >= 5);
    assertEquals(events.slice(0, 5).map((e) => e.event), [
      "summary",
      "topics",
      "groups",
      "transactions",
      "dead-letters",
    ]);
    assertStringIncludes(events[1]!.data, "No topics yet");
    // A whole round later (the summary's "as of" changes every round) nothing else was resent.
    const first = events.length;
    await readUntil(() => events.slice(first).some((e) => e.event === "summary"));
    assertEquals(
      events.slice(first).map((e) => e.event),
      ["summary"],
      "unchanged sections are not resent",
    );
    const before = events.length;
    await fx.call("PUT", "/v1/topics/Trade");
    await fx.call("POST", "/v1/topics/Trade/messages", { tag: "FundPurchase", body: {} });
    await readUntil(() =>
      events.slice(before).some((e) =>
        e.event === "topics" && /data-topic="Trade".*?data-field="published">1</s.test(e.data)
      )
    );
    const unchanged = events.slice(before).filter((e) =>
      e.event === "dead-letters" || e.event === "transactions"
    );
    assertEquals(unchanged.length, 0, "an unchanged section is not sent again");
  } finally {
    abort.abort();
    await reader.cancel().catch(() => {});
  }
});

Deno.test("the live stream ends once the broker begins shutting down, so it holds up no shutdown", async () => {
  await using fx = await openDashboard();
  const res = await fx.app.request("/dashboard/events");
  const reader = res.body!.getReader();
  await reader.read();
  fx.broker.beginShutdown();
  const deadline = Date.now() + 5_000; // a hang guard, not a speed check
  for (;;) {
    assert(Date.now() < deadline, "the stream is still open after shutdown began");
    if ((await reader.read()).done) break;
  }
});

Deno.test("a group with an alertUrl shows each dead letter's alert: pending until its call, then sent", async () => {
  const calls: string[] = [];
  await using receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      calls.push(await req.text());
      return new Response(null, { status: 204 });
    },
  );
  await using fx = await openDashboard();
  await fx.call("PUT", "/v1/topics/Trade");
  await fx.call("PUT", "/v1/groups/risk", {
    subscriptions: [{ topic: "Trade" }],
    maxRetries: 0,
    alertUrl: `http://127.0.0.1:${receiver.addr.port}/alerts`,
  });
  const { messageId } = await fx.call("POST", "/v1/topics/Trade/messages", { body: {} }) as {
    messageId: string;
  };
  const got = await fx.call("POST", "/v1/groups/risk/receive", {}) as {
    messages: { receiptHandle: string }[];
  };
  await fx.call("POST", "/v1/groups/risk/nack", {
    receiptHandles: got.messages.map((m) => m.receiptHandle),
  });
  const before = await (await fx.app.request("/")).text();
  assertMatch(
    before,
    new RegExp(`data-message="${messageId}".*?data-field="alert">.*?pending`, "s"),
  );
  await fx.broker.scheduler.runDue();
  assertEquals(calls.length, 1);
  const after = await (await fx.app.request("/")).text();
  assertMatch(after, new RegExp(`data-message="${messageId}".*?data-field="alert">.*?sent`, "s"));
  const page = await (await fx.app.request(`/messages/${messageId}`)).text();
  assertStringIncludes(page, 'data-alert="sent"');
  assertStringIncludes(page, "HTTP 204");
});

Deno.test("a publish rate is the published counter's growth per second over the samples kept", () => {
  const meter = new RateMeter();
  meter.observe(0, { Trade: 100 });
  assertEquals(meter.rate("Trade"), undefined);
  meter.observe(2_000, { Trade: 120 });
  assertEquals(meter.rate("Trade"), 10);
  meter.observe(30_000, { Trade: 120 });
  meter.observe(31_000, { Trade: 125 });
  assertEquals(meter.rate("Trade"), 5, "samples older than the window are dropped");
  assertEquals(meter.rate("Wallet"), undefined);
});
