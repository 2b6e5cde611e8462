/**
 * Large bodies in the store: staged in commits of their own, made part of a
 * message only by the record's commit, and discarded (chunks and upload
 * entry) when their message never committed, never when it did.
 *
 * @module
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { MAX_BODY_BYTES } from "../../src/domain/names.ts";
import type { EncodedBody } from "../../src/domain/body.ts";
import { keys } from "../../src/store/keys.ts";
import {
  BODY_CHUNK_SIZE,
  CHUNKS_PER_COMMIT,
  discardUpload,
  isStaged,
  type MessageFields,
  needsStaging,
  readBody,
  readMessage,
  stageBody,
  writeMessage,
} from "../../src/store/message_store.ts";
import { bytes } from "../http/_helpers.ts";

function fields(messageId: string): MessageFields {
  return { messageId, topic: "T", keys: [], properties: {}, storedAt: 0 };
}

function largeBody(size = MAX_BODY_BYTES): EncodedBody {
  return { encoding: "bytes", bytes: bytes(size, 7) };
}

async function count(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  return (await Array.fromAsync(kv.list({ prefix }))).length;
}

Deno.test("a 4 MiB body is staged in commits of at most 10 chunks and is part of no message until the record commits", async () => {
  using kv = await Deno.openKv(":memory:");
  const body = largeBody();
  assert(needsStaging(body));
  const progress: number[] = [];
  const staged = await stageBody(kv, "m1", body, {
    afterCommit: async (stored) => {
      progress.push(stored);
      assertEquals(await readMessage(kv, "m1"), undefined, "no record while staging");
    },
  });
  assertEquals(progress, [10, 20, 30, 40, 50, 60, 64]);
  assertEquals(staged.chunks, MAX_BODY_BYTES / BODY_CHUNK_SIZE);
  assertEquals(await count(kv, keys.bodyChunks("m1")), 64);
  assertEquals(await count(kv, keys.uploads()), 1);
  assert(await isStaged(kv, staged));

  const op = kv.atomic();
  const record = writeMessage(op, fields("m1"), body, staged);
  assert((await op.commit()).ok);
  assertEquals(record.bodyChunks, 64);
  assertEquals(record.inlineBody, undefined);
  assertEquals(await count(kv, keys.uploads()), 0, "the record's commit ends the upload");
  assertEquals(await readBody(kv, (await readMessage(kv, "m1"))!), body.bytes);
  assertEquals(CHUNKS_PER_COMMIT, 10);
});

Deno.test("writeMessage() refuses a large body that was not staged for that message", async () => {
  using kv = await Deno.openKv(":memory:");
  const body = largeBody(300 * 1024);
  assertThrows(() => writeMessage(kv.atomic(), fields("m1"), body), TypeError, "not staged");
  const staged = await stageBody(kv, "m1", body);
  assertThrows(() => writeMessage(kv.atomic(), fields("m2"), body, staged), TypeError);
});

Deno.test("the record's commit fails once its upload was collected, and the collection left no chunk", async () => {
  using kv = await Deno.openKv(":memory:");
  const body = largeBody();
  const staged = await stageBody(kv, "m1", body);
  assert(await discardUpload(kv, "m1"));
  assertEquals(await count(kv, keys.bodyChunks("m1")), 0);
  assertEquals(await count(kv, keys.uploads()), 0);
  assertEquals(await isStaged(kv, staged), false);
  const op = kv.atomic();
  writeMessage(op, fields("m1"), body, staged);
  assertEquals((await op.commit()).ok, false, "a message whose chunks are gone never commits");
  assertEquals(await readMessage(kv, "m1"), undefined);
});

Deno.test("discardUpload() leaves the body of a message that committed alone", async () => {
  using kv = await Deno.openKv(":memory:");
  const body = largeBody();
  const staged = await stageBody(kv, "m1", body);
  const op = kv.atomic();
  writeMessage(op, fields("m1"), body, staged);
  assert((await op.commit()).ok);
  assertEquals(await discardUpload(kv, "m1"), false);
  assertEquals(await discardUpload(kv, "m1", staged), false);
  assertEquals(await readBody(kv, (await readMessage(kv, "m1"))!), body.bytes);
});

Deno.test("discardUpload() with a staged body only discards that very upload", async () => {
  using kv = await Deno.openKv(":memory:");
  const body = largeBody(600 * 1024);
  const first = await stageBody(kv, "m1", body);
  assert(await discardUpload(kv, "m1", first));
  const second = await stageBody(kv, "m1", body);
  assertEquals(await discardUpload(kv, "m1", first), false, "an older upload's handle");
  assert(await isStaged(kv, second));
  assertEquals(await count(kv, keys.bodyChunks("m1")), 10);
});

Deno.test("readBody() refuses a record whose chunks do not add up instead of returning zeros", async () => {
  using kv = await Deno.openKv(":memory:");
  const body = largeBody(200 * 1024);
  const op = kv.atomic();
  const record = writeMessage(op, fields("m1"), body);
  assert((await op.commit()).ok);
  await kv.delete(keys.bodyChunk("m1", 3));
  await assertRejects(() => readBody(kv, record), TypeError, "3 chunks");
});
