import { assertEquals, assertThrows } from "@std/assert";
import { messagePadding } from "../../../src/bench/http_client.ts";
import {
  natsDurablesOf,
  natsPayload,
  subjectOf,
  tagOfSubject,
} from "../../../src/bench/peers/nats_workload.ts";
import { acceptsTag, FAN_OUT_GROUPS, TAGS } from "../../../src/bench/workload.ts";

/** Whether a NATS filter subject matches a concrete subject (only `>` and exact tokens here). */
function filterMatches(filter: string, subject: string): boolean {
  return filter.endsWith(".>") ? subject.startsWith(filter.slice(0, -1)) : filter === subject;
}

Deno.test("natsDurablesOf() serves compliance with one durable per tag", () => {
  assertEquals(natsDurablesOf({ name: "compliance", tags: "Ops || Orchestration" }), [
    { durable: "compliance-Ops", filterSubject: "acc.Ops" },
    { durable: "compliance-Orchestration", filterSubject: "acc.Orchestration" },
  ]);
  assertEquals(natsDurablesOf({ name: "datacenter", tags: "*" }), [
    { durable: "datacenter", filterSubject: "acc.>" },
  ]);
});

Deno.test("natsDurablesOf() delivers each fan-out group exactly the tags it accepts, once", () => {
  for (const group of FAN_OUT_GROUPS) {
    const durables = natsDurablesOf(group);
    for (const tag of TAGS) {
      const serving = durables.filter((d) => filterMatches(d.filterSubject, subjectOf(tag)));
      assertEquals(serving.length, acceptsTag(group.tags, tag) ? 1 : 0, `${group.name} ${tag}`);
    }
    const names = durables.map((d) => d.durable);
    assertEquals(new Set(names).size, names.length);
    for (const name of names) assertEquals(/^[A-Za-z0-9_-]+$/.test(name), true, name);
  }
});

Deno.test("natsDurablesOf() refuses a group without tags, naming it", () => {
  assertThrows(() => natsDurablesOf({ name: "empty", tags: " || " }), RangeError, "empty");
});

Deno.test("tagOfSubject() reads the tag back from the subject, only inside the stream", () => {
  for (const tag of TAGS) assertEquals(tagOfSubject(subjectOf(tag)), tag);
  assertEquals(tagOfSubject("other.Ops"), undefined);
});

Deno.test("natsPayload() is Escrow's message body, about the configured size", () => {
  const payload = natsPayload(19_999, 1.7e12 + 0.123456, messagePadding(1024));
  assertEquals(JSON.parse(payload).seq, 19_999);
  assertEquals(Math.abs(payload.length - 1024) <= 8, true, `${payload.length} bytes`);
});
