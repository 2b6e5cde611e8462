/**
 * `POST /v1/topics/{topic}/messages/batch`: one result per message in
 * order, per-message dedup and per-message errors, envelope errors that
 * store nothing, and a batch that costs a handful of commits.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { encodeBase64 } from "@std/encoding/base64";
import { keys } from "../../src/store/keys.ts";
import { MAX_BATCH_MESSAGES, MAX_BODY_BYTES } from "../../src/domain/names.ts";
import {
  assertProblem,
  bytes,
  countsOf,
  createTopic,
  kvSnapshot,
  type MessageJson,
  openApi,
  publish,
  T0,
  type TestApi,
} from "./_helpers.ts";

interface ItemJson {
  status: number;
  messageId?: string;
  topic?: string;
  tag?: string;
  publishedAt?: string;
  duplicate?: boolean;
  problem?: { status: number; detail: string; issues?: { path: string }[] };
}

interface BatchJson {
  results: ItemJson[];
  stored: number;
  duplicates: number;
  failed: number;
}

const PATH = "/v1/topics/Trade/messages/batch";

async function batch(api: TestApi, messages: unknown[]) {
  return await api.post<BatchJson>(PATH, { messages });
}

/** Commits that wrote to the topic's log (the committer writes one entry per topic and commit). */
async function logCommits(kv: Deno.Kv, topic: string): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: keys.topicLog(topic) })) n++;
  return n;
}

Deno.test("a batch publish answers 200 with each message's own 201 result, in order, readable by id", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const res = await batch(api, [
    { tag: "Ops", body: { n: 0 } },
    { body: "one", keys: ["k1"] },
    { tag: "CS", bodyBase64: encodeBase64(new Uint8Array([1, 2, 3])) },
  ]);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  assertEquals([res.body.stored, res.body.duplicates, res.body.failed], [3, 0, 0]);
  const [a, b, c] = res.body.results;
  assertEquals(a, {
    status: 201,
    messageId: a!.messageId,
    topic: "Trade",
    tag: "Ops",
    publishedAt: new Date(T0).toISOString(),
    duplicate: false,
  });
  assertEquals(new Set(res.body.results.map((r) => r.messageId)).size, 3);
  assertEquals([b!.status, b!.tag, c!.status, c!.tag], [201, undefined, 201, "CS"]);
  const shown = await api.get<MessageJson>(`/v1/messages/${a!.messageId}`);
  assertEquals(shown.status, 200);
  assertEquals(shown.body.body, { n: 0 });
  const byKey = await api.get<{ messages: MessageJson[] }>("/v1/topics/Trade/messages?key=k1");
  assertEquals(byKey.body.messages.map((m) => m.messageId), [b!.messageId]);
  assertEquals((await countsOf(api, "Trade")).published, 3);
});

Deno.test("a batch publish keeps its order in the topic log", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const res = await batch(api, Array.from({ length: 50 }, (_, n) => ({ body: n })));
  const ids: string[] = [];
  for await (
    const entry of api.kv.list<{ messageId: string }[]>({ prefix: keys.topicLog("Trade") })
  ) {
    ids.push(...entry.value.map((e) => e.messageId));
  }
  assertEquals(ids, res.body.results.map((r) => r.messageId));
});

Deno.test("an invalid message in a batch fails alone with a 400 problem naming its field; the others are stored", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const res = await batch(api, [
    { body: 1 },
    { tag: "no spaces allowed", body: 2 },
    { body: 3, unknownField: true },
    { body: 4 },
  ]);
  assertEquals(res.status, 200);
  assertEquals(res.body.results.map((r) => r.status), [201, 400, 400, 201]);
  assertEquals([res.body.stored, res.body.failed], [2, 2]);
  const tagProblem = res.body.results[1]!.problem!;
  assertEquals(tagProblem.status, 400);
  assertEquals(tagProblem.issues?.map((i) => i.path), ["json.messages.1.tag"]);
  assertStringIncludes(res.body.results[2]!.problem!.detail, "json.messages.2");
  assertEquals((await countsOf(api, "Trade")).published, 2);
});

Deno.test("a message over the body limit fails alone with a 413 problem; a large body is staged and stored with the rest", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const large = bytes(300 * 1024, 7);
  const res = await batch(api, [
    { bodyBase64: encodeBase64(bytes(MAX_BODY_BYTES + 1)) },
    { bodyBase64: encodeBase64(large) },
    { body: "small" },
  ]);
  assertEquals(res.status, 200);
  assertEquals(res.body.results.map((r) => r.status), [413, 201, 201]);
  assertStringIncludes(res.body.results[0]!.problem!.detail, "bodyBase64");
  const shown = await api.get<MessageJson>(`/v1/messages/${res.body.results[1]!.messageId}`);
  assertEquals(shown.body.bodyBase64, encodeBase64(large));
  assertEquals(await logCommits(api.kv, "Trade") >= 2, true);
  assertEquals((await countsOf(api, "Trade")).published, 2);
});

Deno.test("a batch message with a seen dedupId is a 200 duplicate of the first; a repeat within the batch too", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const first = await publish(api, "Trade", { dedupId: "pay-1", tag: "Ops", body: 1 });
  api.advance(1_000);
  const res = await batch(api, [
    { dedupId: "pay-1", tag: "Ops", body: 1 },
    { dedupId: "pay-2", body: 2 },
    { dedupId: "pay-2", body: 2 },
    { dedupId: "pay-3", tag: "bad tag", body: 3 },
    { dedupId: "pay-3", body: 3 },
  ]);
  assertEquals(res.body.results.map((r) => r.status), [200, 201, 200, 400, 201]);
  assertEquals(res.body.results[0], {
    status: 200,
    messageId: first.messageId,
    topic: "Trade",
    tag: "Ops",
    publishedAt: first.publishedAt,
    duplicate: true,
  });
  assertEquals(res.body.results[2]!.messageId, res.body.results[1]!.messageId);
  assertEquals([res.body.stored, res.body.duplicates, res.body.failed], [2, 2, 1]);
  assertEquals((await countsOf(api, "Trade")).published, 3);
});

Deno.test("the same batch sent again stores nothing new and answers every message as a duplicate", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const messages = Array.from({ length: 30 }, (_, n) => ({ dedupId: `d-${n}`, body: n }));
  const first = await batch(api, messages);
  const before = await kvSnapshot(api.kv);
  const again = await batch(api, messages);
  assertEquals(
    again.body.results.map((r) => r.messageId),
    first.body.results.map((r) => r.messageId),
  );
  assert(again.body.results.every((r) => r.status === 200 && r.duplicate === true));
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test(`a batch of ${MAX_BATCH_MESSAGES} small messages shares a handful of commits`, async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const res = await batch(
    api,
    Array.from({ length: MAX_BATCH_MESSAGES }, (_, n) => ({ tag: "Ops", body: { n } })),
  );
  assertEquals(res.body.stored, MAX_BATCH_MESSAGES);
  const commits = await logCommits(api.kv, "Trade");
  // Bound by the committer's 56 KiB of log entries per topic and commit; not 1,000 round trips.
  assert(commits <= 4, `${commits} commits for ${MAX_BATCH_MESSAGES} messages`);
  assertEquals((await countsOf(api, "Trade")).published, MAX_BATCH_MESSAGES);
});

Deno.test(`a batch of ${MAX_BATCH_MESSAGES} messages with dedup ids is bound only by KV's 100 checks per commit`, async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const res = await batch(
    api,
    Array.from({ length: MAX_BATCH_MESSAGES }, (_, n) => ({ dedupId: `m-${n}`, body: { n } })),
  );
  assertEquals(res.body.stored, MAX_BATCH_MESSAGES);
  const commits = await logCommits(api.kv, "Trade");
  // One check per dedup id; the committer keeps each commit under 90 checks.
  assert(commits <= Math.ceil(MAX_BATCH_MESSAGES / 90), `${commits} commits`);
});

Deno.test("a batch publish with a bad envelope is a 400 problem and stores nothing", async () => {
  await using api = await openApi();
  await createTopic(api, "Trade");
  const before = await kvSnapshot(api.kv);
  const cases: [unknown, string][] = [
    [{ messages: [] }, "json.messages"],
    [
      { messages: Array.from({ length: MAX_BATCH_MESSAGES + 1 }, () => ({ body: 1 })) },
      "json.messages",
    ],
    [{ messages: { body: 1 } }, "json.messages"],
    [{ messages: [{ body: 1 }], extra: 1 }, "json"],
    [[{ body: 1 }], "json"],
  ];
  for (const [json, path] of cases) {
    const res = await api.send(`POST`, PATH, { json });
    assertStringIncludes(assertProblem(res, 400).detail, path);
  }
  const huge = await api.send("POST", PATH, {
    raw: `{"messages":[{"body":1e309}]}`,
    headers: { "content-type": "application/json" },
  });
  assertStringIncludes(assertProblem(huge, 400).detail, "json.messages.0.body");
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("a batch publish to an unknown topic is a 404 problem and stores nothing", async () => {
  await using api = await openApi();
  const before = await kvSnapshot(api.kv);
  const res = await api.post(`/v1/topics/Nope/messages/batch`, { messages: [{ body: 1 }] });
  assertProblem(res, 404, "Nope");
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("the OpenAPI document describes the batch publish with its item schema", async () => {
  await using api = await openApi();
  const doc = await api.get<{
    paths: Record<string, Record<string, { operationId: string }>>;
    components: { schemas: Record<string, unknown> };
  }>("/openapi.json");
  assertEquals(
    doc.body.paths["/v1/topics/{topic}/messages/batch"]?.post?.operationId,
    "publishMessageBatch",
  );
  assert("PublishBatchRequest" in doc.body.components.schemas);
  assert("PublishBatchItem" in doc.body.components.schemas);
});
