/**
 * The group committer's contract on a real KV: changes that do not clash
 * share a commit; changes that touch what another checks or writes never do,
 * so each change's checks mean what they meant alone; a failing batch is
 * retried change by change; the budget of one commit splits batches.
 *
 * An idle committer commits the first change at once, alone; what is queued
 * while that commit is in flight goes into the next batch. So each test
 * starts with a `head()` change and queues the changes it is about behind it.
 */
import { assert, assertEquals } from "@std/assert";
import { GroupCommitter } from "../../src/store/group_commit.ts";
import { keys } from "../../src/store/keys.ts";
import { WriteSet } from "../../src/store/write_set.ts";
import type { LogEntry } from "../../src/domain/message.ts";

/** The change that occupies the committer, so that what follows is batched. */
const head = () => new WriteSet().set(["head", crypto.randomUUID()], true);

/** A change with `n` sets of distinct keys under `prefix`. */
function manySets(prefix: string, n: number): WriteSet {
  const writes = new WriteSet();
  for (let i = 0; i < n; i++) writes.set([prefix, i], i);
  return writes;
}

/** A change that makes one message visible on `topic`. */
function visible(topic: string, messageId: string, properties: Record<string, string> = {}) {
  const entry: LogEntry = { messageId, properties, publishedAt: 0 };
  return new WriteSet().makeVisible(topic, entry);
}

/** The message ids in a topic's log, in log order. */
async function logOf(kv: Deno.Kv, topic: string): Promise<string[][]> {
  const entries = await Array.fromAsync(kv.list<LogEntry[]>({ prefix: keys.topicLog(topic) }));
  return entries.map((e) => e.value.map((entry) => entry.messageId));
}

Deno.test("changes that do not clash share one commit", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const changes = Array.from(
    { length: 9 },
    (_, i) => new WriteSet().check({ key: ["free", i], versionstamp: null }).set(["n", i], i),
  );
  const results = await Promise.all([head(), ...changes].map((w) => committer.commit(w)));
  assertEquals(results, Array(10).fill(true));
  assertEquals(committer.stats, { commits: 2, changes: 10 });
  const stored = await kv.getMany<number[]>(changes.map((_, i) => ["n", i]));
  assertEquals(stored.map((e) => e.value), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
});

Deno.test("of two changes that check one key at its versionstamp and then set it, exactly one commits", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const racers = ["a", "b"];
  const stamps: string[] = [];
  for (let k = 0; k < 20; k++) {
    stamps.push((await kv.set(["k", k], "start")).versionstamp);
  }
  const changes = stamps.flatMap((versionstamp, k) =>
    racers.map((who) => new WriteSet().check({ key: ["k", k], versionstamp }).set(["k", k], who))
  );
  const [, ...results] = await Promise.all([head(), ...changes].map((w) => committer.commit(w)));
  for (let k = 0; k < 20; k++) {
    const [a, b] = results.slice(2 * k, 2 * k + 2);
    assertEquals([a, b].filter(Boolean).length, 1, `key ${k}: both or neither committed`);
    assertEquals((await kv.get(["k", k])).value, a ? "a" : "b");
  }
});

/**
 * Runs a change that checks `["k"]` at its versionstamp (and writes `["read"]`)
 * together with one that writes `["k"]`, queued in the order given. Separate
 * commits may land in either order (two lanes), but each must mean what it
 * meant alone: the reader commits only before the writer, never with it.
 */
async function readerAndWriter(order: "writer first" | "reader first") {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const { versionstamp } = await kv.set(["k"], "start");
  const writer = new WriteSet().set(["k"], "writer");
  const reader = new WriteSet().check({ key: ["k"], versionstamp }).set(["read"], true);
  const pair = order === "writer first" ? [writer, reader] : [reader, writer];
  const results = await Promise.all([head(), ...pair].map((w) => committer.commit(w)));
  const [wrote, read] = order === "writer first" ? results.slice(1) : results.slice(1).reverse();
  const k = await kv.get(["k"]);
  const readEntry = await kv.get(["read"]);
  assertEquals(wrote, true);
  assertEquals(k.value, "writer");
  if (read) {
    assert(readEntry.versionstamp! < k.versionstamp!, "the reader committed with the writer");
  } else {
    assertEquals(readEntry.versionstamp, null);
  }
}

Deno.test("a change that checks a key an earlier change writes never commits with it", async () => {
  await readerAndWriter("writer first");
});

Deno.test("a change that writes a key an earlier change checks never commits with it", async () => {
  await readerAndWriter("reader first");
});

Deno.test("a failing batch is retried change by change and only the loser reports false", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  await kv.set(["taken"], "someone");
  const before = new WriteSet().set(["a"], 1);
  const loser = new WriteSet().check({ key: ["taken"], versionstamp: null }).set(["l"], 1);
  const after = new WriteSet().set(["c"], 1);
  const results = await Promise.all([head(), before, loser, after].map((w) => committer.commit(w)));
  assertEquals(results, [true, true, false, true]);
  const [a, l, c] = await kv.getMany([["a"], ["l"], ["c"]]);
  assertEquals([a.value, l.versionstamp, c.value], [1, null, 1]);
  assertEquals(committer.stats, { commits: 3, changes: 3 });
});

Deno.test("changes over 900 mutations together go in separate commits", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const changes = [head(), manySets("a", 460), manySets("b", 460)];
  const results = await Promise.all(changes.map((w) => committer.commit(w)));
  assertEquals(results, [true, true, true]);
  assertEquals(committer.stats, { commits: 3, changes: 3 });
});

Deno.test("changes over 90 checks together go in separate commits", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const checking = (prefix: string) => {
    const writes = new WriteSet().set([prefix, "done"], true);
    for (let i = 0; i < 46; i++) writes.check({ key: [prefix, i], versionstamp: null });
    return writes;
  };
  const results = await Promise.all(
    [head(), checking("a"), checking("b")].map((w) => committer.commit(w)),
  );
  assertEquals(results, [true, true, true]);
  assertEquals(committer.stats, { commits: 3, changes: 3 });
});

Deno.test("changes over 700 KiB together go in separate commits", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const heavy = (prefix: string) => {
    const writes = new WriteSet();
    for (let i = 0; i < 6; i++) writes.set([prefix, i], new Uint8Array(60 * 1024));
    return writes;
  };
  const results = await Promise.all(
    [head(), heavy("a"), heavy("b")].map((w) => committer.commit(w)),
  );
  assertEquals(results, [true, true, true]);
  assertEquals(committer.stats, { commits: 3, changes: 3 });
});

Deno.test("each tag a batch counts is one of its mutations: 600 messages with 600 tags commit in a few batches, not one by one", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const tagged = (i: number) => {
    const entry: LogEntry = { messageId: `m${i}`, tag: `t${i}`, properties: {}, publishedAt: 0 };
    return new WriteSet().set(["message", i], i).makeVisible("T", entry);
  };
  const changes = [head(), ...Array.from({ length: 600 }, (_, i) => tagged(i))];
  assert((await Promise.all(changes.map((w) => committer.commit(w)))).every(Boolean));
  // Uncounted, the 600 changes make one batch of 1,203 mutations, which KV refuses; they
  // then commit one by one.
  assert(committer.stats.commits <= 4, `${committer.stats.commits} commits`);
  const counts = await Array.fromAsync(kv.list<Deno.KvU64>({ prefix: keys.tagCounts("T") }));
  assertEquals(counts.length, 600);
  assert(counts.every((c) => c.value.value === 1n));
});

Deno.test("messages over 56 KiB for one topic's log entry go in separate commits", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const big = { p: "x".repeat(15_000) };
  const results = await Promise.all(
    [head(), visible("T", "m1", big), visible("T", "m2", big)].map((w) => committer.commit(w)),
  );
  assertEquals(results, [true, true, true]);
  assertEquals((await logOf(kv, "T")).sort(), [["m1"], ["m2"]]);
});

Deno.test("messages on one topic share one log entry, in queue order", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const changes = [visible("T", "m0"), visible("T", "m1"), visible("T", "m2"), visible("T", "m3")];
  assert((await Promise.all(changes.map((w) => committer.commit(w)))).every(Boolean));
  assertEquals(await logOf(kv, "T"), [["m0"], ["m1", "m2", "m3"]]);
});

Deno.test("a change that does not fit ends the batch: the changes queued after it wait for the next one", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const withSets = (messageId: string, n: number) => {
    const writes = visible("T", messageId);
    for (let i = 0; i < n; i++) writes.set([messageId, i], i);
    return writes;
  };
  const changes = [head(), withSets("a", 460), withSets("b", 460), withSets("c", 1)];
  assert((await Promise.all(changes.map((w) => committer.commit(w)))).every(Boolean));
  assertEquals((await logOf(kv, "T")).sort(), [["a"], ["b", "c"]]);
});

Deno.test("a change KV refuses fails alone, with a 4xx error; the changes batched with it commit", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const good = Array.from({ length: 40 }, (_, i) => new WriteSet().set(["good", i], i));
  const tooLarge = new WriteSet().set(["poison", "value"], "x".repeat(70_000));
  const badKey = new WriteSet().set(["poison", "k".repeat(3_000)], 1);
  const outcomes = await Promise.allSettled(
    [head(), ...good.slice(0, 20), tooLarge, ...good.slice(20), badKey].map((w) =>
      committer.commit(w)
    ),
  );
  const [, ...rest] = outcomes;
  const poisoned = [rest[20]!, rest[41]!];
  const fine = rest.filter((_, i) => i !== 20 && i !== 41);
  assertEquals(fine.map((o) => o.status === "fulfilled" && o.value), Array(40).fill(true));
  assertEquals(
    poisoned.map((o) => o.status === "rejected" && [o.reason.constructor.name, o.reason.status]),
    [["PayloadTooLargeError", 413], ["ValidationError", 400]],
  );
  const stored = await Array.fromAsync(kv.list<number>({ prefix: ["good"] }));
  assertEquals(stored.map((e) => e.value), Array.from({ length: 40 }, (_, i) => i));
  assertEquals((await Array.fromAsync(kv.list({ prefix: ["poison"] }))).length, 0);
  assert(committer.stats.commits > 2, "the refused batch was retried change by change");
});
