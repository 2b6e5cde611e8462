/**
 * The consumer stream (`GET /v1/groups/{group}/stream`) end to end over a
 * real `Deno.serve` on 127.0.0.1: credits bound what is pushed, a message
 * committed while the stream waits is pushed, acks / nacks / visibility
 * changes on the socket settle (forged and replayed handles are refused with
 * their reason), a closed socket's messages are released at once, bad frames
 * are 400 problems that change nothing, and the handshake is authenticated
 * and counted against the long-poll limits.
 *
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { encodeBase64Url } from "@std/encoding/base64url";
import { createApp } from "../../src/http/app.ts";
import { TokenSet } from "../../src/http/auth/mod.ts";
import { DEFAULT_LIMITS, Overload } from "../../src/http/limits/mod.ts";
import { LIVE, openBroker, serveBroker, type ServedBrokerFixture } from "../_support/broker.ts";
import { waitFor } from "../_process.ts";
import { kvSnapshot } from "./_helpers.ts";

type Frame = Record<string, unknown> & { type: string };

/** A raw stream socket whose frames a test awaits one by one. */
class TestStream implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly opened: Promise<boolean>;
  readonly closed: Promise<CloseEvent>;
  readonly #frames: Frame[] = [];
  #arrived = Promise.withResolvers<void>();
  #nextId = 0;

  constructor(url: string, init?: { headers?: Record<string, string>; protocols?: string[] }) {
    this.socket = new WebSocket(url, init as never);
    const opened = Promise.withResolvers<boolean>();
    const closed = Promise.withResolvers<CloseEvent>();
    this.opened = opened.promise;
    this.closed = closed.promise;
    this.socket.onopen = () => opened.resolve(true);
    this.socket.onerror = () => {};
    this.socket.onclose = (event) => {
      opened.resolve(false);
      closed.resolve(event);
      this.#arrived.resolve();
    };
    this.socket.onmessage = (event) => {
      this.#frames.push(JSON.parse(String(event.data)));
      this.#arrived.resolve();
      this.#arrived = Promise.withResolvers<void>();
    };
  }

  static async open(live: ServedBrokerFixture, group = "ops", query = ""): Promise<TestStream> {
    const stream = new TestStream(
      `${live.url.replace("http", "ws")}/v1/groups/${group}/stream${query}`,
    );
    assert(await stream.opened, "the stream opened");
    return stream;
  }

  send(frame: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(frame));
  }

  /** Sends a frame with a fresh id and returns the answer carrying that id. */
  async call(frame: Record<string, unknown>): Promise<Frame> {
    const id = `c${++this.#nextId}`;
    this.send({ ...frame, id });
    return await this.next((f) => f.id === id);
  }

  /** The next frame (in arrival order) that `match` accepts, taken out of the queue. */
  async next(match: (frame: Frame) => boolean = () => true): Promise<Frame> {
    for (;;) {
      const index = this.#frames.findIndex(match);
      if (index >= 0) return this.#frames.splice(index, 1)[0]!;
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error("the stream closed");
      await this.#arrived.promise;
    }
  }

  /** Messages of `messages` frames until `n` have come. */
  async messages(n: number): Promise<Frame[]> {
    const got: Frame[] = [];
    while (got.length < n) {
      got.push(...(await this.next((f) => f.type === "messages")).messages as Frame[]);
    }
    return got;
  }

  /** Sends `stop` and returns every message pushed before `stopped`. */
  async stop(): Promise<Frame[]> {
    this.send({ type: "stop" });
    await this.next((f) => f.type === "stopped");
    const rest = this.#frames.filter((f) => f.type === "messages").flatMap((f) =>
      f.messages as Frame[]
    );
    return rest;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000);
    await this.closed;
  }
}

async function setUp() {
  const live = await serveBroker(LIVE);
  await live.broker.topics.create("Trade");
  await live.broker.groups.put("ops", { subscriptions: [{ topic: "Trade" }] } as never);
  return live;
}

async function publish(live: ServedBrokerFixture, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${live.url}/v1/topics/Trade/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ body: { i } }),
    });
    assertEquals(res.status, 201);
    ids.push((await res.json()).messageId);
  }
  return ids;
}

async function groupStats(live: ServedBrokerFixture) {
  return await (await fetch(`${live.url}/v1/groups/ops`)).json() as Record<string, number>;
}

Deno.test("a stream pushes no more messages than the credits granted, and acks on the socket settle them", async () => {
  await using live = await setUp();
  const ids = await publish(live, 5);
  await using stream = await TestStream.open(live);

  stream.send({ type: "credit", n: 3 });
  const got = await stream.messages(3);
  const answer = await stream.call({
    type: "ack",
    receiptHandles: got.map((m) => m.receiptHandle),
  });
  const late = await stream.stop(); // everything pushed comes before `stopped`

  assertEquals(got.length, 3);
  assertEquals(late, [], "nothing beyond the 3 credits was pushed, acks give no credit back");
  assertEquals(got.map((m) => m.messageId), ids.slice(0, 3));
  assert(got.every((m) => typeof m.receiptHandle === "string" && m.attempt === 1));
  assertEquals([answer.type, answer.acked, answer.failed], ["acked", 3, []]);
  const stats = await groupStats(live);
  assertEquals([stats.acked, stats.inFlight], [3, 0]);
});

Deno.test("a message committed while the stream waits is pushed without another request", async () => {
  await using live = await setUp();
  await using stream = await TestStream.open(live);
  stream.send({ type: "credit", n: 2 });
  const [id] = await publish(live, 1); // after the socket opened and was granted credit

  const [message] = await stream.messages(1);

  assertEquals(message?.messageId, id);
  assertEquals((message?.body as { i: number }).i, 0);
  const answer = await stream.call({ type: "ack", receiptHandles: [message!.receiptHandle] });
  assertEquals(answer.acked, 1);
});

Deno.test("a forged or replayed handle is refused on the socket with the reason POST /ack gives", async () => {
  await using live = await setUp();
  await publish(live, 1);
  await using stream = await TestStream.open(live);
  stream.send({ type: "credit", n: 1 });
  const [message] = await stream.messages(1);
  const handle = message!.receiptHandle as string;
  const forged = handle.slice(0, -2) + (handle.endsWith("AA") ? "BB" : "AA");

  const first = await stream.call({ type: "ack", receiptHandles: [handle, forged] });
  const replay = await stream.call({ type: "ack", receiptHandles: [handle] });
  const nack = await stream.call({ type: "nack", receiptHandles: [forged] });
  const visibility = await stream.call({
    type: "visibility",
    receiptHandle: forged,
    visibilityTimeoutSeconds: 10,
  });
  const viaHttp = await (await fetch(`${live.url}/v1/groups/ops/ack`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ receiptHandles: [forged, handle] }),
  })).json();

  assertEquals(first.acked, 1);
  assertEquals(first.failed, [viaHttp.failed[0]], "the forged handle, as POST /ack refuses it");
  assertEquals(replay.acked, 0);
  assertEquals(replay.failed, [viaHttp.failed[1]], "the replayed handle, as POST /ack refuses it");
  assertEquals((nack.failed as unknown[]).length, 1);
  assertEquals(visibility.type, "error");
  const problem = visibility.problem as Record<string, unknown>;
  assertEquals(problem.status, 409);
  assert(typeof problem.reason === "string" && problem.reason.length > 0);
  assertEquals((await groupStats(live)).acked, 1);
});

Deno.test("a visibility change on the socket returns a new handle that acks; a nack redelivers", async () => {
  await using live = await setUp();
  await live.broker.groups.put("ops", {
    subscriptions: [{ topic: "Trade" }],
    retryDelaysSeconds: [0],
  } as never);
  await publish(live, 2);
  await using stream = await TestStream.open(live);
  stream.send({ type: "credit", n: 2 });
  const [a, b] = await stream.messages(2);

  const extended = await stream.call({
    type: "visibility",
    receiptHandle: a!.receiptHandle,
    visibilityTimeoutSeconds: 60,
  });
  const old = await stream.call({ type: "ack", receiptHandles: [a!.receiptHandle] });
  const acked = await stream.call({ type: "ack", receiptHandles: [extended.receiptHandle] });
  const nacked = await stream.call({
    type: "nack",
    receiptHandles: [b!.receiptHandle],
    reason: "db down",
  });
  stream.send({ type: "credit", n: 1 });
  const [again] = await stream.messages(1);

  assertEquals(extended.type, "visibility");
  assertNotEquals(extended.receiptHandle, a!.receiptHandle);
  assertEquals([old.acked, acked.acked, nacked.nacked], [0, 1, 1]);
  assertEquals([again?.messageId, again?.attempt], [b!.messageId, 2]);
  assertEquals(
    (await stream.call({ type: "ack", receiptHandles: [again!.receiptHandle] })).acked,
    1,
  );
});

Deno.test("closing the socket releases what it held at once: receivable again, not after the visibility timeout", async () => {
  await using live = await setUp();
  const ids = await publish(live, 3);
  const stream = await TestStream.open(live, "ops", "?visibilityTimeoutSeconds=600");
  stream.send({ type: "credit", n: 2 });
  const got = await stream.messages(2);
  await stream.call({ type: "ack", receiptHandles: [got[0]!.receiptHandle] });
  await stream[Symbol.asyncDispose]();

  const back = await waitFor(
    async () => await live.broker.deliveries.receive("ops", { max: 10 }),
    (messages) => messages.length > 0,
    { what: "the released message to be receivable", timeoutMs: 5_000 },
  );
  const all = [...back, ...await live.broker.deliveries.receive("ops", { max: 10 })];

  assertEquals(all.map((m) => m.messageId).sort(), [ids[1]!, ids[2]!].sort());
  const released = all.find((m) => m.messageId === ids[1])!;
  assertEquals(released.attempt, 2, "the pushed, unsettled one came back as attempt 2");
  const history = await (await fetch(`${live.url}/v1/messages/${ids[1]}`)).json();
  const attempts = history.deliveries[0].attempts as { error?: string }[];
  assert(attempts[0]?.error?.startsWith("released"), JSON.stringify(attempts));
});

Deno.test("a bad frame is a 400 problem naming the field, changes nothing, and the stream stays open", async () => {
  await using live = await setUp();
  await using stream = await TestStream.open(live);
  await stream.call({ type: "ack", receiptHandles: ["x"] }); // the session is running
  const before = await kvSnapshot(live.kv);

  const frames: [string, string][] = [
    ["not json", "frame"],
    [JSON.stringify({ type: "credit", n: 0 }), "frame.n"],
    [JSON.stringify({ type: "credit", n: 1.5 }), "frame.n"],
    [JSON.stringify({ type: "credit", n: 1, extra: true }), "frame"],
    [JSON.stringify({ type: "dance" }), "frame.type"],
    [JSON.stringify({ type: "ack", receiptHandles: [] }), "frame.receiptHandles"],
    [JSON.stringify({ type: "credit", n: 4096 }), ""], // accepted: at the cap
    [JSON.stringify({ type: "credit", n: 1 }), "frame.n"], // one over the cap
  ];
  const problems: Record<string, unknown>[] = [];
  for (const [text, field] of frames) {
    stream.socket.send(text);
    if (field === "") continue;
    const answer = await stream.next((f) => f.type === "error");
    problems.push({ field, ...answer.problem as Record<string, unknown> });
  }
  const after = await kvSnapshot(live.kv);
  const stillOpen = await stream.call({ type: "ack", receiptHandles: ["x"] });

  for (const problem of problems) {
    assertEquals(problem.status, 400, JSON.stringify(problem));
    const paths = (problem.issues as { path: string }[]).map((i) => i.path);
    assert(paths.includes(problem.field as string), JSON.stringify(problem));
  }
  assertEquals(after, before);
  assertEquals(stillOpen.type, "acked");
});

Deno.test("the handshake: a plain GET is a 426, an unknown group a 404, a bad query a 400", async () => {
  await using t = await openBroker();
  await t.broker.topics.create("Trade");
  await t.broker.groups.put("ops", { subscriptions: [{ topic: "Trade" }] } as never);
  const app = createApp(t.broker);
  const upgrade = { headers: { upgrade: "websocket" } };

  const plain = await app.request("/v1/groups/ops/stream");
  const unknown = await app.request("/v1/groups/nope/stream", upgrade);
  const badQuery = await app.request("/v1/groups/ops/stream?visibilityTimeoutSeconds=0", upgrade);

  assertEquals(plain.status, 426);
  assertEquals(plain.headers.get("content-type"), "application/problem+json");
  assertEquals(unknown.status, 404);
  assertEquals(badQuery.status, 400);
  const problem = await badQuery.json();
  assertEquals(problem.issues[0].path, "query.visibilityTimeoutSeconds");
  await plain.body?.cancel();
  await unknown.body?.cancel();
});

Deno.test("the handshake needs consume:<group>: 401 without a token, 403 with another group's, open with the header or the subprotocol", async () => {
  await using t = await openBroker(LIVE);
  await t.broker.topics.create("Trade");
  await t.broker.groups.put("ops", { subscriptions: [{ topic: "Trade" }] } as never);
  const tokens = TokenSet.of([
    { name: "ops", token: "ops-secret", permissions: ["consume:ops"] },
    { name: "billing", token: "billing-secret", permissions: ["consume:billing"] },
  ]);
  const app = createApp(t.broker, { tokens });
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    app.fetch,
  );
  const url = `ws://127.0.0.1:${server.addr.port}/v1/groups/ops/stream`;
  const upgrade = (extra: Record<string, string>) => ({
    headers: { upgrade: "websocket", ...extra },
  });
  const asProtocol = (token: string) => `escrow.bearer.${encodeBase64Url(token)}`;

  const none = await app.request("/v1/groups/ops/stream", upgrade({}));
  const other = await app.request(
    "/v1/groups/ops/stream",
    upgrade({ authorization: "Bearer billing-secret" }),
  );
  const otherProtocol = await app.request(
    "/v1/groups/ops/stream",
    upgrade({ "sec-websocket-protocol": `escrow.v1, ${asProtocol("billing-secret")}` }),
  );
  const garbled = await app.request(
    "/v1/groups/ops/stream",
    upgrade({ "sec-websocket-protocol": "escrow.v1, escrow.bearer.%%%" }),
  );
  await using viaHeader = new TestStream(url, { headers: { authorization: "Bearer ops-secret" } });
  await using viaProtocol = new TestStream(url, {
    protocols: ["escrow.v1", asProtocol("ops-secret")],
  });
  await using refused = new TestStream(url, {
    protocols: ["escrow.v1", asProtocol("billing-secret")],
  });

  assertEquals(none.status, 401);
  assertEquals((await none.json()).permission, "consume:ops");
  assertEquals(other.status, 403);
  assertEquals((await other.json()).permission, "consume:ops");
  assertEquals(otherProtocol.status, 403);
  assertEquals(garbled.status, 401);
  await otherProtocol.body?.cancel();
  await garbled.body?.cancel();
  assert(await viaHeader.opened, "opened with the header");
  assert(await viaProtocol.opened, "opened with the subprotocol");
  assertEquals(viaProtocol.socket.protocol, "escrow.v1");
  assertEquals(await refused.opened, false);
  assertEquals((await viaHeader.call({ type: "ack", receiptHandles: ["x"] })).type, "acked");
});

Deno.test("an open stream holds a long-poll slot until it closes: over the cap the handshake is a 429", async () => {
  await using t = await openBroker(LIVE);
  await t.broker.topics.create("Trade");
  await t.broker.groups.put("ops", { subscriptions: [{ topic: "Trade" }] } as never);
  const overload = new Overload({ ...DEFAULT_LIMITS, maxLongPolls: 1 });
  const app = createApp(t.broker, { overload });
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    app.fetch,
  );
  const url = `ws://127.0.0.1:${server.addr.port}/v1/groups/ops/stream`;

  const first = new TestStream(url);
  assert(await first.opened);
  const whileOpen = await app.request("/v1/groups/ops/stream", {
    headers: { upgrade: "websocket" },
  });
  const poll = await app.request("/v1/groups/ops/receive", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ waitSeconds: 1 }),
  });
  const counted = overload.counts.longPolls;
  await first[Symbol.asyncDispose]();
  await waitFor(() => overload.counts.longPolls, (n) => n === 0, { what: "the slot back" });
  await using second = new TestStream(url);

  assertEquals(counted, 1);
  assertEquals(whileOpen.status, 429);
  assertEquals(whileOpen.headers.get("retry-after"), "1");
  assertEquals(poll.status, 429, "a long poll shares the cap");
  await whileOpen.body?.cancel();
  await poll.body?.cancel();
  assert(await second.opened, "a stream opens again once the first closed");
});

Deno.test("the OpenAPI document describes the stream route and its frames", async () => {
  await using t = await openBroker();
  const doc = await (await createApp(t.broker).request("/openapi.json")).json();
  const operation = doc.paths["/v1/groups/{group}/stream"]?.get;

  assertEquals(operation?.operationId, "streamMessages");
  assertEquals(operation?.["x-escrow-permission"], "consume:{group}");
  for (
    const word of ['"type":"credit"', '"type":"ack"', '"type":"messages"', "stopped", "released"]
  ) {
    assert(operation.description.includes(word), word);
  }
  assert(operation.responses["101"] && operation.responses["426"] && operation.responses["429"]);
});
