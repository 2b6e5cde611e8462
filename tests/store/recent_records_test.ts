/**
 * The memory of lately committed message records: bounded by bytes, the
 * oldest forgotten first, a record remembered twice counted once.
 */
import { assertEquals } from "@std/assert";
import type { MessageRecord } from "../../src/domain/message.ts";
import { RecentRecords } from "../../src/store/recent_records.ts";

function record(messageId: string, bodyBytes: number): MessageRecord {
  return {
    messageId,
    topic: "Trade",
    keys: [],
    properties: {},
    bodyEncoding: "json",
    inlineBody: new Uint8Array(bodyBytes),
    bodyChunks: 0,
    bodySize: bodyBytes,
    storedAt: 0,
  };
}

Deno.test("recent records: past the byte bound the oldest are forgotten, the newest kept", () => {
  // Each record counts as its 744 body bytes and 256 of overhead: 1,000 bytes, 4 fit.
  const recent = new RecentRecords(4_000);
  for (const id of ["m1", "m2", "m3"]) recent.remember(record(id, 744));
  recent.remember(record("m4", 744));
  recent.remember(record("m5", 744));
  assertEquals(recent.size, 4);
  assertEquals(recent.get("m1"), undefined);
  assertEquals(["m2", "m3", "m4", "m5"].map((id) => recent.get(id)?.messageId), [
    "m2",
    "m3",
    "m4",
    "m5",
  ]);
});

Deno.test("recent records: a record remembered again is counted once", () => {
  const recent = new RecentRecords(2_000);
  const first = record("m1", 744);
  recent.remember(first);
  recent.remember(first);
  recent.remember(first);
  recent.remember(record("m2", 744));
  // Counted twice, m1 would have pushed the total past the bound and been forgotten.
  assertEquals(recent.get("m1"), first);
  assertEquals(recent.size, 2);
});

Deno.test("recent records: a record larger than the whole bound is not kept", () => {
  const recent = new RecentRecords(1_000);
  recent.remember(record("big", 5_000));
  assertEquals(recent.get("big"), undefined);
  assertEquals(recent.size, 0);
});

Deno.test("recent records: remembered one by one for long, it keeps exactly the newest that fit", () => {
  // 10 records of 1,000 bytes fit; 5,000 pass through, past the queue's compaction.
  const recent = new RecentRecords(10_000);
  for (let i = 0; i < 5_000; i++) recent.remember(record(`m${i}`, 744));
  assertEquals(recent.size, 10);
  assertEquals(recent.get("m4989"), undefined);
  assertEquals(recent.get("m4990")?.messageId, "m4990");
  assertEquals(recent.get("m4999")?.messageId, "m4999");
});
