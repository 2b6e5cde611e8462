/**
 * The inspection routes: a transaction's and a delivery's machine replayed
 * from their stored events equal, message for message, what
 * `@statelyai/inspect`'s own WebSocket inspector sends for a live XState
 * actor of the same machine fed the same events; replaying writes nothing
 * and calls no one; `/v1/machines` gives both definitions; `/inspect` names
 * the inspector URL.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertStringIncludes } from "@std/assert/string-includes";
import { type AnyStateMachine, createActor } from "xstate";
import { deliveryMachine } from "../../machines/delivery.ts";
import { transactionMachine } from "../../machines/transaction.ts";
import { readConfig } from "../../src/config.ts";
import type { StoredEvent, TransactionPreparedData } from "../../src/domain/events.ts";
import { createApp } from "../../src/http/app.ts";
import { readDelivery } from "../../src/engine/delivery/history.ts";
import { CheckEndpoint } from "../_support/check_endpoint.ts";
import {
  assertProblem,
  createTopic,
  kvSnapshot,
  openApi,
  prepare,
  publish,
  T0,
  type TestApi,
} from "./_helpers.ts";

type Message = Record<string, unknown> & { type: string; createdAt: string; sessionId: string };

/** Polls `done` until it holds; the deadline only guards against a hang. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * What `createWebSocketInspector` sends for a live actor of `machine`
 * (started with `input`) fed `events`: collected by a WebSocket server on
 * 127.0.0.1, one JSON message per text frame.
 */
async function liveInspection(
  machine: AnyStateMachine,
  input: unknown,
  events: readonly StoredEvent[],
): Promise<Message[]> {
  const frames: string[] = [];
  let serverSocket: WebSocket | undefined;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    serverSocket = socket;
    socket.onmessage = (event) => frames.push(event.data);
    return response;
  });
  const { createWebSocketInspector } = await import("@statelyai/inspect");
  const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${server.addr.port}` });
  const actor = createActor(machine, { input, inspect: inspector.inspect });
  actor.start();
  // The library reads the actor's registration after a tick: let it register at its start.
  await until(() => frames.length >= 3, "the actor's registration");
  for (const event of events) actor.send(event);
  const expected = 3 + 2 * events.length;
  await until(() => frames.length >= expected, `${expected} messages`);
  const closed = new Promise((resolve) => serverSocket!.addEventListener("close", resolve));
  inspector.stop();
  await closed;
  actor.stop();
  await server.shutdown();
  return frames.map((frame) => JSON.parse(frame));
}

/** A message without the fields that may differ (when, and under which session). */
function comparable({ createdAt: _c, sessionId: _s, rootId: _r, ...rest }: Message) {
  return rest;
}

async function inspection(api: TestApi, path: string): Promise<Message[]> {
  const res = await api.get<Message[]>(path);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  assert(Array.isArray(res.body), "a bare JSON array");
  return res.body;
}

async function historyOf(api: TestApi, path: string): Promise<StoredEvent[]> {
  const res = await api.get<{ history: StoredEvent[] }>(path);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body.history.map(({ type, data, at }) => ({
    type,
    data,
    at: typeof at === "string" ? Date.parse(at) : at,
  }));
}

/** The stored events of a stream, as the engine stored them. */
async function storedEvents(api: TestApi, kind: string, id: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for await (const entry of api.kv.list<StoredEvent>({ prefix: ["ev", kind, id] })) {
    events.push(entry.value);
  }
  return events;
}

Deno.test("a transaction that went through check-back replays as the library's live actor does, with the stored times", async () => {
  const answers = ["unknown", "commit"] as const;
  await using endpoint = CheckEndpoint.serve((call) => answers[call.checkCount - 1] ?? "commit");
  await using api = await openApi();
  await createTopic(api, "Trade");
  const { transactionId } = await prepare(api, "Trade", {
    checkUrl: endpoint.url,
    checkAfterSeconds: 1,
    checkIntervalSeconds: 2,
  });
  api.advance(1_000);
  await api.broker.scheduler.runDue();
  api.advance(2_000);
  await api.broker.scheduler.runDue();
  const stored = await storedEvents(api, "tx", transactionId);
  assertEquals(stored.map((e) => e.type), [
    "TransactionPrepared",
    "LocalTransactionStarted",
    "CheckBackRequested",
    "CheckBackAnswered",
    "CheckBackRequested",
    "CheckBackAnswered",
  ]);
  assertEquals(endpoint.calls.length, 2);

  const before = await kvSnapshot(api.kv);
  const replay = await inspection(api, `/v1/transactions/${transactionId}/inspection`);
  assertEquals(await kvSnapshot(api.kv), before, "reading a replay writes nothing");
  assertEquals(endpoint.calls.length, 2, "reading a replay calls no one");

  const [first, ...rest] = stored;
  const live = await liveInspection(
    transactionMachine,
    { prepared: first!.data as TransactionPreparedData, at: first!.at },
    rest,
  );
  assertEquals(replay.length, 1 + 2 + 2 * rest.length);
  assertEquals(replay.map(comparable), live.map(comparable));
  assertEquals(replay.map((m) => m.type).slice(0, 3), [
    "@xstate.actor",
    "@xstate.event",
    "@xstate.snapshot",
  ]);
  assertEquals(
    replay.map((m) => Number(m.createdAt)),
    [first!.at, first!.at, first!.at, ...rest.flatMap((e) => [e.at, e.at])],
  );
  assert(replay.every((m) => m.sessionId === `transaction:${transactionId}`));
  assert(replay.every((m) => m.rootId === `transaction:${transactionId}`));
  const last = replay.at(-1) as unknown as {
    snapshot: { value: string; context: { checks: number } };
  };
  assertEquals(last.snapshot.value, "committed");
  assertEquals(last.snapshot.context.checks, 2);
});

Deno.test("a delivery with a retry, a dead letter and a redrive replays as the library's live actor does", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const group = await api.put("/v1/groups/ops", {
    subscriptions: [{ topic: "Trade" }],
    maxRetries: 1,
    retryDelaysSeconds: [1],
  });
  assertEquals(group.status, 201, JSON.stringify(group.body));
  const { messageId } = await publish(api, "Trade", { body: { n: 1 } });
  const receiveAnd = async (outcome: "ack" | "nack") => {
    const res = await api.post<{ messages: { receiptHandle: string }[] }>(
      "/v1/groups/ops/receive",
      {},
    );
    assertEquals(res.body.messages.length, 1, JSON.stringify(res.body));
    const done = await api.post(`/v1/groups/ops/${outcome}`, {
      receiptHandles: [res.body.messages[0]!.receiptHandle],
    });
    assertEquals(done.status, 200, JSON.stringify(done.body));
  };
  await receiveAnd("nack"); // attempt 1 fails: retry in 1 s
  api.advance(1_000);
  await receiveAnd("nack"); // attempt 2 fails: retries spent, dead-lettered
  const redriven = await api.post<{ redriven: number }>("/v1/groups/ops/dead-letters/redrive", {
    all: true,
  });
  assertEquals(redriven.body.redriven, 1);
  await receiveAnd("ack");

  const groupId = (await api.broker.groups.require("ops")).id;
  // The first attempt its round's record holds, the stream's stored events, then the acked
  // event its lease's ack record holds.
  const stored: StoredEvent[] = await readDelivery(api.kv, groupId, {
    messageId,
    topic: "Trade",
  });
  const types = stored.map((e) => e.type);
  for (
    const type of [
      "DeliveryFailed",
      "DeliveryRetryDue",
      "DeliveryDeadLettered",
      "DeliveryRedriven",
      "DeliveryAcked",
    ]
  ) {
    assert(types.includes(type), `${type} in ${types.join(", ")}`);
  }

  const before = await kvSnapshot(api.kv);
  const replay = await inspection(api, `/v1/messages/${messageId}/inspection?group=ops`);
  assertEquals(await kvSnapshot(api.kv), before, "reading a replay writes nothing");

  const live = await liveInspection(deliveryMachine, undefined, stored);
  assertEquals(replay.length, 3 + 2 * stored.length);
  assertEquals(replay.map(comparable), live.map(comparable));
  assertEquals(
    replay.slice(3).map((m) => Number(m.createdAt)),
    stored.flatMap((e) => [e.at, e.at]),
  );
  assert(replay.every((m) => m.sessionId === `delivery:${messageId}:ops`));
  const states = replay.filter((m) => m.type === "@xstate.snapshot")
    .map((m) => (m as unknown as { snapshot: { value: string } }).snapshot.value);
  assertEquals(states.at(-1), "acked");
  assert(states.includes("deadLettered") && states.includes("retrying"), states.join(", "));
});

Deno.test("a delivery that has not begun replays as its machine's start alone; unknown ones are 404", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  assertEquals(
    (await api.put("/v1/groups/ops", { subscriptions: [{ topic: "Trade" }] })).status,
    201,
  );
  const { messageId } = await publish(api, "Trade", {});
  const replay = await inspection(api, `/v1/messages/${messageId}/inspection?group=ops`);
  const live = await liveInspection(deliveryMachine, undefined, []);
  assertEquals(replay.map(comparable), live.map(comparable));
  assertProblem(await api.get(`/v1/messages/nope/inspection?group=ops`), 404, "nope");
  assertProblem(await api.get(`/v1/messages/${messageId}/inspection?group=other`), 404, "other");
  assertProblem(await api.get(`/v1/messages/${messageId}/inspection`), 400);
  assertProblem(await api.get(`/v1/transactions/missing/inspection`), 404, "missing");
});

Deno.test("GET /v1/machines gives both machines as the inspector defines them, and XState's toJSON", async () => {
  await using api = await openApi();
  const res = await api.get<Record<string, { definition: Message; json: Record<string, unknown> }>>(
    "/v1/machines",
  );
  assertEquals(res.status, 200);
  const replayActor = (await liveInspection(deliveryMachine, undefined, []))[0]!;
  assertEquals(res.body.delivery!.definition, JSON.parse(replayActor.definition as string));
  assertEquals(res.body.transaction!.definition.id, "transaction");
  assertEquals(res.body.transaction!.definition.initial, "prepared");
  assertEquals(res.body.transaction!.json.id, "transaction");
  assert("states" in res.body.delivery!.json);
});

Deno.test("GET /inspect names the inspector URL and the stream of the transaction it opens", async () => {
  await using api = await openApi();
  const page = await api.get<string>("/inspect?transaction=order-1");
  assertEquals(page.status, 200);
  assertStringIncludes(page.headers.get("content-type") ?? "", "text/html");
  assertStringIncludes(page.body, 'src="https://stately.ai/inspect"');
  assertStringIncludes(page.body, 'data-socket="/inspect/ws?transaction=order-1"');
  assertStringIncludes(
    page.headers.get("content-security-policy") ?? "",
    "frame-src https://stately.ai",
  );
  const script = await api.get<string>("/inspect/client.js");
  assertEquals(script.status, 200);
  assertStringIncludes(script.body, "@statelyai.connected");
  assertProblem(await api.get("/inspect?transaction=a&message=b"), 400);

  const other = createApp(api.broker, { inspectorUrl: "http://127.0.0.1:9999/stand-in.html" });
  const delivery = await (await other.request("/inspect?message=m1&group=ops")).text();
  assertStringIncludes(delivery, 'src="http://127.0.0.1:9999/stand-in.html"');
  assertStringIncludes(delivery, 'data-socket="/inspect/ws?message=m1&#38;group=ops"');
});

Deno.test("ESCROW_INSPECTOR_URL sets the inspector URL; the hosted UI is the default; a non-http URL is refused", () => {
  assertEquals(readConfig({}).inspectorUrl, "https://stately.ai/inspect");
  assertEquals(
    readConfig({ ESCROW_INSPECTOR_URL: "http://127.0.0.1:8080/inspect" }).inspectorUrl,
    "http://127.0.0.1:8080/inspect",
  );
  let error: unknown;
  try {
    readConfig({ ESCROW_INSPECTOR_URL: "javascript:alert(1)" });
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError);
  assertStringIncludes(error.message, "ESCROW_INSPECTOR_URL");
});

Deno.test("the replay's times are the stored events' times, not the time of reading", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const { transactionId } = await prepare(api, "Trade", {});
  api.advance(5_000);
  assertEquals((await api.post(`/v1/transactions/${transactionId}/commit`)).status, 200);
  api.advance(60_000);
  const replay = await inspection(api, `/v1/transactions/${transactionId}/inspection`);
  assertEquals(replay.map((m) => Number(m.createdAt)), [
    T0,
    T0,
    T0,
    T0,
    T0,
    T0 + 5_000,
    T0 + 5_000,
  ]);
  const history = await historyOf(api, `/v1/transactions/${transactionId}`);
  assertEquals(history.length, 3);
});
