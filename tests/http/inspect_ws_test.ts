/**
 * `/inspect/ws` on a real server: every machine live to an unfiltered
 * socket (a machine that starts arrives with its `@xstate.actor` first, one
 * already running is announced before its first new event), one machine to
 * a filtered socket (its history first, then live, nothing else), the token
 * when the API is protected, and no bus listener once nobody watches.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertStringIncludes } from "@std/assert/string-includes";
import { bearerAuth } from "hono/bearer-auth";
import type { StoredEvent } from "../../src/domain/events.ts";
import { InspectionRelay } from "../../src/engine/inspection/relay.ts";
import { MachineTrace } from "../../src/engine/inspection/trace.ts";
import type { InspectionMessage } from "../../src/engine/inspection/wire.ts";
import { createApp } from "../../src/http/app.ts";
import { browserAuth } from "../../src/http/browser_auth.ts";
import { EventBus } from "../../src/observe/bus.ts";
import { EventStore } from "../../src/store/event_store.ts";
import { WriteSet } from "../../src/store/write_set.ts";
import { createTopic, openApi, prepare, publish, type TestApi } from "./_helpers.ts";

type Message = {
  type: string;
  sessionId: string;
  createdAt: string;
  event?: { type: string };
  snapshot?: { value?: string };
};

/** Polls `done` until it holds; the deadline only guards against a hang. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A WebSocket client that keeps every message it receives. */
class Watcher {
  readonly messages: Message[] = [];
  readonly #socket: WebSocket;
  readonly #closed: Promise<void>;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => this.messages.push(JSON.parse(event.data));
    this.#closed = new Promise((resolve) => socket.addEventListener("close", () => resolve()));
  }

  /** Opens `url`; rejects when the handshake is refused. */
  static open(url: string): Promise<Watcher> {
    const socket = new WebSocket(url);
    const watcher = new Watcher(socket);
    return new Promise((resolve, reject) => {
      socket.onopen = () => resolve(watcher);
      socket.onerror = () => reject(new Error(`Cannot open ${url}`));
    });
  }

  /** Messages about `sessionId`, as `type` or `type event`. */
  of(sessionId: string): string[] {
    return this.messages.filter((m) => m.sessionId === sessionId).map((m) =>
      m.type === "@xstate.actor" ? m.type : `${m.type} ${m.event?.type}`
    );
  }

  async waitFor(count: number): Promise<void> {
    await until(() => this.messages.length >= count, `${count} messages`);
  }

  async close(): Promise<void> {
    this.#socket.close();
    await this.#closed;
  }
}

/** The app of `api` (or `app`) served on 127.0.0.1; disposing shuts it down. */
function serve(app: { fetch: (req: Request) => Response | Promise<Response> }) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  return {
    http: `http://127.0.0.1:${server.addr.port}`,
    ws: `ws://127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const started = (event: string) => [
  "@xstate.actor",
  "@xstate.event xstate.init",
  "@xstate.snapshot xstate.init",
  `@xstate.event ${event}`,
  `@xstate.snapshot ${event}`,
];

async function inspectionOf(api: TestApi, path: string): Promise<Message[]> {
  const res = await api.get<Message[]>(path);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

Deno.test("an unfiltered socket sees a transaction it did not ask for, actor first, and one already running announced", async () => {
  await using api = await openApi();
  await using server = serve(api.app);
  await createTopic(api, "Trade");
  const { transactionId: earlier } = await prepare(api, "Trade", {});
  const filtered = await Watcher.open(`${server.ws}/inspect/ws?transaction=${earlier}`);
  const all = await Watcher.open(`${server.ws}/inspect/ws`);
  await filtered.waitFor(5);

  const { transactionId: other } = await prepare(api, "Trade", {});
  await all.waitFor(5);
  assertEquals(all.of(`transaction:${other}`), started("LocalTransactionStarted"));
  const actor = all.messages[0]!;
  assertEquals(actor.snapshot?.value, "prepared");

  // The earlier transaction started before the socket opened: announced as it stood.
  assertEquals((await api.post(`/v1/transactions/${earlier}/commit`)).status, 200);
  await all.waitFor(8);
  assertEquals(all.of(`transaction:${earlier}`), [
    "@xstate.actor",
    "@xstate.event TransactionCommitted",
    "@xstate.snapshot TransactionCommitted",
  ]);
  const announced = all.messages.find((m) =>
    m.sessionId === `transaction:${earlier}` && m.type === "@xstate.actor"
  );
  assertEquals(announced?.snapshot?.value, "executing");
  await filtered.waitFor(7);
  assertEquals(filtered.of(`transaction:${other}`), []);
  await all.close();
  await filtered.close();
});

Deno.test("a filtered socket gets its transaction's replay first, then its live steps, and nothing else", async () => {
  await using api = await openApi();
  await using server = serve(api.app);
  await createTopic(api, "Trade");
  const { transactionId } = await prepare(api, "Trade", {});
  const watcher = await Watcher.open(`${server.ws}/inspect/ws?transaction=${transactionId}`);
  await watcher.waitFor(5);
  assertEquals(watcher.of(`transaction:${transactionId}`), started("LocalTransactionStarted"));

  await prepare(api, "Trade", {}); // another transaction: not this socket's
  assertEquals((await api.post(`/v1/transactions/${transactionId}/commit`)).status, 200);
  await watcher.waitFor(7);
  const replay = await inspectionOf(api, `/v1/transactions/${transactionId}/inspection`);
  assertEquals(watcher.messages, replay, "replay then live is the whole history");
  assert(watcher.messages.every((m) => m.sessionId === `transaction:${transactionId}`));
  await watcher.close();
});

Deno.test("a socket for one delivery replays it, then follows the group's receive and ack live", async () => {
  await using api = await openApi();
  await using server = serve(api.app);
  await createTopic(api, "Trade");
  assertEquals(
    (await api.put("/v1/groups/ops", { subscriptions: [{ topic: "Trade" }] })).status,
    201,
  );
  const { messageId } = await publish(api, "Trade", {});
  const watcher = await Watcher.open(`${server.ws}/inspect/ws?message=${messageId}&group=ops`);
  const all = await Watcher.open(`${server.ws}/inspect/ws`);
  await watcher.waitFor(3); // not begun: the machine's start alone
  const received = await api.post<{ messages: { receiptHandle: string }[] }>(
    "/v1/groups/ops/receive",
    {},
  );
  const handle = received.body.messages[0]!.receiptHandle;
  assertEquals((await api.post("/v1/groups/ops/ack", { receiptHandles: [handle] })).status, 200);
  await watcher.waitFor(7);
  const session = `delivery:${messageId}:ops`;
  assertEquals(watcher.of(session), [
    ...started("DeliveryAttempted"),
    "@xstate.event DeliveryAcked",
    "@xstate.snapshot DeliveryAcked",
  ]);
  assertEquals(
    watcher.messages,
    await inspectionOf(api, `/v1/messages/${messageId}/inspection?group=ops`),
  );
  // A delivery started from the topic log reaches the unfiltered socket too, actor first.
  await all.waitFor(7);
  assertEquals(all.of(session), watcher.of(session));
  await watcher.close();
  await all.close();
});

Deno.test("a socket for a transaction or a group that does not exist is refused with 404", async () => {
  await using api = await openApi();
  await using server = serve(api.app);
  const res = await fetch(`${server.http}/inspect/ws?transaction=missing`, {
    headers: { upgrade: "websocket" },
  });
  assertEquals(res.status, 404);
  await res.body?.cancel();
  let refused = false;
  await Watcher.open(`${server.ws}/inspect/ws?message=m1&group=nope`).catch(() => refused = true);
  assert(refused);
});

Deno.test("with a token set, /inspect/ws refuses a handshake without it and accepts ?token; the page keeps it in a cookie", async () => {
  await using api = await openApi();
  const app = createApp(api.broker, {
    auth: bearerAuth({ token: "s3cret" }),
    browserAuth: browserAuth("s3cret"),
  });
  await using server = serve(app);
  let refused = false;
  await Watcher.open(`${server.ws}/inspect/ws`).catch(() => refused = true);
  assert(refused, "handshake without the token is refused");
  const bare = await fetch(`${server.http}/inspect/ws`, { headers: { upgrade: "websocket" } });
  assertEquals(bare.status, 401);
  await bare.body?.cancel();
  const wrong = await fetch(`${server.http}/inspect?token=nope`);
  assertEquals(wrong.status, 401);
  await wrong.body?.cancel();

  const watcher = await Watcher.open(`${server.ws}/inspect/ws?token=s3cret`);
  await createTopic(testApiOf(api, app), "Trade");
  await prepare(testApiOf(api, app), "Trade", {});
  await watcher.waitFor(5);
  await watcher.close();

  const page = await fetch(`${server.http}/inspect?token=s3cret&transaction=t1`, {
    redirect: "manual",
  });
  assertEquals(page.status, 303);
  assertEquals(page.headers.get("location"), "/inspect?transaction=t1");
  const cookie = page.headers.get("set-cookie") ?? "";
  assertStringIncludes(cookie, "escrow_token=s3cret");
  assertStringIncludes(cookie, "HttpOnly");
  await page.body?.cancel();
  const withCookie = await fetch(`${server.http}/inspect?transaction=t1`, {
    headers: { cookie: cookie.split(";")[0]! },
  });
  assertEquals(withCookie.status, 200);
  assertStringIncludes(await withCookie.text(), "/inspect/ws?transaction=t1");
  const v1 = await fetch(`${server.http}/v1/machines?token=s3cret`);
  assertEquals(v1.status, 401, "the API itself still wants the bearer header");
  await v1.body?.cancel();
});

/** `api` sending through `app` with the bearer token. */
function testApiOf(api: TestApi, app: ReturnType<typeof createApp>): TestApi {
  const send: TestApi["send"] = async (method, path, options = {}) => {
    const res = await app.request(path, {
      method,
      headers: { authorization: "Bearer s3cret", "content-type": "application/json" },
      ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
    });
    return { status: res.status, headers: res.headers, body: await res.json() };
  };
  return {
    ...api,
    send,
    put: (path, json) => send("PUT", path, json === undefined ? {} : { json }),
    post: (path, json) => send("POST", path, json === undefined ? {} : { json }),
  };
}

Deno.test("once every socket closed, the bus has no listener and appends are not reported", async () => {
  await using api = await openApi();
  await using server = serve(api.app);
  assertEquals(api.broker.events.listening, false);
  const a = await Watcher.open(`${server.ws}/inspect/ws`);
  await createTopic(api, "Trade");
  const { transactionId } = await prepare(api, "Trade", {});
  const b = await Watcher.open(`${server.ws}/inspect/ws?transaction=${transactionId}`);
  await until(() => api.broker.inspection.watching === 2, "two watches");
  assertEquals(api.broker.events.listening, true);
  await a.close();
  await b.close();
  await until(() => api.broker.inspection.watching === 0, "no watch");
  assertEquals(api.broker.events.listening, false);
});

Deno.test("the event store reports an append on the bus after its commit, and only while someone listens", async () => {
  using kv = await Deno.openKv(":memory:");
  const bus = new EventBus();
  const store = new EventStore(kv, bus);
  const event: StoredEvent = { type: "MessagePublished", data: { topic: "T" }, at: 1 };
  const unheard = store.append(new WriteSet(), { kind: "msg", id: "m1" }, 0, [event]);
  assertEquals(unheard.afterCommit.length, 0, "nothing recorded while nobody listens");

  const heard: unknown[] = [];
  const unsubscribe = bus.subscribe((committed) => heard.push(committed));
  const op = store.append(new WriteSet(), { kind: "msg", id: "m2" }, 0, [event]);
  assertEquals(heard, [], "not before the commit");
  for (const fn of op.afterCommit) fn();
  assertEquals(heard, [{ stream: { kind: "msg", id: "m2" }, fromSeq: 1, events: [event] }]);
  unsubscribe();
  assertEquals(bus.listening, false);
});

const PREPARED = {
  transactionId: "t1",
  messageId: "m1",
  topic: "Trade",
  checkAfterMs: 6_000,
  checkIntervalMs: 30_000,
  maxChecks: 2,
};
const TX_EVENTS: StoredEvent[] = [
  { type: "TransactionPrepared", data: PREPARED, at: 1 },
  { type: "LocalTransactionStarted", data: {}, at: 1 },
  { type: "CheckBackRequested", data: { check: 1 }, at: 2 },
  { type: "CheckBackAnswered", data: { check: 1, answer: "unknown" }, at: 3 },
  { type: "CheckBackRequested", data: { check: 2 }, at: 4 },
  { type: "CheckBackAnswered", data: { check: 2, answer: "commit" }, at: 5 },
];

async function storeEvents(kv: Deno.Kv, events: readonly StoredEvent[], fromSeq = 1) {
  const op = kv.atomic();
  events.forEach((event, i) => op.set(["ev", "tx", "t1", fromSeq + i], event));
  assert((await op.commit()).ok);
}

const kinds = (messages: readonly { type: string; event?: unknown }[]) =>
  messages.map((m) =>
    m.type === "@xstate.actor" ? m.type : `${m.type} ${(m.event as { type: string }).type}`
  );

Deno.test("the relay builds on a machine's stored events when it first sees it, and fills a skipped seq from KV", async () => {
  using kv = await Deno.openKv(":memory:");
  const bus = new EventBus();
  const relay = new InspectionRelay(kv, bus);
  const got: InspectionMessage[] = [];
  const watch = relay.watchAll({ send: (m) => got.push(m), end: () => {} });
  await storeEvents(kv, TX_EVENTS.slice(0, 4));
  bus.publish({ stream: { kind: "tx", id: "t1" }, fromSeq: 4, events: [TX_EVENTS[3]!] });
  await until(() => got.length >= 3, "the first step");
  assertEquals(kinds(got), [
    "@xstate.actor",
    "@xstate.event CheckBackAnswered",
    "@xstate.snapshot CheckBackAnswered",
  ]);
  assertEquals((got[0] as { snapshot: { value: string } }).snapshot.value, "checking");
  // Seq 5 committed while nobody reported it: the batch of seq 6 brings it in from KV.
  await storeEvents(kv, TX_EVENTS.slice(4), 5);
  bus.publish({ stream: { kind: "tx", id: "t1" }, fromSeq: 6, events: [TX_EVENTS[5]!] });
  await until(() => got.length >= 7, "the filled-in steps");
  assertEquals(kinds(got.slice(3)), [
    "@xstate.event CheckBackRequested",
    "@xstate.snapshot CheckBackRequested",
    "@xstate.event CheckBackAnswered",
    "@xstate.snapshot CheckBackAnswered",
  ]);
  assertEquals((got.at(-1) as { snapshot: { value: string } }).snapshot.value, "committed");
  watch.close();
  assertEquals(bus.listening, false);
});

Deno.test("events committed while a watched machine's history is read come after it, once each", async () => {
  using kv = await Deno.openKv(":memory:");
  const bus = new EventBus();
  const relay = new InspectionRelay(kv, bus);
  const got: InspectionMessage[] = [];
  const stream = { kind: "tx", id: "t1" } as const;
  const trace = new MachineTrace("transaction", "transaction:t1");
  await storeEvents(kv, TX_EVENTS.slice(0, 3));
  const watch = await relay.watchStream(stream, trace, async () => {
    // Seq 3 is in the history and also reported; seq 4 commits during the read.
    bus.publish({ stream, fromSeq: 3, events: [TX_EVENTS[2]!] });
    await storeEvents(kv, [TX_EVENTS[3]!], 4);
    bus.publish({ stream, fromSeq: 4, events: [TX_EVENTS[3]!] });
    bus.publish({ stream: { kind: "tx", id: "t2" }, fromSeq: 1, events: [TX_EVENTS[0]!] });
    return trace.apply(1, TX_EVENTS.slice(0, 3));
  }, { send: (m) => got.push(m), end: () => {} });
  await until(() => got.length >= 9, "history and the held step");
  const whole = new MachineTrace("transaction", "transaction:t1").apply(1, TX_EVENTS.slice(0, 4));
  assertEquals(got, whole);
  watch.close();
  assertEquals(bus.listening, false);
});

Deno.test("a trace takes each event once: those already taken are skipped, a gap is refused", () => {
  const trace = new MachineTrace("transaction", "transaction:t1");
  assertEquals(kinds(trace.apply(1, TX_EVENTS.slice(0, 3))).length, 3 + 2 * 2);
  assertEquals(kinds(trace.apply(2, TX_EVENTS.slice(1, 4))), [
    "@xstate.event CheckBackAnswered",
    "@xstate.snapshot CheckBackAnswered",
  ]);
  assertEquals(trace.version, 4);
  let error: unknown;
  try {
    trace.apply(6, TX_EVENTS.slice(5));
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError, String(error));
});
