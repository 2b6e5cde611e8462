/**
 * Dead letters through the API: a message whose retries are spent is filed
 * for that group only, listed page by page, and redriven from attempt 1.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { FakeTime } from "@std/testing/time";
import { assertProblem, T0 } from "../http/_helpers.ts";
import {
  ack,
  countsOfGroup,
  createGroup,
  createTopic,
  type DeadLetterJson,
  handleOf,
  nack,
  openGroupsApi,
  publish,
  receive,
  sorted,
  type TestApi,
} from "./_helpers.ts";

const TOPIC = "Accompaniment";

interface DeadLetterPage {
  messages: DeadLetterJson[];
  cursor?: string;
}

async function deadLetters(api: TestApi, group: string, query = ""): Promise<DeadLetterPage> {
  const res = await api.get<DeadLetterPage>(`/v1/groups/${group}/dead-letters${query}`);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function redrive(
  api: TestApi,
  group: string,
  body: unknown = { all: true },
): Promise<number> {
  const res = await api.post<{ redriven: number }>(
    `/v1/groups/${group}/dead-letters/redrive`,
    body,
  );
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body.redriven;
}

/** A topic with group `ops` (no retries: a nack dead-letters) and `n` Ops messages. */
async function setUp(api: TestApi, n: number): Promise<string[]> {
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC, tags: "Ops" }], maxRetries: 0 });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await publish(api, TOPIC, { tag: "Ops" })).messageId);
  return ids;
}

/** Receives everything ready and nacks it. */
async function failAll(api: TestApi, group = "ops"): Promise<void> {
  const messages = await receive(api, group, { max: 256 });
  assertEquals((await nack(api, group, messages.map(handleOf))).failed, []);
}

Deno.test("GET /v1/groups/{group}/dead-letters lists a message whose retries are spent, with its attempts and last error", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", {
    subscriptions: [{ topic: TOPIC, tags: "Ops" }],
    maxRetries: 2,
    retryDelaysSeconds: [1],
  });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  for (let attempt = 1; attempt <= 3; attempt++) {
    const [message] = await receive(api, "ops");
    assertEquals(message?.attempt, attempt);
    assertEquals(await deadLetters(api, "ops"), { messages: [] });
    await nack(api, "ops", [handleOf(message!)]);
    time.tick(1_000);
  }
  assertEquals(await receive(api, "ops"), []);
  assertEquals(await deadLetters(api, "ops"), {
    messages: [{
      messageId,
      topic: TOPIC,
      tag: "Ops",
      attempts: 3,
      lastError: "nack",
      deadLetteredAt: new Date(T0 + 2_000).toISOString(),
    }],
  });
  assertEquals((await countsOfGroup(api, "ops")).deadLettered, 1);
});

Deno.test("a message is dead-lettered for the failing group only; another group acks it normally", async () => {
  await using api = await openGroupsApi();
  const [id] = await setUp(api, 1);
  await createGroup(api, "audit", { subscriptions: [{ topic: TOPIC }], maxRetries: 0 });
  // audit subscribed after the first message: publish one both groups see.
  const shared = (await publish(api, TOPIC, { tag: "Ops" })).messageId;
  await failAll(api, "ops");
  const audit = await receive(api, "audit");
  assertEquals(audit.map((m) => m.messageId), [shared]);
  assertEquals(await ack(api, "audit", audit.map(handleOf)), { acked: 1, failed: [] });
  assertEquals(sorted((await deadLetters(api, "ops")).messages.map((m) => m.messageId)), [
    ...sorted([id!, shared]),
  ]);
  assertEquals(await deadLetters(api, "audit"), { messages: [] });
  assertEquals((await countsOfGroup(api, "audit")).deadLettered, 0);
});

Deno.test("a visibility timeout that passes on the last attempt dead-letters with the error visibility timeout", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  const [id] = await setUp(api, 1);
  await receive(api, "ops", { visibilityTimeoutSeconds: 1 });
  time.tick(1_000);
  await api.broker.scheduler.runDue();
  const page = await deadLetters(api, "ops");
  assertEquals(page.messages.map((m) => [m.messageId, m.attempts, m.lastError]), [
    [id, 1, "visibility timeout"],
  ]);
  const counts = await countsOfGroup(api, "ops");
  assertEquals([counts.inFlight, counts.deadLettered], [0, 1]);
});

Deno.test("GET /v1/groups/{group}/dead-letters pages with limit and cursor, each dead letter once", async () => {
  await using api = await openGroupsApi();
  const ids = await setUp(api, 5);
  await failAll(api);
  const first = await deadLetters(api, "ops", "?limit=2");
  assertEquals(first.messages.length, 2);
  assert(first.cursor, "a full page has a cursor");
  const second = await deadLetters(api, "ops", `?limit=2&cursor=${first.cursor}`);
  assertEquals(second.messages.length, 2);
  assert(second.cursor);
  const third = await deadLetters(api, "ops", `?limit=2&cursor=${second.cursor}`);
  assertEquals(third.messages.length, 1);
  assertEquals(third.cursor, undefined);
  const seen = [first, second, third].flatMap((p) => p.messages.map((m) => m.messageId));
  assertEquals(sorted(seen), sorted(ids));
  assertEquals((await deadLetters(api, "ops")).messages.map((m) => m.messageId), seen);
});

for (const query of ["?limit=0", "?limit=1001", "?limit=ten"]) {
  Deno.test(`GET /v1/groups/{group}/dead-letters${query} is a 400 problem`, async () => {
    await using api = await openGroupsApi();
    await setUp(api, 0);
    assertProblem(await api.get(`/v1/groups/ops/dead-letters${query}`), 400);
  });
}

Deno.test("POST /v1/groups/{group}/dead-letters/redrive with all: true redelivers every dead letter from attempt 1", async () => {
  await using api = await openGroupsApi();
  const ids = await setUp(api, 3);
  await failAll(api);
  assertEquals((await countsOfGroup(api, "ops")).deadLettered, 3);
  assertEquals(await redrive(api, "ops"), 3);
  assertEquals(await deadLetters(api, "ops"), { messages: [] });
  assertEquals(await countsOfGroup(api, "ops"), {
    backlog: 3,
    inFlight: 0,
    retrying: 0,
    deadLettered: 0,
    acked: 0,
  });
  const again = await receive(api, "ops", { max: 10 });
  assertEquals(sorted(again.map((m) => m.messageId)), sorted(ids));
  assertEquals(again.map((m) => m.attempt), [1, 1, 1]);
  assertEquals(await ack(api, "ops", again.map(handleOf)), { acked: 3, failed: [] });
  assertEquals(await redrive(api, "ops"), 0);
});

Deno.test("POST /v1/groups/{group}/dead-letters/redrive with messageIds redrives those only and ignores unknown ids", async () => {
  await using api = await openGroupsApi();
  const [a, b, c] = await setUp(api, 3);
  await failAll(api);
  assertEquals(await redrive(api, "ops", { messageIds: [b!, "01NOTAMESSAGE", c!, c!] }), 2);
  assertEquals((await deadLetters(api, "ops")).messages.map((m) => m.messageId), [a]);
  assertEquals(sorted((await receive(api, "ops", { max: 10 })).map((m) => m.messageId)), [
    ...sorted([b!, c!]),
  ]);
  assertEquals(await redrive(api, "ops", { messageIds: [b!] }), 0); // in flight, not dead
});

Deno.test("a redriven message that fails again is dead-lettered again after the group's retries", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  const [id] = await setUp(api, 1);
  await failAll(api);
  time.tick(60_000);
  assertEquals(await redrive(api, "ops"), 1);
  const [message] = await receive(api, "ops");
  assertEquals([message?.messageId, message?.attempt], [id, 1]);
  await nack(api, "ops", [handleOf(message!)]);
  const page = await deadLetters(api, "ops");
  assertEquals(page.messages.map((m) => [m.messageId, m.attempts]), [[id, 1]]);
  assertEquals(page.messages[0]!.deadLetteredAt, new Date(T0 + 60_000).toISOString());
  assertEquals((await countsOfGroup(api, "ops")).deadLettered, 1);
});

Deno.test("POST /v1/groups/{group}/dead-letters/redrive with an unknown field is a 400 problem and redrives nothing", async () => {
  await using api = await openGroupsApi();
  await setUp(api, 1);
  await failAll(api);
  assertProblem(await api.post("/v1/groups/ops/dead-letters/redrive", { everything: true }), 400);
  assertEquals((await deadLetters(api, "ops")).messages.length, 1);
});
