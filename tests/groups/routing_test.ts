/**
 * Routing to consumer groups through the API: which group gets which
 * committed message, by tag expression, by topic, and by when the group
 * subscribed. The fund company case: one topic `Accompaniment` whose messages
 * are tagged for operations, customer service and orchestration, with groups
 * for each department, a compliance group for two of them and a data centre
 * that takes everything.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import {
  createGroup,
  createTopic,
  decide,
  drain,
  getGroup,
  type GroupJson,
  openGroupsApi,
  prepare,
  publish,
  receive,
  sorted,
  type TestApi,
} from "./_helpers.ts";

const TOPIC = "Accompaniment";
const TAGS = ["Ops", "CS", "Orchestration"] as const;

/** What the fund company published, by fate. */
interface Published {
  /** Visible (normal or committed), with the tag each carries. */
  readonly visible: Map<string, string | undefined>;
  readonly rolledBack: Set<string>;
  readonly undecided: Set<string>;
  readonly undecidedTransactions: string[];
}

/**
 * Publishes 60 messages cycling through the three tags, of five kinds in
 * turn: normal, normal, transactional committed, transactional rolled back,
 * transactional left undecided; plus three messages without a tag. The
 * decisions come after later messages, so commit order is not publish order.
 */
async function publishFundTraffic(api: TestApi): Promise<Published> {
  const visible = new Map<string, string | undefined>();
  const rolledBack = new Set<string>();
  const undecided = new Set<string>();
  const undecidedTransactions: string[] = [];
  const toCommit: { transactionId: string; messageId: string; tag: string }[] = [];
  const toRollBack: string[] = [];
  for (let i = 0; i < 60; i++) {
    const tag = TAGS[i % 3]!;
    const body = { fund: `F${i}`, department: tag };
    switch (i % 5) {
      case 0:
      case 1: {
        const { messageId } = await publish(api, TOPIC, { tag, body, keys: [`order-${i}`] });
        visible.set(messageId, tag);
        break;
      }
      case 2: {
        const tx = await prepare(api, TOPIC, { tag, body });
        toCommit.push({ ...tx, tag });
        break;
      }
      case 3: {
        const tx = await prepare(api, TOPIC, { tag, body });
        rolledBack.add(tx.messageId);
        toRollBack.push(tx.transactionId);
        break;
      }
      default: {
        const tx = await prepare(api, TOPIC, { tag, body });
        undecided.add(tx.messageId);
        undecidedTransactions.push(tx.transactionId);
      }
    }
    if (i % 10 === 9) {
      for (const tx of toCommit.splice(0)) {
        await decide(api, tx.transactionId, "commit");
        visible.set(tx.messageId, tx.tag);
      }
      for (const id of toRollBack.splice(0)) await decide(api, id, "rollback");
    }
  }
  for (let i = 0; i < 3; i++) {
    const { messageId } = await publish(api, TOPIC, { body: { untagged: i } });
    visible.set(messageId, undefined);
  }
  return { visible, rolledBack, undecided, undecidedTransactions };
}

/** The fund company's five groups with the tags each subscribes to. */
const FUND_GROUPS: Record<string, string> = {
  ops: "Ops",
  cs: "CS",
  orchestration: "Orchestration",
  compliance: "Ops || Orchestration",
  datacenter: "*",
};

function selects(expression: string, tag: string | undefined): boolean {
  if (expression === "*") return true;
  return tag !== undefined && expression.split("||").map((t) => t.trim()).includes(tag);
}

async function createFundGroups(api: TestApi): Promise<void> {
  for (const [name, tags] of Object.entries(FUND_GROUPS)) {
    await createGroup(api, name, { subscriptions: [{ topic: TOPIC, tags }] });
  }
}

Deno.test("each fund group receives exactly its committed messages, each once, and never a rolled-back or undecided one", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createFundGroups(api);
  const published = await publishFundTraffic(api);
  assertEquals(published.visible.size, 39); // 24 normal + 12 committed + 3 untagged
  for (const [name, expression] of Object.entries(FUND_GROUPS)) {
    const expected = [...published.visible].filter(([, tag]) => selects(expression, tag));
    assertEquals((await getGroup(api, name)).backlog, expected.length, name);
    const received = await drain(api, name);
    assertEquals(received.length, new Set(received).size, `${name} got a message twice`);
    assertEquals(sorted(received), sorted(expected.map(([id]) => id)), name);
    for (const id of received) {
      assert(!published.rolledBack.has(id), `${name} got rolled-back ${id}`);
      assert(!published.undecided.has(id), `${name} got undecided ${id}`);
    }
    assertEquals((await getGroup(api, name)).acked, expected.length, name);
  }
  // The department groups split the tagged traffic between them with nothing left over.
  const sizes = Object.fromEntries(
    await Promise.all(
      Object.keys(FUND_GROUPS).map(async (name) => [name, (await getGroup(api, name)).acked]),
    ),
  );
  assertEquals(sizes, { ops: 12, cs: 12, orchestration: 12, compliance: 24, datacenter: 39 });
});

Deno.test("a message a group already received is not received again, and nothing arrives for a drained group", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createFundGroups(api);
  await publishFundTraffic(api);
  for (const name of Object.keys(FUND_GROUPS)) {
    await drain(api, name);
    assertEquals(await receive(api, name, { max: 256 }), [], name);
    assertEquals((await getGroup(api, name)).backlog, 0, name);
  }
});

Deno.test("a half message prepared before a group existed reaches the group once committed after it", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  const early = await prepare(api, TOPIC, { tag: "Ops", body: "prepared early" });
  const before = await publish(api, TOPIC, { tag: "Ops", body: "published early" });
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC, tags: "Ops" }] });
  assertEquals((await getGroup(api, "ops")).backlog, 0);
  await decide(api, early.transactionId, "commit");
  const messages = await receive(api, "ops", { max: 10 });
  assertEquals(messages.map((m) => m.messageId), [early.messageId]);
  assertEquals(messages[0]!.transactionId, early.transactionId);
  assertEquals(messages[0]!.body, "prepared early");
  assert(messages.every((m) => m.messageId !== before.messageId));
});

Deno.test("committing the undecided fund transactions later delivers them to the matching groups only", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createFundGroups(api);
  const published = await publishFundTraffic(api);
  for (const name of Object.keys(FUND_GROUPS)) await drain(api, name);
  for (const id of published.undecidedTransactions) await decide(api, id, "commit");
  const tagOf = new Map<string, string>();
  for (const id of published.undecided) {
    const res = await api.get<{ tag: string }>(`/v1/messages/${id}`);
    tagOf.set(id, res.body.tag);
  }
  for (const [name, expression] of Object.entries(FUND_GROUPS)) {
    const expected = [...tagOf].filter(([, tag]) => selects(expression, tag)).map(([id]) => id);
    assertEquals(sorted(await drain(api, name)), sorted(expected), name);
  }
});

for (const expression of ["Ops||CS", " Ops ||  CS "]) {
  Deno.test(`the tag expression ${JSON.stringify(expression)} selects Ops and CS messages only`, async () => {
    await using api = await openGroupsApi();
    await createTopic(api, TOPIC);
    const group = await createGroup(api, "frontline", {
      subscriptions: [{ topic: TOPIC, tags: expression }],
    });
    assertEquals(group.subscriptions, [{ topic: TOPIC, tags: expression }]);
    const expected: string[] = [];
    for (const tag of ["Ops", "CS", "Orchestration", "ops", "OpsX", "CS"]) {
      const { messageId } = await publish(api, TOPIC, { tag });
      if (tag === "Ops" || tag === "CS") expected.push(messageId);
    }
    await publish(api, TOPIC, {}); // untagged
    const received = await receive(api, "frontline", { max: 100 });
    assertEquals(received.map((m) => m.messageId), expected);
    assertEquals(received.map((m) => m.tag), ["Ops", "CS", "CS"]);
  });
}

Deno.test("a group without tags or sql takes every message of the topic, tagged or not", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createGroup(api, "all", { subscriptions: [{ topic: TOPIC }] });
  const ids = [
    (await publish(api, TOPIC, { tag: "Ops" })).messageId,
    (await publish(api, TOPIC, {})).messageId,
    (await publish(api, TOPIC, { tag: "Anything" })).messageId,
  ];
  assertEquals(await drain(api, "all"), ids);
});

Deno.test("a group created after some messages receives only those committed after it", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createGroup(api, "early", { subscriptions: [{ topic: TOPIC, tags: "*" }] });
  const before = [];
  for (let i = 0; i < 3; i++) before.push((await publish(api, TOPIC, { tag: "Ops" })).messageId);
  await createGroup(api, "late", { subscriptions: [{ topic: TOPIC, tags: "*" }] });
  assertEquals((await getGroup(api, "late")).backlog, 0);
  const after = [];
  for (let i = 0; i < 2; i++) after.push((await publish(api, TOPIC, { tag: "Ops" })).messageId);
  assertEquals((await getGroup(api, "late")).backlog, 2);
  assertEquals(await drain(api, "late"), after);
  assertEquals(await drain(api, "early"), [...before, ...after]);
});

Deno.test("updating a group's tags keeps its position: it neither re-reads nor skips the log", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  const created = await createGroup(api, "desk", {
    subscriptions: [{ topic: TOPIC, tags: "Ops" }],
  });
  const ops1 = await publish(api, TOPIC, { tag: "Ops" });
  await publish(api, TOPIC, { tag: "CS" }); // passed over while the group takes Ops
  const ops2 = await publish(api, TOPIC, { tag: "Ops" });
  assertEquals(await drain(api, "desk"), [ops1.messageId, ops2.messageId]);
  const pending = await publish(api, TOPIC, { tag: "CS" }); // after the position, not yet read
  const res = await api.put<GroupJson>("/v1/groups/desk", {
    subscriptions: [{ topic: TOPIC, tags: "CS" }],
  });
  assertEquals(res.status, 200, JSON.stringify(res.body));
  assertEquals(res.body.subscriptions, [{ topic: TOPIC, tags: "CS" }]);
  assertEquals(res.body.createdAt, created.createdAt);
  await publish(api, TOPIC, { tag: "Ops" });
  const cs = await publish(api, TOPIC, { tag: "CS" });
  assertEquals(await drain(api, "desk"), [pending.messageId, cs.messageId]);
});

Deno.test("updating a group's settings keeps the messages published before the update", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createGroup(api, "desk", { subscriptions: [{ topic: TOPIC, tags: "Ops" }] });
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await publish(api, TOPIC, { tag: "Ops" })).messageId);
  const res = await api.put<GroupJson>("/v1/groups/desk", {
    subscriptions: [{ topic: TOPIC, tags: "Ops" }],
    visibilityTimeoutSeconds: 120,
    maxRetries: 3,
  });
  assertEquals(res.status, 200, JSON.stringify(res.body));
  assertEquals(res.body.visibilityTimeoutSeconds, 120);
  assertEquals((await getGroup(api, "desk")).backlog, 3);
  assertEquals(await drain(api, "desk"), ids);
});

Deno.test("a group on two topics receives from both, each message with its own topic", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createTopic(api, "Settlement");
  await createGroup(api, "ledger", {
    subscriptions: [{ topic: TOPIC, tags: "Ops" }, { topic: "Settlement", tags: "*" }],
  });
  const ops = await publish(api, TOPIC, { tag: "Ops" });
  await publish(api, TOPIC, { tag: "CS" });
  const settled = await publish(api, "Settlement", { tag: "Cash" });
  const untagged = await publish(api, "Settlement", {});
  assertEquals((await getGroup(api, "ledger")).backlog, 3);
  const received = await receive(api, "ledger", { max: 10 });
  assertEquals(
    sorted(received.map((m) => `${m.topic}/${m.messageId}`)),
    sorted([
      `${TOPIC}/${ops.messageId}`,
      `Settlement/${settled.messageId}`,
      `Settlement/${untagged.messageId}`,
    ]),
  );
  assertEquals(
    received.map((m) => m.tag).sort(),
    ["Cash", "Ops", undefined].sort(),
  );
});

Deno.test("adding a topic to a group starts that topic at its end and keeps the other topic's position", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createTopic(api, "Settlement");
  await createGroup(api, "ledger", { subscriptions: [{ topic: TOPIC }] });
  const first = await publish(api, TOPIC, { tag: "Ops" });
  await publish(api, "Settlement", { tag: "Cash" }); // before the group subscribed to it
  const res = await api.put("/v1/groups/ledger", {
    subscriptions: [{ topic: TOPIC }, { topic: "Settlement" }],
  });
  assertEquals(res.status, 200, JSON.stringify(res.body));
  const cash = await publish(api, "Settlement", { tag: "Cash" });
  assertEquals(sorted(await drain(api, "ledger")), sorted([first.messageId, cash.messageId]));
});

Deno.test("a group does not receive messages of topics it does not subscribe to", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createTopic(api, "Settlement");
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC, tags: "*" }] });
  await publish(api, "Settlement", { tag: "Ops" });
  assertEquals(await receive(api, "ops"), []);
  assertEquals((await getGroup(api, "ops")).backlog, 0);
});
