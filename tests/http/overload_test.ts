/**
 * Overload limits at the HTTP edge, in memory (`app.request()`): rates per
 * token, requests in progress and long polls per token and in total. Each
 * principal here is named by its bearer token, as the auth middleware would
 * name it; requests are held in progress by long polls, aborted at the end.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import type { MiddlewareHandler } from "hono";
import { createApp } from "../../src/http/app.ts";
import { DEFAULT_LIMITS, Overload, type OverloadLimits } from "../../src/http/limits/mod.ts";
import { BrokerProcess, waitFor } from "../_process.ts";
import { openBroker } from "../_support/broker.ts";
import { type Answer, assertProblem, kvSnapshot } from "./_helpers.ts";

/** No limit at all, for the fields a test does not look at. */
const UNLIMITED: OverloadLimits = {
  maxConcurrentRequests: 0,
  maxConcurrentRequestsPerToken: 0,
  maxLongPolls: 0,
  maxLongPollsPerToken: 0,
  ratePerToken: 0,
  burstPerToken: 0,
};

/** Names the principal after the bearer token; none is the open broker's `anonymous`. */
const tokenIsName: MiddlewareHandler = async (c, next) => {
  const token = c.req.header("authorization")?.replace(/^Bearer /, "");
  if (token) c.set("principal" as never, { name: token, permissions: ["admin"] } as never);
  await next();
};

/** A broker with topic Orders and pull group ops, its app under `limits`, and a clock for the rates. */
async function limitedApi(limits: Partial<OverloadLimits>) {
  const fixture = await openBroker({
    setUp: async (broker) => {
      await broker.topics.create("Orders");
      await broker.groups.put("ops", { subscriptions: [{ topic: "Orders" }] });
    },
  });
  const clock = { now: 0 };
  const overload = new Overload({ ...UNLIMITED, ...limits }, { clock: () => clock.now });
  const app = createApp(fixture.broker, { auth: tokenIsName, overload });
  const polls: { abort: AbortController; answer: Response | Promise<Response> }[] = [];
  const request = (
    token: string | undefined,
    method: string,
    path: string,
    json?: unknown,
    signal?: AbortSignal,
  ) => {
    const headers: Record<string, string> = json === undefined
      ? {}
      : { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    return app.request(path, {
      method,
      headers,
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      ...(signal ? { signal } : {}),
    });
  };
  const send = async (
    token: string | undefined,
    method: string,
    path: string,
    json?: unknown,
  ): Promise<Answer<unknown>> => {
    const res = await request(token, method, path, json);
    const type = res.headers.get("content-type") ?? "";
    return {
      status: res.status,
      headers: res.headers,
      body: type.includes("json") ? await res.json() : await res.text(),
    };
  };
  return {
    kv: fixture.kv,
    overload,
    clock,
    send,
    /** Opens a 20 s long poll on ops, held until disposal; resolves once it holds its slots. */
    async hold(token: string | undefined): Promise<void> {
      const before = overload.counts;
      const abort = new AbortController();
      const answer = request(
        token,
        "POST",
        "/v1/groups/ops/receive",
        { waitSeconds: 20 },
        abort.signal,
      );
      polls.push({ abort, answer });
      await waitFor(() => overload.counts, (now) => now.requests > before.requests, {
        timeoutMs: 5_000,
        what: "the long poll to be in progress",
      });
    },
    async [Symbol.asyncDispose]() {
      for (const poll of polls) poll.abort.abort();
      for (const poll of polls) await (await poll.answer).body?.cancel();
      await fixture[Symbol.asyncDispose]();
    },
  };
}

/** Resolves with `promise`, or fails the test when it takes longer than `ms` (a generous bound). */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends `token`'s long poll on ops, which must be refused at once (within a
 * generous 5 s, far below its wait) with a 429 naming `detail` and `limit`.
 */
async function refusedLongPoll(
  api: Awaited<ReturnType<typeof limitedApi>>,
  token: string,
  waitSeconds: number,
  expected: { detail: string; limit: string },
): Promise<Answer<unknown>> {
  const refused = await within(
    5_000,
    api.send(token, "POST", "/v1/groups/ops/receive", { waitSeconds }),
    "a refused long poll",
  );
  assertEquals(assertProblem(refused, 429, expected.detail).limit, expected.limit);
  return refused;
}

Deno.test("a token over its rate gets a 429 problem with Retry-After; other tokens go on, and it does once refilled", async () => {
  await using api = await limitedApi({ ratePerToken: 1, burstPerToken: 2 });
  assertEquals((await api.send("wallet", "GET", "/v1/topics")).status, 200);
  assertEquals((await api.send("wallet", "GET", "/v1/topics")).status, 200);
  const refused = await api.send("wallet", "GET", "/v1/topics");
  const problem = assertProblem(refused, 429, "token wallet is over its rate of 1 requests/s");
  assertEquals(refused.headers.get("retry-after"), "1");
  assertEquals(problem.limit, "ESCROW_RATE_PER_TOKEN");
  assertEquals(problem.retryAfterSeconds, 1);
  assertEquals((await api.send("trading", "GET", "/v1/topics")).status, 200);
  api.clock.now += 1_000;
  assertEquals((await api.send("wallet", "GET", "/v1/topics")).status, 200);
  assertEquals((await api.send("wallet", "GET", "/v1/topics")).status, 429);
});

Deno.test("Retry-After of a rate refusal is the whole seconds until a token is back", async () => {
  await using api = await limitedApi({ ratePerToken: 0.2, burstPerToken: 1 });
  assertEquals((await api.send("wallet", "GET", "/v1/topics")).status, 200);
  const refused = await api.send("wallet", "GET", "/v1/topics");
  assertEquals(refused.headers.get("retry-after"), "5");
});

Deno.test("a request refused for its rate changes nothing", async () => {
  await using api = await limitedApi({ ratePerToken: 1, burstPerToken: 1 });
  assertEquals((await api.send("wallet", "GET", "/v1/topics")).status, 200);
  const before = await kvSnapshot(api.kv);
  assertProblem(await api.send("wallet", "PUT", "/v1/topics/Trade", {}), 429);
  assertProblem(
    await api.send("wallet", "POST", "/v1/topics/Orders/messages", { body: "x" }),
    429,
  );
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("on an open broker (anonymous) only the totals apply, not the per-token limits", async () => {
  await using api = await limitedApi({
    ratePerToken: 1,
    burstPerToken: 1,
    maxConcurrentRequestsPerToken: 1,
    maxConcurrentRequests: 3,
  });
  for (let i = 0; i < 5; i++) {
    assertEquals((await api.send(undefined, "GET", "/v1/topics")).status, 200);
  }
  await api.hold(undefined);
  await api.hold(undefined);
  assertEquals((await api.send(undefined, "GET", "/v1/topics")).status, 200);
  await api.hold(undefined);
  assertProblem(await api.send(undefined, "GET", "/v1/topics"), 503);
});

Deno.test("a token with its share of requests in progress gets 429; past the total everyone gets 503", async () => {
  await using api = await limitedApi({
    maxConcurrentRequests: 3,
    maxConcurrentRequestsPerToken: 2,
  });
  await api.hold("wallet");
  await api.hold("wallet");
  const mine = await api.send("wallet", "GET", "/v1/topics");
  const problem = assertProblem(
    mine,
    429,
    "token wallet has reached its limit of requests in progress (2)",
  );
  assertEquals(problem.limit, "ESCROW_MAX_CONCURRENT_REQUESTS_PER_TOKEN");
  assertEquals(mine.headers.get("retry-after"), "1");
  assertEquals((await api.send("trading", "GET", "/v1/topics")).status, 200);
  await api.hold("trading");
  const full = await api.send("compliance", "GET", "/v1/topics");
  assertEquals(
    assertProblem(full, 503, "limit of requests in progress (3)").limit,
    "ESCROW_MAX_CONCURRENT_REQUESTS",
  );
  assertEquals(full.headers.get("retry-after"), "1");
  assertEquals(api.overload.counts.requests, 3);
});

Deno.test("slots of finished and aborted requests are given back", async () => {
  const api = await limitedApi({ maxConcurrentRequests: 1 });
  for (let i = 0; i < 3; i++) {
    assertEquals((await api.send("wallet", "GET", "/v1/topics")).status, 200);
  }
  assertProblem(await api.send("wallet", "GET", "/v1/nothing-here"), 404);
  assertEquals(api.overload.counts, { requests: 0, longPolls: 0 });
  await api.hold("wallet");
  assertProblem(await api.send("wallet", "GET", "/v1/topics"), 503);
  await api[Symbol.asyncDispose](); // aborts the long poll
  assertEquals(api.overload.counts, { requests: 0, longPolls: 0 });
});

Deno.test("a long poll over a token's share answers 429 at once; a receive that does not wait still answers", async () => {
  await using api = await limitedApi({ maxLongPolls: 2, maxLongPollsPerToken: 1 });
  await api.hold("wallet");
  const before = await kvSnapshot(api.kv);
  const refused = await refusedLongPoll(api, "wallet", 20, {
    detail: "token wallet has reached its limit of waiting long polls (1)",
    limit: "ESCROW_MAX_LONG_POLLS_PER_TOKEN",
  });
  assertEquals(refused.headers.get("retry-after"), "1");
  assertEquals(await kvSnapshot(api.kv), before, "a refused long poll did no work");
  const now = await api.send("wallet", "POST", "/v1/groups/ops/receive", { waitSeconds: 0 });
  assertEquals(now.status, 200);
  assertEquals(now.body, { messages: [] });
});

Deno.test("past the total of long polls every token's long poll answers 429 at once", async () => {
  await using api = await limitedApi({ maxLongPolls: 2, maxLongPollsPerToken: 5 });
  await api.hold("wallet");
  await api.hold("trading");
  assertEquals(api.overload.counts.longPolls, 2);
  await refusedLongPoll(api, "compliance", 1, {
    detail: "the broker has reached its limit of waiting long polls (2)",
    limit: "ESCROW_MAX_LONG_POLLS",
  });
  assertEquals(
    (await api.send(undefined, "POST", "/v1/groups/ops/receive", { waitSeconds: 1 })).status,
    429,
    "anonymous counts in the total",
  );
});

Deno.test("a long poll gives its slot back when it answers, on a message or at its deadline", async () => {
  await using api = await limitedApi({ maxLongPolls: 1 });
  const first = await api.send("wallet", "POST", "/v1/groups/ops/receive", { waitSeconds: 0.2 });
  assertEquals(first.body, { messages: [] });
  const waiting = api.send("wallet", "POST", "/v1/groups/ops/receive", { waitSeconds: 10 });
  await waitFor(() => api.overload.counts.longPolls, (n) => n === 1, { what: "a long poll" });
  const published = await api.send(undefined, "POST", "/v1/topics/Orders/messages", { body: 1 });
  assertEquals(published.status, 201, JSON.stringify(published.body));
  const woken = await within(5_000, waiting, "a long poll woken by a publish");
  assertEquals((woken.body as { messages: unknown[] }).messages.length, 1);
  assertEquals(api.overload.counts, { requests: 0, longPolls: 0 });
});

Deno.test("the defaults leave room: a long poll cap below the request cap, a burst of at least a second's rate", () => {
  assert(DEFAULT_LIMITS.maxLongPolls < DEFAULT_LIMITS.maxConcurrentRequests);
  assert(DEFAULT_LIMITS.maxLongPollsPerToken < DEFAULT_LIMITS.maxConcurrentRequestsPerToken);
  assert(DEFAULT_LIMITS.burstPerToken >= DEFAULT_LIMITS.ratePerToken);
  assert(DEFAULT_LIMITS.maxLongPolls >= 2_000, "2,000 long polls fit");
});

Deno.test("the OpenAPI document lists 429 and 503 with Retry-After on /v1 routes", async () => {
  await using api = await limitedApi({});
  const doc = (await api.send(undefined, "GET", "/openapi.json")).body as {
    paths: Record<string, Record<string, { responses: Record<string, { headers?: object }> }>>;
  };
  const receive = doc.paths["/v1/groups/{group}/receive"]?.post;
  assert(receive?.responses["429"]?.headers && "Retry-After" in receive.responses["429"].headers);
  assert(receive.responses["503"]?.headers);
});

Deno.test("main.ts takes the limits from the environment: ESCROW_MAX_LONG_POLLS=1 refuses a second long poll", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escrow_overload_" });
  try {
    await using broker = await BrokerProcess.spawn(`${dir}/escrow.kv`, {
      env: { ESCROW_MAX_LONG_POLLS: "1" },
    });
    const call = async (method: string, path: string, json?: unknown, signal?: AbortSignal) => {
      const res = await fetch(`${broker.url}${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(json ?? {}),
        ...(signal ? { signal } : {}),
      });
      return {
        status: res.status,
        retryAfter: res.headers.get("retry-after"),
        text: await res.text(),
      };
    };
    assertEquals((await call("PUT", "/v1/topics/Orders")).status, 201);
    const group = await call("PUT", "/v1/groups/ops", { subscriptions: [{ topic: "Orders" }] });
    assertEquals(group.status, 201, group.text);
    const abort = new AbortController();
    const held = call("POST", "/v1/groups/ops/receive", { waitSeconds: 20 }, abort.signal)
      .catch(() => undefined);
    try {
      // Until the held poll is admitted a short one may still get in; then it is refused.
      const refused = await waitFor(
        () => call("POST", "/v1/groups/ops/receive", { waitSeconds: 0.1 }),
        (answer) => answer.status !== 200,
        { timeoutMs: 10_000, what: "a second long poll to be refused" },
      );
      assertEquals([refused.status, refused.retryAfter], [429, "1"], refused.text);
      assertEquals(JSON.parse(refused.text).limit, "ESCROW_MAX_LONG_POLLS");
    } finally {
      abort.abort();
      await held;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
