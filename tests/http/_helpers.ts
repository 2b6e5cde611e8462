/**
 * What the HTTP endpoint tests share: a broker and its app over an in-memory
 * KV with a clock the test moves, requests through `app.request()` with the
 * JSON answer read back, and checks of problem responses and of "nothing in
 * KV changed".
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertStringIncludes } from "@std/assert/string-includes";
import type { z } from "@hono/zod-openapi";
import type { Broker } from "../../src/engine/broker.ts";
import type { TopicCounter } from "../../src/engine/publishing/topics.ts";
import { createApp } from "../../src/http/app.ts";
import type { Problem } from "../../src/http/problem.ts";
import type {
  MessageSchema,
  ProducerGroupSchema,
  PublishResultSchema,
  TopicDetailSchema,
  TopicSchema,
  TransactionResultSchema,
  TransactionSchema,
} from "../../src/http/schemas.ts";
import { type BrokerFixture, openBroker, type OpenBrokerOptions } from "../_support/broker.ts";

/** `GET /v1/topics/{topic}` JSON. */
export type TopicDetailJson = z.infer<typeof TopicDetailSchema>;
/** A topic as JSON. */
export type TopicJson = z.infer<typeof TopicSchema>;
/** A publish result as JSON. */
export type PublishJson = z.infer<typeof PublishResultSchema>;
/** A message as JSON. */
export type MessageJson = z.infer<typeof MessageSchema>;
/** A transaction's short form as JSON. */
export type TransactionResultJson = z.infer<typeof TransactionResultSchema>;
/** A transaction as JSON. */
export type TransactionJson = z.infer<typeof TransactionSchema>;
/** A producer group as JSON. */
export type ProducerGroupJson = z.infer<typeof ProducerGroupSchema>;

/** 2030-01-01T00:00:00.000Z: where every test clock starts. */
export const T0 = Date.UTC(2030, 0, 1);

/** An answer of the app with its body parsed (JSON when it says so, text otherwise). */
export interface Answer<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** What a request may carry. */
export interface SendOptions {
  /** Sent as `application/json`. */
  readonly json?: unknown;
  /** Sent as is (for malformed or oversized bodies); give the content type in `headers`. */
  readonly raw?: BodyInit;
  readonly headers?: Record<string, string>;
}

/** A broker and its HTTP app over an in-memory KV; disposing stops the broker and closes KV. */
export interface TestApi extends AsyncDisposable {
  readonly kv: Deno.Kv;
  readonly broker: Broker;
  readonly app: ReturnType<typeof createApp>;
  /** The broker's clock, in epoch ms; tests move it with {@linkcode TestApi.advance}. */
  now(): number;
  advance(ms: number): void;
  send<T>(method: string, path: string, options?: SendOptions): Promise<Answer<T>>;
  get<T>(path: string): Promise<Answer<T>>;
  put<T>(path: string, json?: unknown): Promise<Answer<T>>;
  post<T>(path: string, json?: unknown, headers?: Record<string, string>): Promise<Answer<T>>;
}

/**
 * Sends requests to the app in memory (`app.request()`), JSON in and out.
 */
function requestSender(app: ReturnType<typeof createApp>) {
  return async <T>(
    method: string,
    path: string,
    { json, raw, headers = {} }: SendOptions = {},
  ): Promise<Answer<T>> => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers = { "content-type": "application/json", ...headers };
    } else if (raw !== undefined) {
      init.body = raw;
    }
    const res = await app.request(path, init);
    const type = res.headers.get("content-type") ?? "";
    const body = type.includes("json") ? await res.json() : await res.text();
    return { status: res.status, headers: res.headers, body: body as T };
  };
}

/**
 * Opens a broker on `:memory:` in sweep mode (its jobs never run by
 * themselves: `start()` is not called) with a manual clock starting at
 * {@linkcode T0}, and its app.
 *
 * @example
 * ```ts
 * import { openApi } from "./_helpers.ts";
 * await using api = await openApi();
 * await api.put("/v1/topics/Trade");
 * api.advance(1_000);
 * ```
 */
export async function openApi(
  options: Omit<OpenBrokerOptions, "kv" | "clock" | "schedulerMode" | "start"> = {},
): Promise<TestApi> {
  return testApi(await openBroker({ ...options, clock: { manual: T0 } }));
}

/**
 * The in-memory API over a broker built with the shared builder: requests
 * through `app.request()`, JSON in and out, and the fixture's clock.
 * Disposing it disposes the fixture.
 *
 * @example
 * ```ts
 * import { testApi } from "./_helpers.ts";
 * import { openBroker } from "../_support/broker.ts";
 * await using api = testApi(await openBroker());
 * console.log((await api.get("/healthz")).status); // 200
 * ```
 */
export function testApi(fixture: BrokerFixture): TestApi {
  const app = createApp(fixture.broker);
  const send = requestSender(app);
  return {
    kv: fixture.kv,
    broker: fixture.broker,
    app,
    now: fixture.now,
    advance: fixture.advance,
    send,
    get: (path) => send("GET", path),
    put: (path, json) => send("PUT", path, json === undefined ? {} : { json }),
    post: (path, json, headers) =>
      send("POST", path, {
        ...(json === undefined ? {} : { json }),
        ...(headers ? { headers } : {}),
      }),
    [Symbol.asyncDispose]: () => fixture[Symbol.asyncDispose](),
  };
}

/** Creates a topic through the API, failing the test unless it answers 201. */
export async function createTopic(api: TestApi, name: string): Promise<TopicJson> {
  const res = await api.put<TopicJson>(`/v1/topics/${name}`);
  assertEquals(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** Reads a topic's counts through the API. */
export async function countsOf(
  api: TestApi,
  topic: string,
): Promise<Record<TopicCounter, number>> {
  const res = await api.get<TopicDetailJson>(`/v1/topics/${topic}`);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body.counts as Record<TopicCounter, number>;
}

/** Publishes through the API, failing the test unless it answers 201. */
export async function publish(
  api: TestApi,
  topic: string,
  message: Record<string, unknown> = {},
): Promise<PublishJson> {
  const res = await api.post<PublishJson>(`/v1/topics/${topic}/messages`, message);
  assertEquals(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** Prepares a transaction through the API, failing the test unless it answers 201. */
export async function prepare(
  api: TestApi,
  topic: string,
  request: Record<string, unknown> = {},
): Promise<TransactionResultJson> {
  const res = await api.post<TransactionResultJson>(`/v1/topics/${topic}/transactions`, request);
  assertEquals(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/**
 * Every KV key with its versionstamp, in key order: equal snapshots mean
 * nothing was written, overwritten or deleted in between.
 */
export async function kvSnapshot(kv: Deno.Kv): Promise<string[]> {
  const entries: string[] = [];
  for await (const entry of kv.list({ prefix: [] })) {
    const key = JSON.stringify(
      entry.key,
      (_, v) => typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v,
    );
    entries.push(`${key}@${entry.versionstamp}`);
  }
  return entries;
}

/**
 * Asserts `res` is an RFC 9457 problem with `status`, and returns its body.
 * `detail` is checked to include `detailIncludes` when given.
 */
export function assertProblem(
  res: Answer<unknown>,
  status: number,
  detailIncludes?: string,
): Problem {
  assertEquals(res.status, status, JSON.stringify(res.body));
  assertEquals(res.headers.get("content-type"), "application/problem+json");
  const body = res.body as Problem;
  assert(typeof body === "object" && body !== null, "problem body is not an object");
  assert(
    typeof body.type === "string" && body.type.length > 0,
    `problem type: ${JSON.stringify(body)}`,
  );
  assert(
    typeof body.title === "string" && body.title.length > 0,
    `problem title: ${JSON.stringify(body)}`,
  );
  assertEquals(body.status, status);
  assert(
    typeof body.detail === "string" && body.detail.length > 0,
    `problem detail: ${JSON.stringify(body)}`,
  );
  if (detailIncludes !== undefined) assertStringIncludes(body.detail, detailIncludes);
  return body;
}

/** Asserts `value` is an ISO 8601 UTC timestamp as `Date#toISOString` writes it. */
export function assertIso(value: unknown): asserts value is string {
  assert(typeof value === "string", `not a string: ${JSON.stringify(value)}`);
  assertEquals(new Date(value).toISOString(), value);
}

/**
 * `n` pseudo-random bytes, the same for the same `seed`; never periodic at a
 * power of two, so stored chunks put back in the wrong order would show.
 */
export function bytes(n: number, seed = 1): Uint8Array {
  let state = seed >>> 0 || 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}
