/**
 * Structured logs: JSON or readable lines, levels, redaction, the settings
 * read from the environment, and the engine's lines (a dead letter, a failed
 * check-back, a transaction rolled back by exhausted checks, a failed push, a
 * failed job) through an injected sink; the real process's start-up and
 * shutdown lines with a token set.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertMatch } from "@std/assert/match";
import { assertThrows } from "@std/assert/throws";
import { FakeTime } from "@std/testing/time";
import { readConfig } from "../../src/config.ts";
import { Scheduler } from "../../src/engine/jobs/scheduler.ts";
import { Logger, type LogLevel } from "../../src/observe/log.ts";
import { openBroker, tempKvFile } from "../_support/broker.ts";
import { BrokerProcess, waitFor } from "../_process.ts";
import { T0, testApi } from "../http/_helpers.ts";
import { createGroup, createTopic, handleOf, nack, publish, receive } from "../groups/_helpers.ts";

interface Captured {
  readonly lines: { line: string; level: LogLevel }[];
  readonly logger: Logger;
  json(): Record<string, unknown>[];
}

function capture(options: { level?: LogLevel; format?: "json" | "text" } = {}): Captured {
  const lines: { line: string; level: LogLevel }[] = [];
  const logger = new Logger({
    format: options.format ?? "json",
    level: options.level ?? "debug",
    clock: () => T0,
    sink: (line, level) => lines.push({ line, level }),
  });
  return { lines, logger, json: () => lines.map(({ line }) => JSON.parse(line)) };
}

Deno.test("a JSON line carries time, level, event, message and fields; a readable one is its message on one line", () => {
  const json = capture();
  json.logger.warn("delivery.deadLettered", "dead-lettered m1", { group: "ops", attempts: 17 });
  assertEquals(json.json(), [{
    time: new Date(T0).toISOString(),
    level: "warn",
    event: "delivery.deadLettered",
    msg: "dead-lettered m1",
    group: "ops",
    attempts: 17,
  }]);
  const text = capture({ format: "text" });
  text.logger.info("startup", "Escrow listening on http://localhost:8000/", { auth: "on" });
  text.logger.error("job.failed", "job failed:\nboom", { error: "boom" });
  assertEquals(text.lines.map((l) => l.line), [
    "Escrow listening on http://localhost:8000/",
    "job failed: boom",
  ]);
  assertEquals(text.lines.map((l) => l.level), ["info", "error"]);
});

Deno.test("lines below the logger's level are dropped", () => {
  const { logger, json } = capture({ level: "warn" });
  logger.debug("a", "debug");
  logger.info("b", "info");
  logger.warn("c", "warn");
  logger.error("d", "error");
  assertEquals(json().map((line) => line.level), ["warn", "error"]);
  assert(!logger.enabled("info"));
});

Deno.test("a field named like a token, secret, authorization or body is written as [redacted], and a value stays on one line", () => {
  for (const format of ["json", "text"] as const) {
    const { logger, lines } = capture({ format });
    logger.warn("x", "something happened", {
      token: "t0k-SECRET",
      apiToken: "t0k-SECRET",
      alertSecret: "t0k-SECRET",
      authorization: "Bearer t0k-SECRET",
      body: '{"card":"t0k-SECRET"}',
      error: "line one\nline two",
    });
    assertEquals(lines.length, 1);
    assert(!lines[0]!.line.includes("t0k-SECRET"), lines[0]!.line);
    assert(!lines[0]!.line.includes("\n"));
    if (format === "json") {
      const line = JSON.parse(lines[0]!.line);
      assertEquals([line.token, line.body, line.authorization], Array(3).fill("[redacted]"));
      assertEquals(line.error, "line one line two");
    }
  }
});

Deno.test("readConfig() reads ESCROW_LOG_LEVEL and ESCROW_LOG_FORMAT, defaulting to info and text, and refuses others", () => {
  const defaults = readConfig({});
  assertEquals([defaults.logLevel, defaults.logFormat], ["info", "text"]);
  const set = readConfig({ ESCROW_LOG_LEVEL: "DEBUG", ESCROW_LOG_FORMAT: "json" });
  assertEquals([set.logLevel, set.logFormat], ["debug", "json"]);
  assertThrows(() => readConfig({ ESCROW_LOG_LEVEL: "loud" }), RangeError, "ESCROW_LOG_LEVEL");
  assertThrows(() => readConfig({ ESCROW_LOG_FORMAT: "xml" }), RangeError, "ESCROW_LOG_FORMAT");
});

Deno.test("a dead letter is one warning line after its commit, naming message, group, attempts and error, never the body", async () => {
  using time = new FakeTime(T0);
  const { logger, json, lines } = capture();
  await using api = testApi(await openBroker({ clock: { fake: time }, logger }));
  await createTopic(api, "Trade");
  await createGroup(api, "ops", { subscriptions: [{ topic: "Trade" }], maxRetries: 0 });
  const { messageId } = await publish(api, "Trade", { body: { card: "4111-BODY" } });
  const [message] = await receive(api, "ops");
  assertEquals(json(), []);
  await nack(api, "ops", [handleOf(message!)]);
  const dead = json().filter((line) => line.event === "delivery.deadLettered");
  assertEquals(dead.length, 1);
  assertEquals(
    [dead[0]!.level, dead[0]!.messageId, dead[0]!.group, dead[0]!.attempts, dead[0]!.topic],
    ["warn", messageId, "ops", 1, "Trade"],
  );
  assert(lines.every(({ line }) => !line.includes("4111-BODY")));
});

Deno.test("a failed check-back is a warning, and a transaction rolled back by exhausted checks one more", async () => {
  using time = new FakeTime(T0);
  const { logger, json } = capture();
  await using api = testApi(await openBroker({ clock: { fake: time }, logger }));
  await createTopic(api, "Trade");
  const prepared = await api.post<{ transactionId: string }>("/v1/topics/Trade/transactions", {
    transactionId: "tx-1",
    body: { secret: "BODY-TEXT" },
    checkUrl: "http://127.0.0.1:9/unreachable",
    checkAfterSeconds: 1,
    checkIntervalSeconds: 1,
    maxChecks: 2,
  });
  assertEquals(prepared.status, 201, JSON.stringify(prepared.body));
  for (let i = 0; i < 6; i++) {
    time.tick(1_000);
    await api.broker.scheduler.runDue();
  }
  const failed = json().filter((line) => line.event === "checkBack.failed");
  assertEquals(failed.map((line) => [line.level, line.transactionId, line.check]), [
    ["warn", "tx-1", 1],
    ["warn", "tx-1", 2],
  ]);
  const rolledBack = json().filter((line) => line.event === "transaction.rolledBack");
  assertEquals(rolledBack.map((line) => [line.transactionId, line.checks, line.reason]), [
    ["tx-1", 2, "checksExhausted"],
  ]);
  assert(json().every((line) => !JSON.stringify(line).includes("BODY-TEXT")));
});

Deno.test("a job that keeps failing ends with one job.failed error line from the scheduler's default", async () => {
  using time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  const { logger, json } = capture();
  const scheduler = new Scheduler(kv, () => Promise.reject(new Error("boom")), {
    clock: () => Date.now(),
    maxAttempts: 2,
    logger,
  });
  const op = kv.atomic();
  scheduler.schedule(op, { kind: "checkBack", transactionId: "t", check: 1 }, Date.now());
  await op.commit();
  await scheduler.runDue();
  time.tick(1_000);
  await scheduler.runDue();
  const failed = json().filter((line) => line.event === "job.failed");
  assertEquals(failed.length, 1);
  assertEquals([failed[0]!.level, failed[0]!.kind, failed[0]!.runs], ["error", "checkBack", 2]);
  assertMatch(String(failed[0]!.msg), /boom/);
  await scheduler.stop();
});

Deno.test("a failed push is a warning naming the message, the group and the endpoint's origin only", async () => {
  const { logger, json } = capture();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("no", { status: 500 }),
  );
  try {
    await using fixture = await openBroker({ logger });
    const { broker } = fixture;
    await broker.topics.create("Trade");
    const url = `http://127.0.0.1:${server.addr.port}/hook?token=URL-TOKEN`;
    await broker.groups.put("pushed", {
      subscriptions: [{ topic: "Trade" }],
      delivery: { mode: "push", url },
    });
    const { messageId } = await broker.publisher.publish("Trade", { body: "x" });
    await broker.start();
    const deadline = Date.now() + 10_000;
    while (!json().some((line) => line.event === "push.failed") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await broker.stop();
    const line = json().find((line) => line.event === "push.failed");
    assert(line, "no push.failed line");
    assertEquals([line.messageId, line.group, line.attempt], [messageId, "pushed", 1]);
    assertEquals(line.origin, `http://127.0.0.1:${server.addr.port}`);
    assert(json().every((l) => !JSON.stringify(l).includes("URL-TOKEN")));
  } finally {
    await server.shutdown();
  }
});

Deno.test("the broker process logs its start-up (auth on, KV path, jobs, port) and its shutdown as JSON, never the token", async () => {
  await using file = await tempKvFile();
  await using broker = await BrokerProcess.spawn(file.path, {
    env: { ESCROW_API_TOKEN: "PROCESS-T0KEN", ESCROW_LOG_FORMAT: "json" },
  });
  const startupLine = /^.*"event":"startup".*\n/m; // a whole line
  const out = await waitFor(() => broker.stdout, (text) => startupLine.test(text), {
    what: "the startup line",
  });
  const startup = JSON.parse(startupLine.exec(out)![0]);
  assertEquals([startup.level, startup.auth, startup.jobs], ["info", "on", "queue"]);
  assertEquals(startup.kvPath, file.path);
  assert(typeof startup.port === "number" && startup.port > 0);
  assertMatch(startup.msg, /^Escrow listening on http:\/\/127\.0\.0\.1:\d+\//);
  // An answer means main.ts has run past its wiring, signal handlers included.
  const health = await fetch(`http://127.0.0.1:${startup.port}/healthz`);
  assertEquals(health.status, 200);
  await health.body?.cancel();
  const status = await broker.kill("SIGTERM");
  assertEquals(status.code, 0);
  const lines = broker.stdout.trim().split("\n").map((line) => JSON.parse(line));
  const shutdown = lines.find((line) => line.event === "shutdown");
  assert(shutdown, broker.stdout);
  assertMatch(shutdown.msg, /^Escrow shutting down \(SIGTERM\)/);
  assert(!broker.output.includes("PROCESS-T0KEN"));
});
