/**
 * A hostile client, generated: `fast-check` builds requests for every
 * operation of the broker's own OpenAPI document (the right and wrong
 * methods, path parameters that are valid, junk or encoded, query parameters
 * that are declared or not, bodies that are missing, malformed, of the wrong
 * type, with numbers JSON cannot hold or `__proto__` keys, under every content
 * type) and checks, for each one:
 *
 * - no 5xx and no hang (every answer within a bound);
 * - every 4xx is an `application/problem+json` problem;
 * - a rejected request changes nothing (a KV dump before and after is equal).
 *
 * `FUZZ_RUNS` sets the number of requests (default 1,500 per property);
 * `FUZZ_SEED` replays a failing run.
 */
import { assert, assertEquals } from "@std/assert";
import fc from "fast-check";
import { kvSnapshot, openApi, type TestApi } from "./_helpers.ts";

/** Requests per property. */
const RUNS = Number(Deno.env.get("FUZZ_RUNS") ?? 1_500);
/** The seed, to replay a failure fast-check reported. */
const SEED = Deno.env.get("FUZZ_SEED");
/** Longest a request may take (a valid long poll waits at most 1 s here). */
const ANSWER_WITHIN_MS = 8_000;

/** One operation of the OpenAPI document. */
interface Operation {
  readonly method: string;
  readonly path: string;
  readonly query: readonly string[];
  readonly headers: readonly string[];
  readonly bodyProperties: readonly string[] | undefined;
}

interface OpenApiDocument {
  paths: Record<
    string,
    Record<string, {
      parameters?: { in: string; name: string }[];
      requestBody?: {
        content: Record<
          string,
          { schema: { properties?: Record<string, unknown>; $ref?: string } }
        >;
      };
    }>
  >;
  components?: { schemas?: Record<string, { properties?: Record<string, unknown> }> };
}

/** Every operation of the broker's OpenAPI document. */
async function operations(api: TestApi): Promise<Operation[]> {
  const doc = (await api.get<OpenApiDocument>("/openapi.json")).body;
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const parameters = op.parameters ?? [];
      let schema = op.requestBody?.content["application/json"]?.schema;
      if (schema?.$ref) schema = doc.components?.schemas?.[schema.$ref.split("/").pop()!];
      out.push({
        method: method.toUpperCase(),
        path,
        query: parameters.filter((p) => p.in === "query").map((p) => p.name),
        headers: parameters.filter((p) => p.in === "header").map((p) => p.name),
        bodyProperties: op.requestBody ? Object.keys(schema?.properties ?? {}) : undefined,
      });
    }
  }
  return out;
}

/** Names of what the seed creates, so that generated requests reach real state. */
interface Seeded {
  readonly transactionId: string;
  readonly messageId: string;
}

/** Creates a topic, a pull group, a message and a prepared transaction (idempotent but the last two). */
async function seed(api: TestApi): Promise<Seeded> {
  await api.put("/v1/topics/Trade");
  await api.put("/v1/groups/ops", { subscriptions: [{ topic: "Trade", tags: "*" }] });
  await api.put("/v1/producer-groups/wallet", { checkUrl: "http://127.0.0.1:9/check" });
  const message = await api.post<{ messageId: string }>("/v1/topics/Trade/messages", {
    tag: "Ops",
    body: { id: 1 },
  });
  const tx = await api.post<{ transactionId: string }>("/v1/topics/Trade/transactions", {
    tag: "Ops",
    body: { id: 2 },
    producerGroup: "wallet",
  });
  assertEquals([message.status, tx.status], [201, 201]);
  return { transactionId: tx.body.transactionId, messageId: message.body.messageId };
}

/** A JSON value, with markers for what `JSON.stringify` cannot write (see {@linkcode toJsonText}). */
const NOT_A_NUMBER = ["1e309", "-1e309", "1e-400", "123456789012345678901234567890"] as const;
const marker = (text: string) => `\u0000raw:${text}`;

/** Strings a hostile client tries. */
const junkString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.constantFrom(
    "",
    " ",
    "*",
    "Ops || Orchestration",
    "tag = 'Ops'",
    "a".repeat(300),
    "x".repeat(5_000),
    "http://127.0.0.1:9/",
    `http://127.0.0.1:9/${"x".repeat(100_000)}`,
    "http://169.254.169.254/latest",
    "javascript:alert(1)",
    "%00",
    "../..",
    "\u0000",
    "\ud800",
    "abc",
    "0",
    "-1",
    "AAAA",
    "not-base64!",
    "eyJ0ZXN0IjoxfQ",
  ),
);

/** Numbers a hostile client tries, as markers where JSON cannot hold them. */
const junkNumber = fc.oneof(
  fc.constantFrom(0, -0, -1, 0.5, 1, 16, 33, 2 ** 31, 2 ** 53 + 2, 1e21, -1e21),
  fc.integer(),
  fc.constantFrom(...NOT_A_NUMBER).map(marker),
);

/** Any JSON-ish value, nested a little, sometimes with prototype keys. */
const junkValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    junkString,
    junkNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(junkString, fc.constantFrom("__proto__", "constructor", "prototype")),
      tie("value"),
      { maxKeys: 4 },
    ),
  ),
})).value;

/** Writes `value` as JSON text, turning markers into raw number literals. */
function toJsonText(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0000raw:([^"]*)"/g, "$1");
}

/** An object whose own keys may be `__proto__` (which a literal would turn into the prototype). */
function objectOf(entries: readonly [string, unknown][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    Object.defineProperty(out, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** A body for an operation: missing, raw junk, or an object of its fields with junk values. */
function bodyFor(op: Operation): fc.Arbitrary<string | undefined> {
  const fields = op.bodyProperties ?? [];
  const shaped = fc.array(
    fc.tuple(
      fields.length > 0
        ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...fields) }, {
          weight: 1,
          arbitrary: fc.oneof(junkString, fc.constantFrom("__proto__", "constructor")),
        })
        : fc.oneof(junkString, fc.constantFrom("__proto__")),
      junkValue,
    ),
    { maxLength: 6 },
  ).map((entries) => toJsonText(objectOf(entries)));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("", "{", "null", "[]", '"x"', "1e309", "{}", '{"a":1}{'),
    },
    { weight: 1, arbitrary: junkValue.map(toJsonText) },
    { weight: 6, arbitrary: shaped },
  );
}

/** One generated request. */
interface Attempt {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

/** Requests for `op`: its method or another, its parameters filled with seeded names or junk. */
function attemptFor(op: Operation, seeded: Seeded): fc.Arbitrary<Attempt> {
  const known = ["Trade", "ops", "wallet", seeded.transactionId, seeded.messageId];
  const segment = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: junkString.map((s) => encodeURIComponent(s.toWellFormed())) },
    { weight: 1, arbitrary: fc.constantFrom("%00", "%2F", "..", "%ZZ", "a%20b", "%E2%82") },
  );
  const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const query = fc.array(
    fc.tuple(
      op.query.length > 0 ? fc.oneof(fc.constantFrom(...op.query), junkString) : junkString,
      fc.oneof(junkString, junkNumber.map(String)),
    ),
    { maxLength: 3 },
  );
  const contentType = fc.constantFrom(
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    undefined,
  );
  return fc.record({
    method: fc.oneof(
      { weight: 6, arbitrary: fc.constant(op.method) },
      { weight: 1, arbitrary: fc.constantFrom("GET", "PUT", "POST", "DELETE", "PATCH") },
    ),
    values: fc.tuple(...params.map(() => segment)),
    query,
    contentType,
    headerValue: fc.option(junkString.map((s) => s.replace(/[^\x20-\x7e]/g, "")), {
      nil: undefined,
    }),
    body: bodyFor(op),
  }).map(({ method, values, query, contentType, headerValue, body }) => {
    let path = op.path;
    params.forEach((name, i) => (path = path.replace(`{${name}}`, values[i] as string)));
    const search = new URLSearchParams(query.map(([k, v]) => [k, v])).toString();
    const headers: Record<string, string> = {};
    if (contentType) headers["content-type"] = contentType;
    if (headerValue !== undefined) { for (const name of op.headers) headers[name] = headerValue; }
    return { method, url: search ? `${path}?${search}` : path, headers, body };
  });
}

/** Sends one attempt; throws when it does not answer in time. */
async function send(api: TestApi, attempt: Attempt) {
  const init: RequestInit = { method: attempt.method, headers: attempt.headers };
  if (attempt.body !== undefined && attempt.method !== "GET") init.body = attempt.body;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${ANSWER_WITHIN_MS} ms`)),
      ANSWER_WITHIN_MS,
    );
  });
  try {
    const res = await Promise.race([api.app.request(attempt.url, init), timeout]);
    return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
  } finally {
    clearTimeout(timer);
  }
}

/** Receives wait at most 1 s here, so that a valid long poll does not read as a hang. */
function boundWaits(attempt: Attempt): Attempt {
  if (!attempt.body || !attempt.url.includes("/receive")) return attempt;
  return {
    ...attempt,
    body: attempt.body.replace(/"waitSeconds":\s*\d+(\.\d+)?/g, '"waitSeconds":1'),
  };
}

Deno.test({
  name: "generated requests to every route: no 5xx, no hang, and a rejected one changes nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using api = await openApi();
    let seeded = await seed(api);
    const ops = await operations(api);
    assert(ops.length >= 25, `only ${ops.length} operations in the OpenAPI document`);
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ops).chain((op) => attemptFor(op, seeded)),
        async (generated) => {
          const attempt = boundWaits(generated);
          const before = await kvSnapshot(api.kv);
          const res = await send(api, attempt);
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          const what = `${attempt.method} ${attempt.url} ${JSON.stringify(attempt.headers)} ${
            attempt.body?.slice(0, 300)
          } -> ${res.status} ${res.text.slice(0, 300)}`;
          assert(res.status < 500, what);
          if (res.status >= 400) {
            assertEquals(res.type, "application/problem+json", what);
            assertEquals(await kvSnapshot(api.kv), before, `state changed: ${what}`);
          } else if (attempt.method !== "GET") {
            seeded = await seed(api);
          }
        },
      ),
      { numRuns: RUNS, ...(SEED ? { seed: Number(SEED) } : {}), endOnFailure: true },
    );
    console.log(JSON.stringify([...seen].sort()));
    // The run reached past validation: some requests were accepted, many refused.
    assert((seen.get(200) ?? 0) + (seen.get(201) ?? 0) > 0, JSON.stringify([...seen]));
    assert((seen.get(400) ?? 0) > 0, JSON.stringify([...seen]));
  },
});
