/**
 * Races the engine must win: the same change asked twice at once, within one
 * broker (where the group committer may carry both in one commit) and across
 * two brokers on one KV file (two processes, each with its own in-process
 * state: caches, the one-receive-at-a-time queue, its own committer). Each
 * test stands for an optimistic check that `scripts/check_guards.ts` removes
 * to see the test fail.
 *
 * @module
 */
import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import { join } from "@std/path";
import { ConflictError } from "../../src/domain/errors.ts";
import type { ReceivedMessage } from "../../src/domain/wire.ts";
import type { Broker } from "../../src/engine/broker.ts";
import type { Job } from "../../src/engine/jobs/jobs.ts";
import { Scheduler } from "../../src/engine/jobs/scheduler.ts";
import { openBroker, tempKvFile } from "../_support/broker.ts";

/** One broker, or two brokers over two handles of one KV file. */
type Setup = "one broker" | "two brokers";

/** Brokers `a` and `b` (the same broker for "one broker") with topics Trade and Other. */
async function brokers(setup: Setup) {
  await using stack = new AsyncDisposableStack();
  const file = stack.use(await tempKvFile());
  const { broker: a } = stack.use(await openBroker({ kv: { path: file.path } }));
  const { broker: b } = setup === "two brokers"
    ? stack.use(await openBroker({ kv: { path: file.path } }))
    : { broker: a };
  for (const topic of ["Trade", "Other"]) {
    await a.topics.create(topic);
    // Known topics are cached: publishing then reads nothing before it commits, so changes
    // reach the group committer in the order they were started.
    await a.topics.require(topic);
    await b.topics.require(topic);
  }
  const owned = stack.move();
  return { a, b, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}

/** Receives from `group` until nothing is left, acking nothing; returns the message ids. */
async function receiveAll(broker: Broker, group: string): Promise<string[]> {
  const ids: string[] = [];
  for (let round = 0; round < 1_000; round++) {
    const messages = await broker.deliveries.receive(group, { max: 256 });
    if (messages.length === 0) return ids;
    ids.push(...messages.map((m) => m.messageId));
  }
  throw new Error("Cannot receive everything: still receiving after 1,000 rounds");
}

/**
 * Runs `consumers` receive loops on each broker at once, each taking `max`
 * messages a time until a receive finds nothing; returns every message handed out.
 */
async function receiveFromBoth(
  brokers: readonly Broker[],
  group: string,
  options: { consumers: number; max: number },
): Promise<ReceivedMessage[]> {
  const received: ReceivedMessage[] = [];
  const loop = async (broker: Broker) => {
    for (let round = 0; round < 1_000; round++) {
      const messages = await broker.deliveries.receive(group, { max: options.max });
      if (messages.length === 0) return;
      received.push(...messages);
    }
    throw new Error("Cannot receive everything: still receiving after 1,000 rounds");
  };
  await Promise.all(
    brokers.flatMap((broker) => Array.from({ length: options.consumers }, () => loop(broker))),
  );
  return received;
}

/**
 * A change that reaches broker `a`'s group committer first and is committed
 * alone, so that the changes started with it queue behind it and share the
 * next commit (an idle committer commits its first change at once).
 */
function headOfQueue(t: { a: Broker }): Promise<unknown> {
  return t.a.publisher.publish("Other", { body: "head of the queue" });
}

/** Ids that occur more than once. */
function repeated(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => seen.has(id) || !seen.add(id));
}

for (const setup of ["one broker", "two brokers"] as const) {
  Deno.test(`${setup}: a commit and a rollback of one transaction at once: one wins, the other is a 409, and a rolled-back message is never delivered`, async () => {
    await using t = await brokers(setup);
    await t.a.groups.put("audit", { subscriptions: [{ topic: "Trade" }] });
    const committed = new Set<string>();
    for (let round = 0; round < 5; round++) {
      const [head, ...views] = await Promise.all(
        Array.from({ length: 21 }, (_, i) => t.a.transactions.prepare("Trade", { body: i })),
      );
      // The head's commit goes alone; the forty decisions queue behind it, for one commit.
      const [, outcomes] = await Promise.all([
        t.a.transactions.decide(head!.view.transactionId, "commit"),
        Promise.all(views.map(({ view }) =>
          Promise.allSettled([
            t.a.transactions.decide(view.transactionId, "commit"),
            t.b.transactions.decide(view.transactionId, "rollback"),
          ])
        )),
      ]);
      committed.add(head!.view.messageId);
      for (const [i, [commit, rollback]] of outcomes.entries()) {
        const { transactionId, messageId } = views[i]!.view;
        const won = [commit, rollback].filter((o) => o.status === "fulfilled");
        const lost = [commit, rollback].filter((o) => o.status === "rejected");
        assertEquals(won.length, 1, `${transactionId}: both or neither decision won`);
        const reason = (lost[0] as PromiseRejectedResult).reason;
        assertInstanceOf(reason, ConflictError);
        assertEquals(reason.status, 409);
        const state = (await t.b.transactions.get(transactionId)).state;
        assertEquals(state, commit.status === "fulfilled" ? "committed" : "rolledBack");
        if (state === "committed") committed.add(messageId);
      }
    }
    const delivered = [...await receiveAll(t.a, "audit"), ...await receiveAll(t.b, "audit")];
    assertEquals(new Set(delivered), committed, "a rolled-back message was delivered");
    const counts = (await t.a.topics.view("Trade")).counts;
    assertEquals(counts.committed + counts.rolledBack, 105);
    assertEquals(counts.published, committed.size);
  });

  Deno.test(`${setup}: two prepares of one transaction id at once store one half message`, async () => {
    await using t = await brokers(setup);
    for (const content of ["the same content", "other content"] as const) {
      const ids = Array.from({ length: 20 }, (_, i) => `${content}-${i}`);
      const [, outcomes] = await Promise.all([
        headOfQueue(t),
        Promise.all(ids.map((transactionId) =>
          Promise.allSettled([
            t.a.transactions.prepare("Trade", { transactionId, body: 1 }),
            t.b.transactions.prepare("Trade", {
              transactionId,
              body: content === "the same content" ? 1 : 2,
            }),
          ])
        )),
      ]);
      for (const [i, pair] of outcomes.entries()) {
        const created = pair.flatMap((o) => o.status === "fulfilled" && o.value.created ? [o] : []);
        assertEquals(created.length, 1, `${ids[i]}: created twice or not at all`);
        const other = pair.find((o) => o !== created[0])!;
        if (content === "the same content") {
          assert(other.status === "fulfilled", `${ids[i]}: the retry failed`);
          assertEquals(other.value.view.messageId, created[0]!.value.view.messageId);
        } else {
          assert(other.status === "rejected", `${ids[i]}: other content took the id`);
          assertInstanceOf(other.reason, ConflictError);
        }
      }
    }
    assertEquals((await t.a.topics.view("Trade")).counts.prepared, 40);
  });

  Deno.test(`${setup}: two publishes with one dedupId at once store one message`, async () => {
    await using t = await brokers(setup);
    await t.a.groups.put("audit", { subscriptions: [{ topic: "Trade" }] });
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      Promise.all([
        t.a.publisher.publish("Trade", { dedupId: `order-${i}`, body: i }),
        t.b.publisher.publish("Trade", { dedupId: `order-${i}`, body: i }),
      ])));
    for (const [i, [first, second]] of outcomes.entries()) {
      assertEquals(first.messageId, second.messageId, `order-${i} stored twice`);
      assertEquals([first.duplicate, second.duplicate].filter(Boolean).length, 1);
    }
    assertEquals((await t.a.topics.view("Trade")).counts.published, 20);
    assertEquals((await receiveAll(t.b, "audit")).length, 20);
  });

  Deno.test(`${setup}: two puts creating one group at once create it once`, async () => {
    await using t = await brokers(setup);
    for (let i = 0; i < 10; i++) {
      const name = `g${i}`;
      // Other topics, so that no check on a new position keeps the two apart.
      const results = await Promise.all([
        t.a.groups.put(name, { subscriptions: [{ topic: "Trade" }] }),
        t.b.groups.put(name, { subscriptions: [{ topic: "Other" }] }),
      ]);
      assertEquals(results.filter((r) => r.created).length, 1, `${name} created twice`);
      // The other put found the group made and updated it: its record is the one stored.
      assertEquals(await t.a.groups.require(name), results.find((r) => !r.created)!.group);
    }
  });
}

Deno.test("two brokers receiving from one group at once never hand out a message twice within its visibility timeout", async () => {
  await using t = await brokers("two brokers");
  await t.a.groups.put("audit", { subscriptions: [{ topic: "Trade" }] });
  const published: string[] = [];
  for (let i = 0; i < 200; i++) {
    published.push((await t.a.publisher.publish("Trade", { body: i })).messageId);
  }
  const received = await receiveFromBoth([t.a, t.b], "audit", { consumers: 3, max: 5 });
  const ids = received.map((m) => m.messageId);
  assertEquals(repeated(ids), [], "handed out twice");
  assertEquals(new Set(ids), new Set(published));
});

Deno.test("two brokers receiving due retries at once never hand out a retry twice", async () => {
  await using t = await brokers("two brokers");
  await t.a.groups.put("audit", { subscriptions: [{ topic: "Trade" }] });
  for (let i = 0; i < 100; i++) await t.a.publisher.publish("Trade", { body: i });
  const first = await receiveFromBoth([t.a], "audit", { consumers: 1, max: 50 });
  assertEquals(first.length, 100);
  const nacked = await t.a.deliveries.nack("audit", first.map((m) => m.receiptHandle), 0);
  assertEquals(nacked.settled, 100);
  const retries = await receiveFromBoth([t.a, t.b], "audit", { consumers: 3, max: 5 });
  const ids = retries.map((m) => m.messageId);
  assertEquals(repeated(ids), [], "retried twice");
  assertEquals(new Set(ids), new Set(first.map((m) => m.messageId)));
  assert(retries.every((m) => m.attempt === 2));
});

Deno.test("two brokers on an ordered group: one message of a message group in flight at a time, each in publish order, none left behind", async () => {
  await using t = await brokers("two brokers");
  await t.a.groups.put("fulfil", { subscriptions: [{ topic: "Trade" }], ordered: true });
  const GROUPS = 8;
  const PER_GROUP = 25;
  const total = GROUPS * PER_GROUP;
  const published = new Map<string, string[]>();
  const delivered = new Map<string, string[]>();
  const inFlight = new Map<string, string>();
  let done = 0;
  let publishing = true;
  const publish = async () => {
    for (let i = 0; i < PER_GROUP; i++) {
      for (let g = 0; g < GROUPS; g++) {
        const messageGroup = `customer-${g}`;
        const broker = (i + g) % 2 === 0 ? t.a : t.b;
        const { messageId } = await broker.publisher.publish("Trade", { messageGroup, body: i });
        published.set(messageGroup, [...published.get(messageGroup) ?? [], messageId]);
      }
    }
    publishing = false;
  };
  const consume = async (broker: Broker) => {
    // Ends when everything came, or after many empty receives in a row once publishing is over.
    for (let idle = 0; done < total && idle < 200;) {
      const messages = await broker.deliveries.receive("fulfil", { max: 8 });
      idle = messages.length === 0 && !publishing ? idle + 1 : 0;
      for (const m of messages) {
        const group = m.messageGroup!;
        const holder = inFlight.get(group);
        assertEquals(holder, undefined, `${group}: ${m.messageId} delivered while ${holder} is`);
        inFlight.set(group, m.messageId);
        delivered.set(group, [...delivered.get(group) ?? [], m.messageId]);
      }
      if (messages.length === 0) continue;
      // Out of flight as the ack is sent: the broker cannot hand over before it has it, so a
      // message seen in flight here was in flight there (the ack's answer may come back after
      // the next message of its group was handed to the other broker).
      for (const m of messages) inFlight.delete(m.messageGroup!);
      // A handle in flight settles even while the other broker moves the lock it releases.
      const { failed } = await broker.deliveries.ack(
        "fulfil",
        messages.map((m) => m.receiptHandle),
      );
      assertEquals(failed, []);
      done += messages.length;
    }
  };
  await Promise.all([publish(), consume(t.a), consume(t.b)]);
  for (const [group, ids] of published) {
    assertEquals(delivered.get(group), ids, `${group}: out of order or left behind`);
  }
  assertEquals(done, total);
});

Deno.test("two schedulers on one KV file never run one job twice, nor at once", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "jobs.kv");
  const kvA = await Deno.openKv(path);
  const kvB = await Deno.openKv(path);
  const runs: number[] = [];
  const running = new Set<number>();
  const overlaps: number[] = [];
  const handler = async (job: Job) => {
    if (job.kind !== "checkBackDue") return;
    if (running.has(job.check)) overlaps.push(job.check);
    running.add(job.check);
    runs.push(job.check);
    await new Promise((resolve) => setTimeout(resolve, 2));
    running.delete(job.check);
  };
  const a = new Scheduler(kvA, handler, { mode: "sweep" });
  const b = new Scheduler(kvB, handler, { mode: "sweep" });
  try {
    for (let round = 0; round < 3; round++) {
      runs.length = 0;
      const op = kvA.atomic();
      for (let i = 0; i < 100; i++) {
        a.schedule(op, { kind: "checkBackDue", transactionId: "t", check: i }, Date.now());
      }
      assert((await op.commit()).ok);
      await Promise.all([a.runDue(), b.runDue()]);
      assertEquals(overlaps, [], "a job ran in two schedulers at once");
      assertEquals(repeated(runs.map(String)), [], "a job ran twice");
      assertEquals(runs.length, 100);
    }
  } finally {
    await a.stop();
    await b.stop();
    kvA.close();
    kvB.close();
    await Deno.remove(dir, { recursive: true });
  }
});
