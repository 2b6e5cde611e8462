/**
 * 4 MiB bodies end to end: published and prepared through the API, read
 * back by id, received and pushed intact; one byte more is a 413 that stores
 * nothing; a retried large publish stores nothing new; a receive stops at
 * its byte budget; and an upload that never becomes a message (the client
 * aborts, a failure or a kill between its commits) leaves nothing visible
 * and is collected.
 *
 * @module
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { ContentionError } from "./../src/domain/errors.ts";
import { decodeBase64, encodeBase64 } from "@std/encoding/base64";
import { MAX_BODY_BYTES } from "./../src/domain/names.ts";
import { MAX_RECEIVE_BYTES } from "./../src/engine/delivery/deliveries.ts";
import { UPLOAD_COLLECT_AFTER_MS } from "./../src/engine/publishing/body_upload.ts";
import { keys } from "./../src/store/keys.ts";
import { MAX_REQUEST_BYTES } from "./../src/http/app.ts";
import { PROJECT_DIR, waitFor } from "./_process.ts";
import { LIVE, openBroker, serveBroker, tempKvFile } from "./_support/broker.ts";
import { PushReceiver } from "./_support/push_receiver.ts";
import { startBroker } from "./client/_broker.ts";
import { CRASH_MESSAGE_ID } from "./_support/upload_child.ts";
import {
  assertProblem,
  bytes,
  createTopic,
  kvSnapshot,
  type MessageJson,
  openApi,
  publish,
  type PublishJson,
  type TestApi,
  type TransactionResultJson,
} from "./http/_helpers.ts";

const MiB = 1024 * 1024;

interface Received {
  messageId: string;
  receiptHandle: string;
  body?: unknown;
  bodyBase64?: string;
}

async function count(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  return (await Array.fromAsync(kv.list({ prefix }))).length;
}

async function receive(api: TestApi, group: string, max = 32): Promise<Received[]> {
  const res = await api.post<{ messages: Received[] }>(`/v1/groups/${group}/receive`, { max });
  assertEquals(res.status, 200, JSON.stringify(res.body).slice(0, 500));
  return res.body.messages;
}

async function filesApi(): Promise<TestApi> {
  const api = await openApi();
  await createTopic(api, "Files");
  assertEquals(
    (await api.put("/v1/groups/archive", { subscriptions: [{ topic: "Files" }] })).status,
    201,
  );
  return api;
}

Deno.test("the request limit takes a 4 MiB body as base64 in JSON with room for the other fields", () => {
  assertEquals(MAX_BODY_BYTES, 4 * MiB);
  const base64 = 4 * Math.ceil(MAX_BODY_BYTES / 3);
  assert(MAX_REQUEST_BYTES - base64 > 512 * 1024, `${MAX_REQUEST_BYTES} - ${base64}`);
});

Deno.test("a 4 MiB body round-trips: publish, GET /v1/messages/{id}, receive, all byte for byte", async () => {
  await using api = await filesApi();
  const body = bytes(MAX_BODY_BYTES, 3);
  const published = await publish(api, "Files", { tag: "Scan", bodyBase64: encodeBase64(body) });
  assertEquals(await count(api.kv, keys.bodyChunks(published.messageId)), 64);
  assertEquals(await count(api.kv, keys.uploads()), 0);

  const shown = await api.get<MessageJson>(`/v1/messages/${published.messageId}`);
  assertEquals(shown.status, 200);
  assertEquals(decodeBase64(shown.body.bodyBase64!), body);

  const [got, ...rest] = await receive(api, "archive");
  assertEquals(rest, []);
  assertEquals(got!.messageId, published.messageId);
  assertEquals(decodeBase64(got!.bodyBase64!), body);
  const ack = await api.post<{ failed: unknown[] }>("/v1/groups/archive/ack", {
    receiptHandles: [got!.receiptHandle],
  });
  assertEquals(ack.status, 200);
  assertEquals(ack.body.failed, []);
});

Deno.test("a JSON body of exactly 4 MiB is stored and received as the same JSON", async () => {
  await using api = await filesApi();
  const text = "j".repeat(MAX_BODY_BYTES - 2); // JSON.stringify adds the two quotes
  const published = await publish(api, "Files", { body: text });
  const [got] = await receive(api, "archive");
  assertEquals(got!.messageId, published.messageId);
  assertEquals(got!.body, text);
});

Deno.test("a prepared 4 MiB message is invisible until committed, then received intact; a retried prepare uploads nothing", async () => {
  await using api = await filesApi();
  const body = bytes(MAX_BODY_BYTES, 5);
  const request = { transactionId: "big-tx", bodyBase64: encodeBase64(body) };
  const prepared = await api.post<TransactionResultJson>("/v1/topics/Files/transactions", request);
  assertEquals(prepared.status, 201, JSON.stringify(prepared.body));
  assertEquals(await receive(api, "archive"), []);

  const before = await kvSnapshot(api.kv);
  const again = await api.post<TransactionResultJson>("/v1/topics/Files/transactions", request);
  assertEquals(again.status, 200, JSON.stringify(again.body));
  assertEquals(again.body.messageId, prepared.body.messageId);
  assertEquals(await kvSnapshot(api.kv), before, "a retried prepare stores nothing");

  const committed = await api.post(`/v1/transactions/big-tx/commit`);
  assertEquals(committed.status, 200, JSON.stringify(committed.body));
  const [got] = await receive(api, "archive");
  assertEquals(got!.messageId, prepared.body.messageId);
  assertEquals(decodeBase64(got!.bodyBase64!), body);
});

Deno.test("a body one byte over 4 MiB is a 413 naming the field, and stores nothing (publish and prepare)", async () => {
  await using api = await filesApi();
  const before = await kvSnapshot(api.kv);
  const over = encodeBase64(bytes(MAX_BODY_BYTES + 1));
  const published = assertProblem(
    await api.post("/v1/topics/Files/messages", { bodyBase64: over }),
    413,
    String(MAX_BODY_BYTES),
  );
  assertEquals(published.field, "bodyBase64");
  assertEquals(published.size, MAX_BODY_BYTES + 1);
  assertEquals(published.limit, MAX_BODY_BYTES);
  const json = assertProblem(
    await api.post("/v1/topics/Files/messages", { body: "j".repeat(MAX_BODY_BYTES - 1) }),
    413,
  );
  assertEquals(json.field, "body");
  assertProblem(
    await api.post("/v1/topics/Files/transactions", { bodyBase64: over }),
    413,
    String(MAX_BODY_BYTES),
  );
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("a retried 4 MiB publish (same Idempotency-Key) stores nothing new and answers the first message", async () => {
  await using api = await filesApi();
  const message = { bodyBase64: encodeBase64(bytes(MAX_BODY_BYTES, 9)) };
  const headers = { "Idempotency-Key": "scan-77" };
  const first = await api.post<PublishJson>("/v1/topics/Files/messages", message, headers);
  assertEquals(first.status, 201);
  const before = await kvSnapshot(api.kv);
  const again = await api.post<PublishJson>("/v1/topics/Files/messages", message, headers);
  assertEquals(again.status, 200);
  assertEquals(again.body.duplicate, true);
  assertEquals(again.body.messageId, first.body.messageId);
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("concurrent 4 MiB publishes with one dedupId store one message and leave no other chunks", async () => {
  await using api = await filesApi();
  const message = { dedupId: "scan-78", bodyBase64: encodeBase64(bytes(MAX_BODY_BYTES, 11)) };
  const answers = await Promise.all(
    [0, 1, 2].map(() => api.post<PublishJson>("/v1/topics/Files/messages", message)),
  );
  assertEquals(answers.map((a) => a.status).sort(), [200, 200, 201]);
  assertEquals(new Set(answers.map((a) => a.body.messageId)).size, 1);
  assertEquals(await count(api.kv, ["body"]), 64, "only the winner's chunks are kept");
  assertEquals(
    await count(api.kv, keys.uploads()),
    0,
    "the losers discarded their uploads at once",
  );
});

Deno.test("a receive stops before the message that would take it past 4 MiB of bodies; the rest come next", async () => {
  await using api = await filesApi();
  const sizes = [4 * MiB, MiB, MiB, MiB, MiB, MiB, 10];
  const ids: string[] = [];
  for (const [i, size] of sizes.entries()) {
    ids.push(
      (await publish(api, "Files", { bodyBase64: encodeBase64(bytes(size, i + 1)) })).messageId,
    );
  }
  const rounds: string[][] = [];
  for (let i = 0; i < 4; i++) {
    const res = await api.app.request("/v1/groups/archive/receive", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ max: 32 }),
    });
    const text = await res.text();
    assert(text.length < 6 * MiB, `a receive answered ${text.length} characters`);
    rounds.push((JSON.parse(text).messages as Received[]).map((m) => m.messageId));
  }
  assertEquals(rounds, [ids.slice(0, 1), ids.slice(1, 5), ids.slice(5), []]);
  assertEquals(MAX_RECEIVE_BYTES, 4 * MiB);
});

Deno.test("retried large messages count against the receive budget too", async () => {
  await using api = await filesApi();
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    ids.push(
      (await publish(api, "Files", { bodyBase64: encodeBase64(bytes(MiB, i + 1)) })).messageId,
    );
  }
  const first = [...await receive(api, "archive"), ...await receive(api, "archive")];
  assertEquals(first.length, 5);
  const nack = await api.post("/v1/groups/archive/nack", {
    receiptHandles: first.map((m) => m.receiptHandle),
    delaySeconds: 0,
  });
  assertEquals(nack.status, 200, JSON.stringify(nack.body));
  const retried = await receive(api, "archive");
  assertEquals(retried.length, 4, "4 MiB of retried bodies, not 5");
  assertEquals((await receive(api, "archive")).length, 1);
});

Deno.test("a push group receives a 4 MiB body intact", async () => {
  await using receiver = PushReceiver.serve(() => new Response(null, { status: 204 }));
  await using live = await openBroker({
    ...LIVE,
    setUp: async (broker) => {
      await broker.topics.create("Files");
      await broker.groups.put("hook", {
        subscriptions: [{ topic: "Files" }],
        delivery: { mode: "push", url: receiver.url, timeoutSeconds: 10 },
      });
    },
  });
  const body = bytes(MAX_BODY_BYTES, 13);
  const { messageId } = await live.broker.publisher.publish("Files", {
    bodyBase64: encodeBase64(body),
  });
  const [call] = await waitFor(() => receiver.callsFor(messageId), (calls) => calls.length > 0, {
    timeoutMs: 15_000,
    what: "the push of the 4 MiB message",
  });
  assertEquals(decodeBase64(call!.message.bodyBase64!), body);
});

Deno.test("a client that aborts mid-upload leaves nothing stored", async () => {
  await using served = await serveBroker();
  await served.broker.topics.create("Files");
  const before = await kvSnapshot(served.kv);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: served.port });
  const length = 5 * MiB;
  const head = `POST /v1/topics/Files/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{"bodyBase64":"`;
  const encoder = new TextEncoder();
  await conn.write(encoder.encode(head));
  const part = encoder.encode("A".repeat(64 * 1024));
  for (let sent = 0; sent < 2 * MiB; sent += part.length) await conn.write(part);
  conn.close();
  // The handler may still be running: watch for a while that nothing appears.
  for (let i = 0; i < 10; i++) {
    assertEquals(await kvSnapshot(served.kv), before);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const after = await fetch(`${served.url}/v1/topics/Files`);
  assertEquals(after.status, 200);
  assertEquals((await after.json()).counts.published, 0);
});

Deno.test("an upload that fails between its commits is invisible, and its job collects the chunks when due", async () => {
  await using api = await filesApi();
  const failure = new Error("injected between commits");
  const body = { encoding: "bytes" as const, bytes: bytes(MAX_BODY_BYTES) };
  let thrown: unknown;
  try {
    await api.broker.uploads.stageIfLarge("half-done", body, {
      afterCommit: (stored) => {
        if (stored >= 30) throw failure;
      },
    });
  } catch (error) {
    thrown = error;
  }
  assertEquals(thrown, failure);
  assertEquals(await count(api.kv, keys.bodyChunks("half-done")), 30);
  assertEquals((await api.get("/v1/messages/half-done")).status, 404);
  assertEquals(await receive(api, "archive"), []);

  assertEquals(await api.broker.scheduler.runDue(), 0, "not due yet");
  assertEquals(await count(api.kv, keys.bodyChunks("half-done")), 30);
  api.advance(UPLOAD_COLLECT_AFTER_MS);
  assertEquals(await api.broker.scheduler.runDue(), 1);
  assertEquals(await count(api.kv, ["body"]), 0);
  assertEquals(await count(api.kv, keys.uploads()), 0);
  assertEquals(await count(api.kv, keys.jobs()), 0);
});

Deno.test("the collector job leaves a committed large message alone", async () => {
  await using api = await filesApi();
  const body = bytes(MAX_BODY_BYTES, 17);
  const { messageId } = await publish(api, "Files", { bodyBase64: encodeBase64(body) });
  api.advance(UPLOAD_COLLECT_AFTER_MS);
  assertEquals(await api.broker.scheduler.runDue(), 1);
  assertEquals(await count(api.kv, keys.jobs()), 0);
  const shown = await api.get<MessageJson>(`/v1/messages/${messageId}`);
  assertEquals(decodeBase64(shown.body.bodyBase64!), body);
});

Deno.test("a process killed between the commits of an upload leaves nothing visible; after the restart the upload is collected", async () => {
  await using file = await tempKvFile("escrow_upload_crash_");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "tests/_support/upload_child.ts", file.path],
    cwd: PROJECT_DIR,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    while (!stdout.includes("staged")) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += value;
    }
    assertStringIncludes(stdout, "staged 20 of 64", await Promise.race([stderr, ""]));
    child.kill("SIGKILL");
    const status = await child.status;
    assertEquals(status.signal, "SIGKILL");
  } finally {
    clearTimeout(deadline);
    await reader.cancel().catch(() => {});
    await stderr.catch(() => "");
  }

  const killedAt = Date.now();
  await using after = await openBroker({ kv: { path: file.path }, clock: { manual: killedAt } });
  const { kv, broker } = after;
  assertEquals(await count(kv, keys.bodyChunks(CRASH_MESSAGE_ID)), 20);
  assertEquals(await count(kv, keys.uploads()), 1);
  assertEquals(await count(kv, keys.message(CRASH_MESSAGE_ID)), 0, "no message record");
  after.advance(UPLOAD_COLLECT_AFTER_MS + 1_000);
  assertEquals(await broker.scheduler.runDue(), 1);
  assertEquals(await count(kv, ["body"]), 0);
  assertEquals(await count(kv, keys.uploads()), 0);
});

Deno.test("a lookup by key returns no more than 4 MiB of bodies (at least one message)", async () => {
  await using api = await filesApi();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const message = { keys: ["scan"], bodyBase64: encodeBase64(bytes(2 * MiB, i + 1)) };
    ids.push((await publish(api, "Files", message)).messageId);
  }
  const huge = await publish(api, "Files", {
    keys: ["huge"],
    bodyBase64: encodeBase64(bytes(MAX_BODY_BYTES)),
  });
  const found = await api.get<{ messages: MessageJson[] }>(
    "/v1/topics/Files/messages?key=scan&limit=10",
  );
  assertEquals(found.status, 200);
  assertEquals(found.body.messages.map((m) => m.messageId), [ids[2], ids[1]], "newest first");
  const one = await api.get<{ messages: MessageJson[] }>("/v1/topics/Files/messages?key=huge");
  assertEquals(one.body.messages.map((m) => m.messageId), [huge.messageId]);
});

Deno.test("concurrent prepares of one large transaction store one message and leave no other chunks", async () => {
  await using api = await filesApi();
  const request = { transactionId: "big-tx", bodyBase64: encodeBase64(bytes(MAX_BODY_BYTES, 19)) };
  const answers = await Promise.all(
    [0, 1, 2].map(() => api.post<TransactionResultJson>("/v1/topics/Files/transactions", request)),
  );
  assertEquals(answers.map((a) => a.status).sort(), [200, 200, 201]);
  assertEquals(new Set(answers.map((a) => a.body.messageId)).size, 1);
  assertEquals(await count(api.kv, ["body"]), 64, "only the winner's chunks are kept");
  assertEquals(
    await count(api.kv, keys.uploads()),
    0,
    "the others discarded their uploads at once",
  );
});

Deno.test("the SDK publishes a 4 MiB body (retry-safe with its dedupId) and receives it intact", async () => {
  await using live = await startBroker();
  const { client } = live;
  await client.createTopic("Files");
  await client.putGroup("archive", { subscriptions: [{ topic: "Files" }] });
  const body = bytes(MAX_BODY_BYTES, 23);
  const message = { dedupId: "sdk-scan", bodyBase64: encodeBase64(body) };
  const first = await client.publish("Files", message);
  const again = await client.publish("Files", message);
  assertEquals(again.messageId, first.messageId);
  assertEquals(again.duplicate, true);
  const [got, ...rest] = await client.receive("archive", { max: 32 });
  assertEquals(rest, []);
  assertEquals(decodeBase64(got!.bodyBase64!), body);
  await client.ack("archive", [got!.receiptHandle]);
});

Deno.test("a message whose upload was collected before its commit is a 503 to send again, not a retry loop", async () => {
  await using api = await filesApi();
  const body = { encoding: "bytes" as const, bytes: bytes(MAX_BODY_BYTES) };
  const staged = await api.broker.uploads.stageIfLarge("slow", body);
  assert(staged);
  await api.broker.uploads.requireStaged(staged, "publish to Files");
  assert(await api.broker.uploads.collect("slow"));
  await assertRejects(
    () => api.broker.uploads.requireStaged(staged, "publish to Files"),
    ContentionError,
    "collected",
  );
  assertEquals(await api.broker.uploads.collect("slow"), false, "collecting twice is harmless");
});
