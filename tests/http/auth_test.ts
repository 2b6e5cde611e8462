/**
 * Tokens and permissions: the configuration (`ESCROW_TOKENS`,
 * `ESCROW_TOKENS_FILE`, `ESCROW_API_TOKEN`), what a permission grants, the
 * 401 and 403 answers, auth before the body, the decide rule's transaction
 * look-up, the pages, the OpenAPI document and the broker process's start-up.
 * The full route × permission matrix is in `permissions_matrix_test.ts`.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes, assertThrows } from "@std/assert";
import { encodeHex } from "@std/encoding/hex";
import { runMain } from "../_process.ts";
import { openBroker } from "../_support/broker.ts";
import { readConfig } from "../../src/config.ts";
import {
  ANONYMOUS,
  bearerToken,
  grants,
  isPermission,
  parseTokens,
  readTokens,
  TokenSet,
} from "../../src/http/auth/mod.ts";
import { createApp } from "../../src/http/app.ts";
import { type Answer, assertProblem, kvSnapshot } from "./_helpers.ts";

const sha256Hex = async (text: string) =>
  encodeHex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))));

const TOKENS = [
  { name: "ops", token: "ops-secret", permissions: ["admin"] },
  { name: "reader", token: "reader-secret", permissions: ["read"] },
  { name: "wallet", token: "wallet-secret", permissions: ["publish:Trade", "decide:wallet"] },
  { name: "anydecide", token: "anydecide-secret", permissions: ["decide:*"] },
  { name: "audit", token: "audit-secret", permissions: ["consume:audit"] },
];

async function openAuthApi() {
  const fixture = await openBroker({ clock: { manual: Date.UTC(2030, 0, 1) } });
  const app = createApp(fixture.broker, { tokens: TokenSet.of(TOKENS) });
  const send = async (
    method: string,
    path: string,
    token?: string,
    init: RequestInit = {},
  ): Promise<Answer<Record<string, unknown>>> => {
    const headers = new Headers(init.headers);
    if (token !== undefined) headers.set("authorization", `Bearer ${token}`);
    const res = await app.request(path, { ...init, method, headers });
    const type = res.headers.get("content-type") ?? "";
    const body = type.includes("json") ? await res.json() : { text: await res.text() };
    return { status: res.status, headers: res.headers, body };
  };
  return {
    ...fixture,
    app,
    send,
    [Symbol.asyncDispose]: () => fixture[Symbol.asyncDispose](),
  };
}

// Configuration ---------------------------------------------------------------------------------

Deno.test("parseTokens() reads names, permissions and secrets as SHA-256 digests", async () => {
  const grants = parseTokens(
    JSON.stringify([
      { name: "wallet", token: "w-secret", permissions: ["publish:Trade", "decide:wallet"] },
      {
        name: "ops",
        tokenSha256: (await sha256Hex("o-secret")).toUpperCase(),
        permissions: ["admin"],
      },
    ]),
    "ESCROW_TOKENS",
  );
  assertEquals(grants.map((g) => [g.name, g.permissions]), [
    ["wallet", ["publish:Trade", "decide:wallet"]],
    ["ops", ["admin"]],
  ]);
  assertEquals(encodeHex(grants[0]!.sha256), await sha256Hex("w-secret"));
  assert(!JSON.stringify(grants).includes("w-secret"), "the secret is kept only as a digest");
  const tokens = new TokenSet(grants);
  assertEquals(tokens.identify("o-secret")?.name, "ops");
  assertEquals(tokens.identify("w-secret")?.permissions, ["publish:Trade", "decide:wallet"]);
  assertEquals(tokens.identify("w-secre"), undefined);
  assertEquals(tokens.identify(""), undefined);
});

Deno.test("parseTokens() refuses a wrong list with a message naming the entry and the rule", () => {
  const cases: Array<[string, string]> = [
    ["{", "not JSON"],
    ['{"name":"a"}', "not a JSON array"],
    ["[1]", "ESCROW_TOKENS[0]: not an object"],
    [
      '[{"name":"a","token":"t","permissions":["read"],"permission":["admin"]}]',
      'unknown key "permission"',
    ],
    ['[{"name":"a b","token":"t","permissions":["read"]}]', "ESCROW_TOKENS[0].name"],
    ['[{"name":"a","permissions":["read"]}]', "exactly one of token and tokenSha256"],
    [
      `[{"name":"a","token":"t","tokenSha256":"${"0".repeat(64)}","permissions":["read"]}]`,
      "exactly one",
    ],
    ['[{"name":"a","token":"has space","permissions":["read"]}]', '("a").token: must match'],
    ['[{"name":"a","token":"","permissions":["read"]}]', '("a").token: must match'],
    ['[{"name":"a","tokenSha256":"abc","permissions":["read"]}]', "64 hex digits"],
    ['[{"name":"a","token":"t","permissions":[]}]', "non-empty array"],
    ['[{"name":"a","token":"t","permissions":"admin"}]', "non-empty array"],
    [
      '[{"name":"a","token":"t","permissions":["publsh:Trade"]}]',
      'unknown permission "publish:Trade"'.replace("publish", "publsh"),
    ],
    ['[{"name":"a","token":"t","permissions":["publish:"]}]', 'unknown permission "publish:"'],
    [
      '[{"name":"a","token":"t","permissions":["consume:a/b"]}]',
      'unknown permission "consume:a/b"',
    ],
    ['[{"name":"a","token":"t","permissions":["Admin"]}]', 'unknown permission "Admin"'],
    ['[{"name":"a","token":"t","permissions":[7]}]', "unknown permission 7"],
    [
      '[{"name":"a","token":"t1","permissions":["read"]},{"name":"a","token":"t2","permissions":["read"]}]',
      'the name "a" is given twice',
    ],
    [
      '[{"name":"a","token":"t1","permissions":["read"]},{"name":"b","token":"t1","permissions":["admin"]}]',
      '"a" and "b" have the same token',
    ],
  ];
  for (const [text, message] of cases) {
    const error = assertThrows(() => parseTokens(text, "ESCROW_TOKENS"), RangeError);
    assertStringIncludes(error.message, "Cannot read ESCROW_TOKENS", text);
    assertStringIncludes(error.message, message, text);
  }
});

Deno.test("a token given in clear and again as its tokenSha256 is the same token twice", async () => {
  const text = JSON.stringify([
    { name: "a", token: "same-secret", permissions: ["read"] },
    { name: "b", tokenSha256: await sha256Hex("same-secret"), permissions: ["admin"] },
  ]);
  assertThrows(() => parseTokens(text, "ESCROW_TOKENS"), RangeError, "have the same token");
});

Deno.test("readConfig() reads ESCROW_TOKENS, ESCROW_TOKENS_FILE (tokenSha256) and ESCROW_API_TOKEN together", async () => {
  const file = JSON.stringify([
    { name: "trading", tokenSha256: await sha256Hex("trading-secret"), permissions: ["consume:*"] },
  ]);
  const config = readConfig({
    ESCROW_TOKENS: JSON.stringify([{
      name: "wallet",
      token: "wallet-secret",
      permissions: ["read"],
    }]),
    ESCROW_TOKENS_FILE: "/etc/escrow/tokens.json",
    ESCROW_API_TOKEN: "root-secret",
  }, {
    readTextFile: (path) => {
      assertEquals(path, "/etc/escrow/tokens.json");
      return file;
    },
  });
  assertEquals(config.tokens.names, ["wallet", "trading", "ESCROW_API_TOKEN"]);
  assertEquals(config.tokens.identify("trading-secret")?.permissions, ["consume:*"]);
  assertEquals(config.tokens.identify("root-secret")?.permissions, ["admin"]);
  assertEquals(readConfig({}).tokens.size, 0);
});

Deno.test("readTokens() refuses a missing file, a bad file, a name in both places and a bad ESCROW_API_TOKEN", () => {
  const missing = assertThrows(
    () => readTokens({ ESCROW_TOKENS_FILE: "/nonexistent/escrow-tokens.json" }),
    RangeError,
  );
  assertStringIncludes(
    missing.message,
    "Cannot read ESCROW_TOKENS_FILE: current value is /nonexistent",
  );
  assertThrows(
    () => readTokens({ ESCROW_TOKENS_FILE: "t.json" }, { readTextFile: () => "[{" }),
    RangeError,
    "Cannot read ESCROW_TOKENS_FILE (t.json): not JSON",
  );
  const entry = JSON.stringify([{ name: "wallet", token: "a-secret", permissions: ["read"] }]);
  const other = JSON.stringify([{ name: "wallet", token: "b-secret", permissions: ["read"] }]);
  assertThrows(
    () =>
      readTokens({ ESCROW_TOKENS: entry, ESCROW_TOKENS_FILE: "t.json" }, {
        readTextFile: () => other,
      }),
    RangeError,
    'Cannot read ESCROW_TOKENS_FILE: Cannot read the tokens: the name "wallet" is given twice',
  );
  assertThrows(
    () => readTokens({ ESCROW_TOKENS: entry, ESCROW_API_TOKEN: "a-secret" }),
    RangeError,
    "have the same token",
  );
  assertThrows(() => readTokens({ ESCROW_API_TOKEN: "two words" }), RangeError, "ESCROW_API_TOKEN");
});

Deno.test("grants(): admin grants all, <kind>:* grants every name of its kind, the rest only themselves", () => {
  assert(grants(["admin"], "consume:audit"));
  assert(grants(["admin"], "decide:*"));
  assert(grants(["consume:*"], "consume:audit"));
  assert(grants(["consume:audit"], "consume:audit"));
  assert(!grants(["consume:audit"], "consume:billing"));
  assert(
    !grants(["consume:audit"], "consume:*"),
    "a transaction without a group needs the wildcard",
  );
  assert(!grants(["publish:*"], "consume:audit"));
  assert(!grants(["read"], "consume:audit"));
  assert(grants(["read"], "read"));
  assert(!grants([], "read"));
  assert(isPermission("decide:*") && !isPermission("decide") && !isPermission("read:x"));
});

Deno.test("bearerToken() tells a missing header from a malformed one", () => {
  assertEquals(bearerToken(undefined), "missing");
  assertEquals(bearerToken("Bearer abc.DEF-1~+/="), "abc.DEF-1~+/=");
  assertEquals(bearerToken("bearer  abc"), "abc");
  assertEquals(bearerToken("Basic dXNlcjpwdw=="), "malformed");
  assertEquals(bearerToken("Bearer"), "malformed");
  assertEquals(bearerToken("Bearer a b"), "malformed");
  assertEquals(bearerToken("Bearer a\u00e9"), "malformed");
});

// HTTP ------------------------------------------------------------------------------------------

Deno.test("a 401 says what is missing: no header, a malformed one, an unknown token; and names the permission", async () => {
  await using api = await openAuthApi();
  const before = await kvSnapshot(api.kv);
  const cases: Array<[Record<string, string>, string, string, string]> = [
    [{}, "missing", "no Authorization header", 'Bearer realm="escrow"'],
    [
      { authorization: "Basic b3BzOm9wcw==" },
      "malformed",
      "is not Bearer <token>",
      "invalid_request",
    ],
    [{ authorization: "Bearer guessed" }, "unknown", "not one the broker knows", "invalid_token"],
  ];
  for (const [headers, reason, detail, challenge] of cases) {
    const res = await api.send("POST", "/v1/groups/audit/ack", undefined, {
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ receiptHandles: ["x"] }),
    });
    const problem = assertProblem(res, 401, detail);
    assertEquals([problem.reason, problem.permission], [reason, "consume:audit"]);
    assertStringIncludes(problem.detail, "needs consume:audit");
    assertStringIncludes(res.headers.get("www-authenticate") ?? "", challenge);
  }
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("a 403 names the permission needed and the token's name, and changes nothing", async () => {
  await using api = await openAuthApi();
  assertEquals((await api.send("PUT", "/v1/topics/Trade", "ops-secret")).status, 201);
  const before = await kvSnapshot(api.kv);
  const publish = await api.send("POST", "/v1/topics/Trade/messages", "audit-secret", {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ body: 1 }),
  });
  const problem = assertProblem(publish, 403, 'token "audit" lacks publish:Trade');
  assertEquals([problem.permission, problem.principal], ["publish:Trade", "audit"]);
  assertEquals(problem.type, "https://escrow.dev/problems/forbidden");
  assertStringIncludes(publish.headers.get("www-authenticate") ?? "", 'scope="publish:Trade"');
  const create = await api.send("PUT", "/v1/topics/Other", "wallet-secret");
  assertEquals(assertProblem(create, 403).permission, "admin");
  const group = await api.send("GET", "/v1/groups/billing", "audit-secret");
  assertEquals(assertProblem(group, 403).permission, "consume:billing or read");
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("auth runs before the body is read and before the body limit", async () => {
  await using api = await openAuthApi();
  let pulled = 0;
  const stream = () =>
    new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
  for (const token of [undefined, "guessed", "audit-secret"]) {
    const res = await api.app.request("/v1/topics/Trade/messages", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-length": String(64 * 1024 * 1024),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: stream(),
    });
    assertEquals(res.status, token === "audit-secret" ? 403 : 401, `token ${token}`);
    await res.body?.cancel();
  }
  // A stream starts with one pull on its own; the middleware read none of it.
  assert(pulled <= 3, `the body was read: ${pulled} pulls`);
  const allowed = await api.app.request("/v1/topics/Trade/messages", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "content-length": String(64 * 1024 * 1024),
      authorization: "Bearer wallet-secret",
    },
    body: stream(),
  });
  assertEquals(allowed.status, 413, "the body limit applies once the token may publish");
  await allowed.body?.cancel();
});

Deno.test("decide: the transaction's producer group decides, one without a group needs decide:*, an unknown id any decide:", async () => {
  await using api = await openAuthApi();
  const json = (value: unknown) => ({
    headers: { "content-type": "application/json" },
    body: JSON.stringify(value),
  });
  assertEquals((await api.send("PUT", "/v1/topics/Trade", "ops-secret")).status, 201);
  const prepare = async (request: Record<string, unknown>) => {
    const res = await api.send(
      "POST",
      "/v1/topics/Trade/transactions",
      "wallet-secret",
      json(request),
    );
    assertEquals(res.status, 201, JSON.stringify(res.body));
    return res.body.transactionId as string;
  };
  const grouped = await prepare({ producerGroup: "wallet", body: 1 });
  const other = await prepare({ producerGroup: "trading", body: 2 });
  const bare = await prepare({ body: 3 });

  const denied = await api.send("POST", `/v1/transactions/${other}/commit`, "wallet-secret");
  assertEquals(assertProblem(denied, 403).permission, "decide:trading");
  const bareDenied = await api.send("POST", `/v1/transactions/${bare}/rollback`, "wallet-secret");
  assertEquals(assertProblem(bareDenied, 403).permission, "decide:*");
  const noDecide = await api.send("POST", `/v1/transactions/${grouped}/commit`, "audit-secret");
  assertEquals(assertProblem(noDecide, 403).permission, "decide:wallet");
  assertEquals((await api.broker.transactions.get(other)).state, "executing", "not decided");
  assertEquals((await api.broker.transactions.get(bare)).state, "executing", "not decided");

  assertEquals(
    (await api.send("POST", `/v1/transactions/${grouped}/commit`, "wallet-secret")).status,
    200,
  );
  assertEquals(
    (await api.send("POST", `/v1/transactions/${bare}/rollback`, "anydecide-secret")).status,
    200,
  );
  assertEquals(
    (await api.send("POST", `/v1/transactions/${other}/commit`, "anydecide-secret")).status,
    200,
  );

  const unknown = await api.send("POST", "/v1/transactions/no-such-tx/commit", "wallet-secret");
  assertProblem(unknown, 404);
  const unknownNoDecide = await api.send(
    "POST",
    "/v1/transactions/no-such-tx/commit",
    "reader-secret",
  );
  assertEquals(assertProblem(unknownNoDecide, 403).permission, "decide:<producerGroup>");
  const invalid = await api.send(
    "POST",
    `/v1/transactions/${"x".repeat(3000)}/commit`,
    "wallet-secret",
  );
  assertProblem(invalid, 400);
});

Deno.test("with tokens, /openapi.json, /docs and /metrics need read; /healthz and the dashboard's files stay open", async () => {
  await using api = await openAuthApi();
  for (const path of ["/openapi.json", "/docs", "/docs/swagger-ui.css", "/metrics"]) {
    const bare = await api.app.request(path);
    assertEquals(bare.status, 401, path);
    await bare.body?.cancel();
    const audit = await api.app.request(path, {
      headers: { authorization: "Bearer audit-secret" },
    });
    assertEquals(audit.status, 403, path);
    await audit.body?.cancel();
    const read = await api.app.request(path, {
      headers: { authorization: "Bearer reader-secret" },
    });
    assertEquals(read.status, 200, path);
    await read.body?.cancel();
  }
  assertEquals((await api.app.request("/healthz")).status, 200);
  const css = await api.app.request("/dashboard/assets/app.css");
  assertEquals(css.status, 200);
  await css.body?.cancel();
  await using open = await openBroker();
  const doc = await createApp(open.broker).request("/openapi.json");
  assertEquals(doc.status, 200, "an open broker serves its document to anyone");
  await doc.body?.cancel();
});

Deno.test("/docs opened once with ?token= keeps the token in a cookie that also opens /openapi.json", async () => {
  await using api = await openAuthApi();
  const login = await api.app.request("/docs?token=reader-secret");
  assertEquals(login.status, 303);
  assertEquals(login.headers.get("location"), "/docs");
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!;
  assertMatch(cookie, /^escrow_token=/);
  const doc = await api.app.request("/openapi.json", { headers: { cookie } });
  assertEquals(doc.status, 200);
  await doc.body?.cancel();
  const forbidden = await api.app.request("/docs?token=audit-secret");
  assertEquals(forbidden.status, 403, "a token without read gets no cookie");
  assertEquals(forbidden.headers.get("set-cookie"), null);
  await forbidden.body?.cancel();
  const v1 = await api.app.request("/v1/topics?token=reader-secret");
  assertEquals(v1.status, 401, "the API takes the token only from the Authorization header");
  await v1.body?.cancel();
});

Deno.test("the OpenAPI document names each /v1 operation's permission and its 403", async () => {
  await using api = await openAuthApi();
  const doc = (await api.send("GET", "/openapi.json", "reader-secret")).body as {
    paths: Record<
      string,
      Record<string, {
        "x-escrow-permission"?: string;
        description?: string;
        responses: Record<string, unknown>;
      }>
    >;
  };
  const ack = doc.paths["/v1/groups/{group}/ack"]?.post;
  assertEquals(ack?.["x-escrow-permission"], "consume:{group}");
  assertStringIncludes(ack?.description ?? "", "Permission: `consume:{group}`");
  assertEquals(
    doc.paths["/v1/groups/{group}"]?.get?.["x-escrow-permission"],
    "consume:{group} or read",
  );
  assertEquals(
    doc.paths["/v1/transactions/{id}/commit"]?.post?.["x-escrow-permission"],
    "decide:{producerGroup of the transaction}",
  );
  for (const [path, methods] of Object.entries(doc.paths)) {
    if (!path.startsWith("/v1/")) continue;
    for (const [method, operation] of Object.entries(methods)) {
      assert(operation["x-escrow-permission"], `${method} ${path} names no permission`);
      assert(operation.responses["403"], `${method} ${path} documents no 403`);
    }
  }
});

Deno.test("the context's principal: the token's name and permissions; the anonymous admin on an open broker", async () => {
  await using api = await openAuthApi();
  api.app.get("/v1/whoami", (c) => c.json(c.var.principal));
  const ops = await api.send("GET", "/v1/whoami", "ops-secret");
  assertEquals(ops.body, { name: "ops", permissions: ["admin"] });
  const reader = await api.send("GET", "/v1/whoami", "reader-secret");
  assertEquals(
    assertProblem(reader, 403).permission,
    "admin",
    "a route without a rule is admin-only",
  );
  await using open = await openBroker();
  const app = createApp(open.broker);
  app.get("/v1/whoami", (c) => c.json(c.var.principal));
  assertEquals(await (await app.request("/v1/whoami")).json(), ANONYMOUS);
});

Deno.test("a valid token on an unknown /v1 path gets the 404; without one a 401", async () => {
  await using api = await openAuthApi();
  assertEquals((await api.send("GET", "/v1/nope")).status, 401);
  assertProblem(await api.send("GET", "/v1/nope", "audit-secret"), 404);
});

Deno.test("the dashboard: read opens the pages; redrive needs consume:<group>, checked against the form's group", async () => {
  await using api = await openAuthApi();
  const { broker } = api;
  await broker.topics.create("Trade");
  await broker.groups.put("audit", { subscriptions: [{ topic: "Trade" }] } as never);
  const page = await api.app.request("/", { headers: { authorization: "Bearer reader-secret" } });
  assertEquals(page.status, 200);
  await page.body?.cancel();
  const audit = await api.app.request("/", { headers: { authorization: "Bearer audit-secret" } });
  assertEquals(audit.status, 403);
  assertStringIncludes(await audit.text(), "lacks read");
  const form = (token: string, group: string) =>
    api.app.request("/dashboard/redrive", {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/x-www-form-urlencoded",
        origin: "http://localhost",
      },
      body: new URLSearchParams([["group", group], ["scope", "all"], ["confirm", "yes"]]),
    });
  const before = await kvSnapshot(api.kv);
  const reader = await form("reader-secret", "audit");
  assertEquals(reader.status, 403);
  assertStringIncludes(await reader.text(), "lacks consume:audit");
  const wrongGroup = await form("audit-secret", "billing");
  assertEquals(wrongGroup.status, 403);
  await wrongGroup.body?.cancel();
  assertEquals(await kvSnapshot(api.kv), before);
  const allowed = await form("audit-secret", "audit");
  assertEquals(allowed.status, 303);
  await allowed.body?.cancel();
  const bare = await api.app.request("/dashboard/redrive", { method: "POST" });
  assertEquals(bare.status, 401);
  await bare.body?.cancel();
});

// The process -----------------------------------------------------------------------------------

/** `main.ts` run with JSON logs, as {@linkcode runMain} runs it. */
const runJsonMain = (env: Record<string, string>, until: RegExp) =>
  runMain({ ESCROW_LOG_FORMAT: "json", ...env }, until);

Deno.test("start-up: a wrong token list stops the broker with a clear message; no tokens is a loud warning; names are logged, secrets never", async () => {
  const bad = await runJsonMain(
    { ESCROW_TOKENS: '[{"name":"wallet","token":"w-SECRET-1","permissions":["publsh:Trade"]}]' },
    /never/,
  );
  assertEquals(bad.code, 1);
  assertStringIncludes(bad.err, 'Escrow cannot start: Cannot read ESCROW_TOKENS[0] ("wallet")');
  assertStringIncludes(bad.err, 'unknown permission "publsh:Trade"');
  assert(!bad.err.includes("w-SECRET-1") && !bad.out.includes("w-SECRET-1"));

  const open = await runJsonMain({}, /"event":"startup"/);
  const warning = JSON.parse(open.err.split("\n").find((l) => l.includes('"startup.open"'))!);
  assertEquals(warning.level, "warn");
  assertStringIncludes(warning.msg, "the broker is OPEN");

  const secured = await runJsonMain({
    ESCROW_TOKENS: JSON.stringify([
      { name: "wallet", token: "w-SECRET-1", permissions: ["publish:Trade"] },
      { name: "ops", token: "o-SECRET-2", permissions: ["admin"] },
    ]),
  }, /"event":"startup"/);
  const startup = JSON.parse(secured.out.split("\n").find((l) => l.includes('"event":"startup"'))!);
  assertEquals([startup.auth, startup.principals], ["on", "wallet,ops"]);
  assert(!secured.err.includes("startup.open"));
  for (const secret of ["w-SECRET-1", "o-SECRET-2"]) {
    assert(!secured.out.includes(secret) && !secured.err.includes(secret), `${secret} logged`);
  }
});
