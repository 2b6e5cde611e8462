/**
 * Dead-letter alerts against a real receiver on 127.0.0.1: a signed POST
 * once the dead letter is committed, retried with back-off until the
 * receiver answers 2xx, every call in the delivery's history, and redrive
 * untouched by it.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { FakeTime } from "@std/testing/time";
import { verify } from "../../../src/domain/signature.ts";
import { T0 } from "../../http/_helpers.ts";
import {
  createGroup,
  createTopic,
  getMessage,
  handleOf,
  nack,
  openGroupsApi,
  publish,
  receive,
  type TestApi,
} from "../../groups/_helpers.ts";

const TOPIC = "Accompaniment";
const ALERT_SECRET = "alert-s3cret";

interface Received {
  readonly path: string;
  readonly headers: Headers;
  readonly body: string;
}

/** An alert receiver that answers the statuses of `answers` in turn, then 200. */
function alertReceiver(answers: number[] = []) {
  const calls: Received[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    calls.push({ path, headers: req.headers, body: await req.text() });
    if (path === "/elsewhere") return new Response("ok");
    const status = answers.shift() ?? 200;
    if (status >= 300 && status < 400) {
      return new Response(null, { status, headers: { location: "/elsewhere" } });
    }
    return new Response(status === 200 ? "thanks" : "down", { status });
  });
  return {
    calls,
    url: `http://127.0.0.1:${server.addr.port}/alerts`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** A topic, group `ops` (no retries) with `extra`, and one message nacked into its dead letters. */
async function deadLetterOne(api: TestApi, extra: Record<string, unknown>): Promise<string> {
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", {
    subscriptions: [{ topic: TOPIC, tags: "Ops" }],
    maxRetries: 0,
    ...extra,
  });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  await failOnce(api);
  return messageId;
}

async function failOnce(api: TestApi): Promise<void> {
  const [message] = await receive(api, "ops");
  assert(message, "nothing to receive");
  assertEquals((await nack(api, "ops", [handleOf(message)])).failed, []);
}

async function historyTypes(api: TestApi, messageId: string): Promise<string[]> {
  const message = await getMessage(api, messageId);
  return message.deliveries[0]!.history.map((event) => event.type);
}

Deno.test("a group's alertUrl gets a signed POST after the dead letter commits, retried with back-off until it answers 2xx, each call in the delivery's history", async () => {
  using time = new FakeTime(T0);
  await using receiver = alertReceiver([500, 503]);
  await using api = await openGroupsApi({ time });
  const messageId = await deadLetterOne(api, {
    alertUrl: receiver.url,
    alertSecret: ALERT_SECRET,
  });
  assertEquals(receiver.calls.length, 0, "the alert is a job: nothing is called in the nack");

  await api.broker.scheduler.runDue();
  assertEquals(receiver.calls.length, 1);
  await api.broker.scheduler.runDue();
  assertEquals(receiver.calls.length, 1, "a failed call waits for its back-off");
  time.tick(1_000);
  await api.broker.scheduler.runDue();
  assertEquals(receiver.calls.length, 2);
  time.tick(1_999);
  await api.broker.scheduler.runDue();
  assertEquals(receiver.calls.length, 2, "the second back-off is 2 s");
  time.tick(1);
  await api.broker.scheduler.runDue();
  assertEquals(receiver.calls.length, 3);
  time.tick(60_000);
  await api.broker.scheduler.runDue();
  assertEquals(receiver.calls.length, 3, "a 2xx ends the alert");

  for (const [i, call] of receiver.calls.entries()) {
    const timestamp = call.headers.get("escrow-timestamp")!;
    const signature = call.headers.get("escrow-signature")!;
    assert(await verify(ALERT_SECRET, timestamp, call.body, signature), `call ${i + 1} signed`);
    const alert = JSON.parse(call.body);
    assertEquals(alert.alertAttempt, i + 1);
    assertEquals({ ...alert, alertAttempt: 0 }, {
      type: "deadLetter",
      messageId,
      group: "ops",
      topic: TOPIC,
      tag: "Ops",
      attempts: 1,
      lastError: alert.lastError,
      deadLetteredAt: new Date(T0).toISOString(),
      alertAttempt: 0,
    });
    assert(typeof alert.lastError === "string" && alert.lastError.length > 0);
  }
  assertEquals(await historyTypes(api, messageId), [
    "DeliveryAttempted",
    "DeliveryDeadLettered",
    "DeliveryAlertFailed",
    "DeliveryAlertFailed",
    "DeliveryAlertSent",
  ]);
  const sent = (await getMessage(api, messageId)).deliveries[0]!.history.at(-1)!;
  assertEquals(sent.data, { url: receiver.url, status: 200, alertAttempt: 3 });
  assertEquals((await getMessage(api, messageId)).deliveries[0]!.state, "deadLettered");

  // The alerts moved the stream's head; a redrive still appends at the real one.
  const redrive = await api.post<{ redriven: number }>("/v1/groups/ops/dead-letters/redrive", {
    all: true,
  });
  assertEquals(redrive.body, { redriven: 1 });
  const [again] = await receive(api, "ops");
  assertEquals(again?.messageId, messageId);
  assertEquals(again?.attempt, 1);
  assertEquals((await historyTypes(api, messageId)).slice(-2), [
    "DeliveryRedriven",
    "DeliveryAttempted",
  ]);
});

Deno.test("without an alertSecret, a push group's alerts are signed with its push secret; with one, with the alertSecret", async () => {
  using time = new FakeTime(T0);
  await using receiver = alertReceiver();
  await using api = await openGroupsApi({ time });
  await createTopic(api, TOPIC);
  for (const [name, alertSecret] of [["pushed", undefined], ["own", ALERT_SECRET]] as const) {
    await createGroup(api, name, {
      subscriptions: [{ topic: TOPIC }],
      maxRetries: 0,
      delivery: { mode: "push", url: `${receiver.url}/push`, secret: "push-s3cret" },
      alertUrl: `${receiver.url}/${name}`,
      ...(alertSecret ? { alertSecret } : {}),
    });
  }
  await publish(api, TOPIC, { tag: "Ops" });
  // The pumps are not started: the test ends each attempt itself, as a failed push would.
  for (const name of ["pushed", "own"]) {
    const [message] = await api.broker.deliveries.receive(name, { max: 1 });
    await api.broker.deliveries.fail(name, [message!.receiptHandle], "endpoint answered HTTP 500");
  }
  await api.broker.scheduler.runDue();
  const byPath = new Map(receiver.calls.map((call) => [call.path, call]));
  for (
    const [name, secret, other] of [
      ["pushed", "push-s3cret", ALERT_SECRET],
      ["own", ALERT_SECRET, "push-s3cret"],
    ]
  ) {
    const call = byPath.get(`/alerts/${name}`);
    assert(call, `no alert for ${name}`);
    const timestamp = call.headers.get("escrow-timestamp")!;
    const signature = call.headers.get("escrow-signature")!;
    assert(
      await verify(secret!, timestamp, call.body, signature),
      `${name}: signed with ${secret}`,
    );
    assert(!(await verify(other!, timestamp, call.body, signature)), `${name}: not with ${other}`);
    assertEquals(JSON.parse(call.body).lastError, "endpoint answered HTTP 500");
  }
  const shown = await api.get<Record<string, unknown>>("/v1/groups/own");
  assertEquals(shown.body.alertUrl, `${receiver.url}/own`);
  assertEquals(shown.body.hasAlertSecret, true);
  assert(!JSON.stringify(shown.body).includes(ALERT_SECRET), "the alert secret is never shown");
});

Deno.test("an alert for a dead letter since redriven and dead-lettered again is sent once, for the new dead letter", async () => {
  using time = new FakeTime(T0);
  await using receiver = alertReceiver();
  await using api = await openGroupsApi({ time });
  const messageId = await deadLetterOne(api, { alertUrl: receiver.url });
  const redrive = await api.post<{ redriven: number }>("/v1/groups/ops/dead-letters/redrive", {
    all: true,
  });
  assertEquals(redrive.body, { redriven: 1 });
  time.tick(5_000);
  await failOnce(api);
  await api.broker.scheduler.runDue();
  assertEquals(receiver.calls.length, 1, "one alert: the first dead letter's job ends quietly");
  const alert = JSON.parse(receiver.calls[0]!.body);
  assertEquals(alert.deadLetteredAt, new Date(T0 + 5_000).toISOString());
  assertEquals(receiver.calls[0]!.headers.get("escrow-signature"), null, "no secret: unsigned");
  assertEquals((await historyTypes(api, messageId)).filter((t) => t.startsWith("DeliveryAlert")), [
    "DeliveryAlertSent",
  ]);
});

Deno.test("a redriven dead letter whose alert kept failing gets no more alert calls", async () => {
  using time = new FakeTime(T0);
  await using receiver = alertReceiver([500]);
  await using api = await openGroupsApi({ time });
  await deadLetterOne(api, { alertUrl: receiver.url });
  await api.broker.scheduler.runDue();
  assertEquals(receiver.calls.length, 1);
  await api.post("/v1/groups/ops/dead-letters/redrive", { all: true });
  time.tick(10_000);
  await api.broker.scheduler.runDue();
  assertEquals(receiver.calls.length, 1);
});

Deno.test("an alert URL answering a redirect is a failed call and the redirect is not followed", async () => {
  using time = new FakeTime(T0);
  await using receiver = alertReceiver([302]);
  await using api = await openGroupsApi({ time });
  const messageId = await deadLetterOne(api, { alertUrl: receiver.url });
  await api.broker.scheduler.runDue();
  assertEquals(receiver.calls.map((call) => call.path), ["/alerts"]);
  const failed = (await getMessage(api, messageId)).deliveries[0]!.history.at(-1)!;
  assertEquals(failed.type, "DeliveryAlertFailed");
  assertEquals((failed.data as { status?: number }).status, 302);
});

Deno.test("a group without an alertUrl schedules no alert, and alertSecret needs an alertUrl", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await deadLetterOne(api, {});
  const jobs = await api.broker.scheduler.list();
  assertEquals(jobs.jobs.filter((job) => job.job.kind === "deadLetterAlert"), []);
  const refused = await api.put("/v1/groups/other", {
    subscriptions: [{ topic: TOPIC }],
    alertSecret: "s",
  });
  assertEquals(refused.status, 400);
});
