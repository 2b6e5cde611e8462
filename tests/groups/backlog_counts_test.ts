/**
 * A group's backlog without reading the topic log: the committer counts
 * each topic's entries per tag, a group's cursor carries the counts at its
 * position, and the backlog of a tag subscription is the difference. The
 * log is read only for an SQL92 filter, and for a cursor or a log from
 * before the counts were kept.
 */
import { assert, assertEquals } from "@std/assert";
import type { Cursor } from "../../src/engine/groups/mod.ts";
import { keys } from "../../src/store/keys.ts";
import { openBroker } from "../_support/broker.ts";

const TOPIC = "Accompaniment";
const TAGS = ["Ops", "CS", "Orchestration", undefined] as const;

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a group of the model should count. */
interface ModelGroup {
  readonly name: string;
  readonly wants: (tag: string | undefined) => boolean;
  matching: number;
  readonly received: Set<string>;
}

Deno.test("a tag group's backlog comes from per-tag counts and always equals the messages it has still to receive", async () => {
  await using t = await openBroker();
  const { broker, kv } = t;
  await broker.topics.create(TOPIC);
  const next = random(7);
  const groups: ModelGroup[] = [];
  const addGroup = async (name: string, tags: string, wants: ModelGroup["wants"]) => {
    await broker.groups.put(name, { subscriptions: [{ topic: TOPIC, tags }] });
    groups.push({ name, wants, matching: 0, received: new Set() });
  };
  await addGroup("ops", "Ops", (tag) => tag === "Ops");
  await addGroup(
    "compliance",
    "Ops || Orchestration",
    (tag) => tag === "Ops" || tag === "Orchestration",
  );
  await addGroup("datacenter", "*", () => true);
  for (let round = 0; round < 25; round++) {
    const count = 1 + Math.floor(next() * 12);
    await Promise.all(Array.from({ length: count }, () => {
      const tag = TAGS[Math.floor(next() * TAGS.length)];
      for (const group of groups) if (group.wants(tag)) group.matching++;
      return broker.publisher.publish(TOPIC, { ...(tag ? { tag } : {}), body: { round } });
    }));
    if (round % 6 === 3) {
      // A group created now starts at the end of the log: it owes nothing published before.
      await addGroup(`late-${round}`, "CS || Ops", (tag) => tag === "CS" || tag === "Ops");
    }
    for (const group of groups) {
      if (next() < 0.4) continue;
      const got = await broker.deliveries.receive(group.name, { max: 1 + Math.floor(next() * 8) });
      for (const message of got) group.received.add(message.messageId);
      const acked = got.filter(() => next() < 0.5).map((m) => m.receiptHandle);
      if (acked.length > 0) await broker.deliveries.ack(group.name, acked);
    }
    for (const group of groups) {
      const stats = await broker.groups.stats(group.name);
      assertEquals(
        stats.backlog,
        group.matching - group.received.size,
        `round ${round}, group ${group.name}`,
      );
    }
  }
  // Every cursor kept its counts, so no backlog above was read from the log.
  for (const group of groups) {
    const { id } = await broker.groups.require(group.name);
    const cursor = await kv.get<Cursor>(keys.cursor(id, TOPIC));
    assert(cursor.value?.seen, `cursor of ${group.name} has no counts`);
  }
});

Deno.test("an SQL92 group's backlog is read from the log and matches on properties", async () => {
  await using t = await openBroker();
  const { broker } = t;
  await broker.topics.create(TOPIC);
  await broker.groups.put("big", { subscriptions: [{ topic: TOPIC, sql: "amount > 100" }] });
  for (const amount of [50, 150, 250, 99, 101]) {
    await broker.publisher.publish(TOPIC, {
      tag: "Ops",
      properties: { amount: String(amount) },
      body: 1,
    });
  }
  assertEquals((await broker.groups.stats("big")).backlog, 3);
  await broker.deliveries.receive("big", { max: 2 });
  assertEquals((await broker.groups.stats("big")).backlog, 1);
});

Deno.test("a cursor without counts (made before they were kept) has its backlog read from the log, and keeps routing", async () => {
  await using t = await openBroker();
  const { broker, kv } = t;
  await broker.topics.create(TOPIC);
  await broker.groups.put("ops", { subscriptions: [{ topic: TOPIC, tags: "Ops" }] });
  for (let i = 0; i < 5; i++) {
    await broker.publisher.publish(TOPIC, { tag: i % 2 ? "CS" : "Ops", body: i });
  }
  const { id } = await broker.groups.require("ops");
  const key = keys.cursor(id, TOPIC);
  const cursor = (await kv.get<Cursor>(key)).value!;
  await kv.set(key, { vs: cursor.vs, index: cursor.index });
  assertEquals((await broker.groups.stats("ops")).backlog, 3);
  assertEquals((await broker.deliveries.receive("ops", { max: 2 })).length, 2);
  assertEquals((await broker.groups.stats("ops")).backlog, 1);
  assertEquals((await kv.get<Cursor>(key)).value?.seen, undefined);
});

Deno.test("a group created on a log written before tag counts were kept starts at its end, not its start", async () => {
  await using t = await openBroker();
  const { broker, kv } = t;
  await broker.topics.create(TOPIC);
  for (let i = 0; i < 3; i++) await broker.publisher.publish(TOPIC, { tag: "Ops", body: i });
  // The database as an earlier version left it: a log, and no counts.
  for await (const entry of kv.list({ prefix: keys.tagCounts(TOPIC) })) await kv.delete(entry.key);
  await broker.groups.put("ops", { subscriptions: [{ topic: TOPIC, tags: "Ops" }] });
  for (let i = 0; i < 2; i++) await broker.publisher.publish(TOPIC, { tag: "Ops", body: i });
  assertEquals((await broker.groups.stats("ops")).backlog, 2);
  const got = await broker.deliveries.receive("ops", { max: 10 });
  assertEquals(got.length, 2);
  assertEquals((await broker.groups.stats("ops")).backlog, 0);
});
