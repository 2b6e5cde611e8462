/**
 * Delivery across a crash: the broker runs as a child process (`main.ts` on
 * a KV file) with pull groups being consumed over HTTP and a push group
 * POSTing to an endpoint in this process; it is killed with SIGKILL while
 * receives, acks and pushes are in flight, and a new process on the same
 * file must finish the job. Every group ends up with every committed message
 * it matches (duplicates allowed and counted), and never one from a
 * rolled-back transaction.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { delay } from "@std/async/delay";
import { join } from "@std/path/join";
import { BrokerProcess, EscrowApi, waitFor } from "./_process.ts";
import { PushReceiver } from "./_support/push_receiver.ts";

/** What a test message carries that the groups route on. */
interface Sent {
  readonly tag: "vip" | "bulk" | "std";
  readonly region: "SH" | "BJ";
}

/** The consumer groups, how they subscribe, and which messages they must get. */
const PULL_GROUPS = {
  all: { subscription: { topic: "Orders" }, wants: (_: Sent) => true },
  vip: { subscription: { topic: "Orders", tags: "vip" }, wants: (m: Sent) => m.tag === "vip" },
  shanghai: {
    subscription: { topic: "Orders", sql: "region = 'SH'" },
    wants: (m: Sent) => m.region === "SH",
  },
} as const;
type PullGroup = keyof typeof PULL_GROUPS;
const PUSH_GROUP = "hooks";
const pushWants = (m: Sent) => m.tag === "vip" || m.tag === "bulk";

/** Retries quick enough for the test, and enough of them that nothing is dead-lettered. */
const RETRIES = { retryDelaysSeconds: [0.2], maxRetries: 30 };

interface WireJson {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly attempt: number;
  readonly properties: Record<string, string>;
}

interface GroupJson {
  readonly backlog: number;
  readonly inFlight: number;
  readonly retrying: number;
  readonly deadLettered: number;
  readonly acked: number;
}

const sentFor = (i: number): Sent => ({
  tag: (["vip", "bulk", "std"] as const)[i % 3]!,
  region: i % 2 === 0 ? "SH" : "BJ",
});

/** A pull consumer over HTTP: receives with a 1 s visibility timeout and acks as told. */
class Consumer {
  /** How many times each message was received. */
  readonly received = new Map<string, number>();
  /** Messages whose ack was answered as settled. */
  readonly acked = new Set<string>();
  readonly group: PullGroup;

  constructor(group: PullGroup) {
    this.group = group;
  }

  get deliveries(): number {
    let n = 0;
    for (const times of this.received.values()) n += times;
    return n;
  }

  /**
   * Receives and acks until `signal` aborts; `shouldAck` picks what to ack.
   * A request that fails once `brokerGone()` holds ends the loop quietly.
   */
  async run(
    api: EscrowApi,
    signal: AbortSignal,
    shouldAck: (message: WireJson) => boolean,
    brokerGone: () => boolean,
  ): Promise<void> {
    while (!signal.aborted) {
      try {
        const res = await api.request<{ messages: WireJson[] }>(
          "POST",
          `/v1/groups/${this.group}/receive`,
          { max: 8, waitSeconds: 0.5, visibilityTimeoutSeconds: 1 },
        );
        assertEquals(res.status, 200, JSON.stringify(res.body));
        const toAck: WireJson[] = [];
        for (const message of res.body.messages) {
          this.received.set(message.messageId, (this.received.get(message.messageId) ?? 0) + 1);
          if (shouldAck(message)) toAck.push(message);
        }
        if (toAck.length === 0) continue;
        const ack = await api.request<{ acked: number; failed: { receiptHandle: string }[] }>(
          "POST",
          `/v1/groups/${this.group}/ack`,
          { receiptHandles: toAck.map((m) => m.receiptHandle) },
        );
        assertEquals(ack.status, 200, JSON.stringify(ack.body));
        const failed = new Set(ack.body.failed.map((f) => f.receiptHandle));
        for (const m of toAck) if (!failed.has(m.receiptHandle)) this.acked.add(m.messageId);
      } catch (error) {
        if (brokerGone()) return;
        throw error;
      }
    }
  }
}

/** Runs `fn` with `count` calls at most `width` at a time. */
async function inParallel(count: number, width: number, fn: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < count) await fn(next++);
  }));
}

/** What the test published and decided, as it learns the message ids. */
class Ledger {
  readonly committed = new Map<string, Sent>();
  readonly rolledBack = new Set<string>();
  /** Transactions left open across the crash, with the decision they get after it. */
  readonly undecided = new Map<string, { messageId: string; sent: Sent; commit: boolean }>();

  /** The committed messages a group subscribing with `wants` must get. */
  expected(wants: (m: Sent) => boolean): Set<string> {
    return new Set([...this.committed].filter(([, sent]) => wants(sent)).map(([id]) => id));
  }
}

/** Publishes messages `from` to `to - 1` (the i-th gets `sentFor(i)`). */
async function publishRange(api: EscrowApi, ledger: Ledger, from: number, to: number) {
  await inParallel(to - from, 8, async (n) => {
    const i = from + n;
    const sent = sentFor(i);
    const res = await api.request<{ messageId: string }>("POST", "/v1/topics/Orders/messages", {
      tag: sent.tag,
      keys: [`m-${i}`],
      properties: { region: sent.region, i: String(i) },
      body: { i },
    });
    assertEquals(res.status, 201, JSON.stringify(res.body));
    ledger.committed.set(res.body.messageId, sent);
  });
}

/** The topic, the groups, 200 messages and 30 transactions (20 decided, 10 left open). */
async function setUpAndPublish(api: EscrowApi, ledger: Ledger, pushUrl: string): Promise<void> {
  await api.createTopic("Orders");
  for (const [group, { subscription }] of Object.entries(PULL_GROUPS)) {
    const res = await api.request("PUT", `/v1/groups/${group}`, {
      subscriptions: [subscription],
      visibilityTimeoutSeconds: 1,
      ...RETRIES,
    });
    assertEquals(res.status, 201, JSON.stringify(res.body));
  }
  const push = await api.request("PUT", `/v1/groups/${PUSH_GROUP}`, {
    subscriptions: [{ topic: "Orders", tags: "vip || bulk" }],
    delivery: { mode: "push", url: pushUrl, timeoutSeconds: 1, maxConcurrency: 4 },
    ...RETRIES,
  });
  assertEquals(push.status, 201, JSON.stringify(push.body));
  await publishRange(api, ledger, 0, 200);
  for (let k = 0; k < 30; k++) {
    const sent = sentFor(k);
    const prepared = await api.prepare("Orders", {
      tag: sent.tag,
      keys: [`tx-${k}`],
      properties: { region: sent.region, i: String(1000 + k) },
      body: { k },
      checkAfterSeconds: 3600, // no check-back during the test
    });
    if (k >= 20) {
      ledger.undecided.set(prepared.transactionId, {
        messageId: prepared.messageId,
        sent,
        commit: k < 25,
      });
      continue;
    }
    const res = await api.decide(prepared.transactionId, k < 10 ? "commit" : "rollback");
    assertEquals(res.status, 200, JSON.stringify(res.body));
    if (k < 10) ledger.committed.set(prepared.messageId, sent);
    else ledger.rolledBack.add(prepared.messageId);
  }
}

/**
 * Consumes every pull group, acking half the messages (i mod 4 is 0 or 1)
 * and whatever comes back a second time, and kills the broker with SIGKILL
 * once the push group is some 40 requests in and each pull group has had 20
 * deliveries: receives, acks and pushes are then in flight.
 */
async function consumeThenKill(
  broker: BrokerProcess,
  consumers: readonly Consumer[],
  receiver: PushReceiver,
): Promise<void> {
  const api = new EscrowApi(broker.url);
  let killing = false;
  const stop = new AbortController();
  const loops = consumers.map((consumer) =>
    consumer.run(
      api,
      stop.signal,
      (m) => Math.floor(Number(m.properties.i) / 2) % 2 === 0 || m.attempt > 1,
      () => killing,
    )
  );
  try {
    await waitFor(
      () =>
        Promise.resolve({
          pushed: receiver.calls.length,
          pulled: consumers.map((c) => c.deliveries),
          exited: broker.exited,
        }),
      ({ pushed, pulled, exited }) => exited || (pushed >= 40 && pulled.every((n) => n >= 20)),
      { timeoutMs: 15_000, intervalMs: 10, what: "deliveries under way" },
    );
    assert(!broker.exited, `the broker exited by itself:\n${broker.output}`);
    killing = true;
    const status = await broker.kill("SIGKILL");
    assertEquals(status.signal, "SIGKILL", `the broker died otherwise:\n${broker.output}`);
  } finally {
    killing = true;
    stop.abort();
    await Promise.all(loops);
  }
}

/**
 * Receives and acks everything until every group has been handed every
 * message it must get and the broker counts nothing in flight, retrying or
 * waiting for any group.
 */
async function consumeToTheEnd(
  api: EscrowApi,
  ledger: Ledger,
  consumers: readonly Consumer[],
  receiver: PushReceiver,
): Promise<void> {
  const stop = new AbortController();
  const loops = consumers.map((consumer) =>
    consumer.run(api, stop.signal, () => true, () => false)
  );
  const targets = [
    ...consumers.map((c) => ({
      group: c.group as string,
      wants: PULL_GROUPS[c.group].wants as (m: Sent) => boolean,
      seen: () => new Set(c.received.keys()),
    })),
    { group: PUSH_GROUP, wants: pushWants, seen: () => pushedIds(receiver) },
  ];
  try {
    await waitFor(
      async () => {
        const missing: Record<string, number> = {};
        const unsettled: Record<string, GroupJson> = {};
        for (const { group, wants, seen } of targets) {
          const got = seen();
          missing[group] = [...ledger.expected(wants)].filter((id) => !got.has(id)).length;
          const { body } = await api.request<GroupJson>("GET", `/v1/groups/${group}`);
          if (body.backlog + body.inFlight + body.retrying > 0) unsettled[group] = body;
        }
        return { missing, unsettled };
      },
      ({ missing, unsettled }) =>
        Object.values(missing).every((n) => n === 0) && Object.keys(unsettled).length === 0,
      { timeoutMs: 30_000, intervalMs: 200, what: "every group to have every message settled" },
    );
  } finally {
    stop.abort();
    await Promise.all(loops);
  }
}

const pushedIds = (receiver: PushReceiver) =>
  new Set(receiver.calls.map((call) => call.message.messageId));

Deno.test("kill -9 during receives, acks and pushes loses no committed message and never delivers a rolled-back one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escrow_delivery_crash_" });
  const kvPath = join(dir, "escrow.kv");
  // A slowish endpoint, so pushes are in flight when the broker dies.
  await using receiver = PushReceiver.serve(async () => {
    await delay(60);
    return new Response(null, { status: 200 });
  });
  const ledger = new Ledger();
  const consumers = (Object.keys(PULL_GROUPS) as PullGroup[]).map((g) => new Consumer(g));
  try {
    {
      await using before = await BrokerProcess.spawn(kvPath);
      try {
        await setUpAndPublish(new EscrowApi(before.url), ledger, receiver.url);
        await consumeThenKill(before, consumers, receiver);
      } catch (error) {
        // A broker that died by itself explains the failure better than a refused connection.
        const status = await before.kill("SIGKILL");
        throw new Error(`${error}\n--- broker (${JSON.stringify(status)}) ---\n${before.output}`, {
          cause: error,
        });
      }
    }
    const pushedBeforeCrash = receiver.calls.length;
    assert(
      pushedBeforeCrash < ledger.expected(pushWants).size,
      "the push group was killed midway",
    );
    for (const consumer of consumers) {
      assert(
        consumer.received.size > consumer.acked.size,
        `${consumer.group} had unacked messages in flight at the crash`,
      );
    }

    await using after = await BrokerProcess.spawn(kvPath);
    const api = new EscrowApi(after.url);
    for (const [transactionId, { messageId, sent, commit }] of ledger.undecided) {
      const res = await api.decide(transactionId, commit ? "commit" : "rollback");
      assertEquals(res.status, 200, JSON.stringify(res.body));
      if (commit) ledger.committed.set(messageId, sent);
      else ledger.rolledBack.add(messageId);
    }
    await publishRange(api, ledger, 200, 250);
    await consumeToTheEnd(api, ledger, consumers, receiver);

    // Nothing lost, nothing rolled back, nothing foreign.
    const duplicates: Record<string, number> = {};
    for (const consumer of consumers) {
      assertEquals(
        new Set(consumer.received.keys()),
        ledger.expected(PULL_GROUPS[consumer.group].wants),
        `${consumer.group} got exactly these`,
      );
      duplicates[consumer.group] = consumer.deliveries - consumer.received.size;
    }
    const pushed = pushedIds(receiver);
    assertEquals(pushed, ledger.expected(pushWants), `${PUSH_GROUP} got exactly these`);
    duplicates[PUSH_GROUP] = receiver.calls.length - pushed.size;
    for (const id of ledger.rolledBack) {
      assert(!pushed.has(id), `rolled-back ${id} was pushed`);
      for (const consumer of consumers) {
        assert(!consumer.received.has(id), `rolled-back ${id} reached ${consumer.group}`);
      }
    }

    // The broker agrees: each matching group acked each committed message, once.
    const groupsOf = (sent: Sent) =>
      [
        ...Object.entries(PULL_GROUPS).filter(([, { wants }]) => wants(sent)).map(([g]) => g),
        ...(pushWants(sent) ? [PUSH_GROUP] : []),
      ].sort();
    for (const [messageId, sent] of ledger.committed) {
      const message = await api.request<{ deliveries: { group: string; state: string }[] }>(
        "GET",
        `/v1/messages/${messageId}`,
      );
      assertEquals(
        message.body.deliveries.map((d) => [d.group, d.state]),
        groupsOf(sent).map((g) => [g, "acked"]),
        messageId,
      );
    }
    for (const messageId of ledger.rolledBack) {
      const message = await api.request<{ publishedAt?: string; deliveries: unknown[] }>(
        "GET",
        `/v1/messages/${messageId}`,
      );
      assertEquals([message.body.publishedAt, message.body.deliveries], [undefined, []]);
    }
    const allGroups: [string, (m: Sent) => boolean][] = [
      ...Object.entries(PULL_GROUPS).map(([g, { wants }]) => [g, wants] as [string, typeof wants]),
      [PUSH_GROUP, pushWants],
    ];
    for (const [group, wants] of allGroups) {
      const { backlog, inFlight, retrying, deadLettered, acked } =
        (await api.request<GroupJson>("GET", `/v1/groups/${group}`)).body;
      assertEquals(
        { backlog, inFlight, retrying, deadLettered, acked },
        {
          backlog: 0,
          inFlight: 0,
          retrying: 0,
          deadLettered: 0,
          acked: ledger.expected(wants).size,
        },
        group,
      );
    }
    assertEquals((await api.topic("Orders")).counts, {
      published: 265,
      prepared: 30,
      committed: 15,
      rolledBack: 15,
    });
    console.log(
      `delivered ${ledger.committed.size} committed messages across kill -9; ` +
        `duplicates per group: ${JSON.stringify(duplicates)}; ` +
        `pushes before the crash: ${pushedBeforeCrash}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
