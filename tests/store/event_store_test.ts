/** The event store's contract: append at an expected version, conflicts, replay, limits. */
import { assert, assertEquals, assertFalse, assertThrows } from "@std/assert";
import type { StoredEvent } from "../../src/domain/events.ts";
import { EventStore } from "../../src/store/event_store.ts";
import { BODY_CHUNK_SIZE, readBody, writeMessage } from "../../src/store/message_store.ts";
import { keys } from "../../src/store/keys.ts";
import { WriteSet } from "../../src/store/write_set.ts";

const stream = { kind: "tx", id: "t1" } as const;
const event = (n: number): StoredEvent => ({ type: "Happened", data: { n }, at: n });

Deno.test("append() then read() returns the events in order with the version", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new EventStore(kv);
  assertEquals(await store.read(stream), { events: [], version: 0 });
  assert((await store.append(kv.atomic(), stream, 0, [event(1), event(2)]).commit()).ok);
  assert((await store.append(kv.atomic(), stream, 2, [event(3)]).commit()).ok);
  assertEquals(await store.read(stream), { events: [event(1), event(2), event(3)], version: 3 });
});

Deno.test("append() at a stale version fails the whole commit, side writes included", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new EventStore(kv);
  await store.append(kv.atomic(), stream, 0, [event(1)]).commit();
  const op = store.append(kv.atomic(), stream, 0, [event(99)]).set(["side", "effect"], true);
  assertFalse((await op.commit()).ok);
  assertEquals((await kv.get(["side", "effect"])).versionstamp, null);
  assertEquals((await store.read(stream)).events, [event(1)]);
});

Deno.test("two writers at the same version: exactly one wins", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new EventStore(kv);
  const results = await Promise.all(
    [1, 2, 3, 4].map((n) => store.append(kv.atomic(), stream, 0, [event(n)]).commit()),
  );
  assertEquals(results.filter((r) => r.ok).length, 1);
  assertEquals((await store.read(stream)).version, 1);
});

Deno.test("streams are independent", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new EventStore(kv);
  await store.append(kv.atomic(), stream, 0, [event(1)]).commit();
  await store.append(kv.atomic(), { kind: "tx", id: "t2" }, 0, [event(2)]).commit();
  assertEquals((await store.read({ kind: "tx", id: "t2" })).events, [event(2)]);
  assertEquals((await store.read({ kind: "msg", id: "t1" })).version, 0);
});

Deno.test("append() refuses an empty list of events", async () => {
  using kv = await Deno.openKv(":memory:");
  assertThrows(() => new EventStore(kv).append(kv.atomic(), stream, 0, []), RangeError);
});

Deno.test("a 256 KiB body is stored once as chunks of at most 64 KiB and read back intact", async () => {
  using kv = await Deno.openKv(":memory:");
  const bytes = Uint8Array.from({ length: 256 * 1024 }, (_, i) => (i * 31 + (i >> 8)) & 255);
  const op = kv.atomic();
  const record = writeMessage(op, {
    messageId: "m1",
    topic: "T",
    keys: Array.from({ length: 32 }, (_, i) => `${i}`.padEnd(128, "k")),
    properties: Object.fromEntries(
      Array.from({ length: 128 }, (_, i) => [`p${i}`, "v".repeat(120)]),
    ),
    storedAt: 0,
  }, { encoding: "bytes", bytes });
  assert((await op.commit()).ok);
  assertEquals(record.bodyChunks, 4);
  assertEquals(record.inlineBody, undefined);
  const chunks = await Array.fromAsync(kv.list<Uint8Array>({ prefix: keys.bodyChunks("m1") }));
  assert(chunks.every((c) => c.value.length <= BODY_CHUNK_SIZE));
  assertEquals(await readBody(kv, record), bytes);
});

Deno.test("a small body stays inside the message record", async () => {
  using kv = await Deno.openKv(":memory:");
  const op = kv.atomic();
  const bytes = new TextEncoder().encode('{"a":1}');
  const record = writeMessage(op, {
    messageId: "m2",
    topic: "T",
    keys: [],
    properties: {},
    storedAt: 0,
  }, { encoding: "json", bytes });
  await op.commit();
  assertEquals(record.bodyChunks, 0);
  assertEquals(await readBody(kv, record), bytes);
  assertEquals((await Array.fromAsync(kv.list({ prefix: keys.bodyChunks("m2") }))).length, 0);
});

Deno.test("an append under a batch guard that the operation does not check is refused before anything is written", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new EventStore(kv);
  const event = { type: "MessagePublished", data: { topic: "T" }, at: 1 };
  const unguarded = new WriteSet();
  assertThrows(
    () => store.append(unguarded, { kind: "msg", id: "m1" }, 0, [event], { guardedBy: ["cursor"] }),
    TypeError,
    "does not check",
  );
  assertEquals(unguarded.mutations, 0);
  const guarded = new WriteSet().check({ key: ["cursor"], versionstamp: null });
  store.append(guarded, { kind: "msg", id: "m1" }, 0, [event], { guardedBy: ["cursor"] });
  assertEquals([guarded.checks, guarded.mutations], [1, 1]);
});
