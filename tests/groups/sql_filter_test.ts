/**
 * SQL92 subscriptions through the API: every operator lets one message
 * through and keeps another out, a missing property or a type mismatch keeps
 * a message out whatever NOT says, and a filter (or tag expression) that does
 * not parse is a 400 problem that stores nothing.
 */
import { assertEquals } from "@std/assert/equals";
import { assertProblem, kvSnapshot } from "../http/_helpers.ts";
import {
  createGroup,
  createTopic,
  drain,
  type GroupJson,
  openGroupsApi,
  publish,
  type TestApi,
} from "./_helpers.ts";

const TOPIC = "Accompaniment";

/** A message to publish: its tag and properties. */
interface Sample {
  readonly tag?: string;
  readonly properties?: Record<string, string>;
}

/** A filter with one message it lets through and one it keeps out. */
interface Case {
  readonly what: string;
  readonly sql: string;
  readonly passes: Sample;
  readonly fails: Sample;
}

const CASES: readonly Case[] = [
  {
    what: "= on a number",
    sql: "amount = 100",
    passes: { properties: { amount: "100.0" } },
    fails: { properties: { amount: "101" } },
  },
  {
    what: "= on a string",
    sql: "region = 'SH'",
    passes: { properties: { region: "SH" } },
    fails: { properties: { region: "sh" } },
  },
  {
    what: "<> on a string",
    sql: "region <> 'SH'",
    passes: { properties: { region: "BJ" } },
    fails: { properties: { region: "SH" } },
  },
  {
    what: "<> on a number",
    sql: "amount <> 100",
    passes: { properties: { amount: "99" } },
    fails: { properties: { amount: "100" } },
  },
  {
    what: ">",
    sql: "amount > 100",
    passes: { properties: { amount: "100.5" } },
    fails: { properties: { amount: "100" } },
  },
  {
    what: ">=",
    sql: "amount >= 100",
    passes: { properties: { amount: "100" } },
    fails: { properties: { amount: "99.99" } },
  },
  {
    what: "<",
    sql: "amount < 100",
    passes: { properties: { amount: "-5" } },
    fails: { properties: { amount: "100" } },
  },
  {
    what: "<=",
    sql: "amount <= 100",
    passes: { properties: { amount: "100" } },
    fails: { properties: { amount: "1e3" } },
  },
  {
    what: "BETWEEN (bounds included)",
    sql: "amount BETWEEN 10 AND 20",
    passes: { properties: { amount: "20" } },
    fails: { properties: { amount: "21" } },
  },
  {
    what: "NOT BETWEEN",
    sql: "amount NOT BETWEEN 10 AND 20",
    passes: { properties: { amount: "9" } },
    fails: { properties: { amount: "10" } },
  },
  {
    what: "IN",
    sql: "region IN ('SH', 'BJ')",
    passes: { properties: { region: "BJ" } },
    fails: { properties: { region: "GZ" } },
  },
  {
    what: "NOT IN",
    sql: "region NOT IN ('SH', 'BJ')",
    passes: { properties: { region: "GZ" } },
    fails: { properties: { region: "SH" } },
  },
  {
    what: "IS NULL",
    sql: "vip IS NULL",
    passes: { properties: { region: "SH" } },
    fails: { properties: { vip: "" } },
  },
  {
    what: "IS NOT NULL",
    sql: "vip IS NOT NULL",
    passes: { properties: { vip: "gold" } },
    fails: { properties: { region: "SH" } },
  },
  {
    what: "CONTAINS",
    sql: "fund CONTAINS 'bond'",
    passes: { properties: { fund: "global-bond-a" } },
    fails: { properties: { fund: "global-equity" } },
  },
  {
    what: "NOT CONTAINS",
    sql: "fund NOT CONTAINS 'bond'",
    passes: { properties: { fund: "global-equity" } },
    fails: { properties: { fund: "global-bond-a" } },
  },
  {
    what: "STARTSWITH",
    sql: "code STARTSWITH 'HK'",
    passes: { properties: { code: "HK0700" } },
    fails: { properties: { code: "SH600000" } },
  },
  {
    what: "NOT STARTSWITH",
    sql: "code NOT STARTSWITH 'HK'",
    passes: { properties: { code: "SH600000" } },
    fails: { properties: { code: "HK0700" } },
  },
  {
    what: "ENDSWITH",
    sql: "code ENDSWITH '.SH'",
    passes: { properties: { code: "600000.SH" } },
    fails: { properties: { code: "0700.HK" } },
  },
  {
    what: "NOT ENDSWITH",
    sql: "code NOT ENDSWITH '.SH'",
    passes: { properties: { code: "0700.HK" } },
    fails: { properties: { code: "600000.SH" } },
  },
  {
    what: "AND",
    sql: "region = 'SH' AND amount > 100",
    passes: { properties: { region: "SH", amount: "150" } },
    fails: { properties: { region: "SH", amount: "50" } },
  },
  {
    what: "OR",
    sql: "region = 'SH' OR amount > 100",
    passes: { properties: { region: "BJ", amount: "150" } },
    fails: { properties: { region: "BJ", amount: "50" } },
  },
  {
    what: "NOT",
    sql: "NOT region = 'SH'",
    passes: { properties: { region: "BJ" } },
    fails: { properties: { region: "SH" } },
  },
  {
    what: "parentheses over AND binding tighter than OR",
    sql: "(region = 'SH' OR region = 'BJ') AND amount > 100",
    passes: { properties: { region: "BJ", amount: "150" } },
    // Without the parentheses this one would pass: region = 'SH' OR (... AND ...).
    fails: { properties: { region: "SH", amount: "50" } },
  },
  {
    what: "AND binding tighter than OR without parentheses",
    sql: "region = 'SH' OR region = 'BJ' AND amount > 100",
    passes: { properties: { region: "SH", amount: "50" } },
    fails: { properties: { region: "BJ", amount: "50" } },
  },
  {
    what: "= TRUE on a property",
    sql: "vip = TRUE",
    passes: { properties: { vip: "True" } },
    fails: { properties: { vip: "false" } },
  },
  {
    what: "= FALSE on a property",
    sql: "vip = FALSE",
    passes: { properties: { vip: "FALSE" } },
    fails: { properties: { vip: "true" } },
  },
  {
    what: "the constant TRUE",
    sql: "TRUE AND region = 'SH'",
    passes: { properties: { region: "SH" } },
    fails: { properties: { region: "BJ" } },
  },
  {
    what: "the constant FALSE",
    sql: "FALSE OR region = 'SH'",
    passes: { properties: { region: "SH" } },
    fails: { properties: { region: "BJ" } },
  },
  {
    what: "TAGS =",
    sql: "TAGS = 'Ops'",
    passes: { tag: "Ops" },
    fails: { tag: "CS" },
  },
  {
    what: "TAGS IN with a property",
    sql: "TAGS IN ('Ops', 'Orchestration') AND region = 'SH'",
    passes: { tag: "Orchestration", properties: { region: "SH" } },
    fails: { tag: "CS", properties: { region: "SH" } },
  },
  {
    what: "TAGS IS NULL",
    sql: "TAGS IS NULL",
    passes: {},
    fails: { tag: "Ops" },
  },
  {
    what: "keywords in lower case",
    sql: "region in ('SH') and not amount between 1 and 5",
    passes: { properties: { region: "SH", amount: "6" } },
    fails: { properties: { region: "SH", amount: "3" } },
  },
  {
    what: "a missing property (UNKNOWN, not FALSE)",
    sql: "NOT (amount > 100)",
    passes: { properties: { amount: "50" } },
    fails: { properties: { region: "SH" } },
  },
  {
    what: "a property that is not a number compared with a number",
    sql: "NOT (amount > 100)",
    passes: { properties: { amount: "50" } },
    fails: { properties: { amount: "fifty" } },
  },
  {
    what: "a property that is not a boolean compared with TRUE",
    sql: "NOT (vip = TRUE)",
    passes: { properties: { vip: "false" } },
    fails: { properties: { vip: "yes" } },
  },
  {
    what: "strings ordered with > (only = and <> compare strings)",
    sql: "region > 'A' OR amount = 1",
    passes: { properties: { region: "SH", amount: "1" } },
    fails: { properties: { region: "SH", amount: "2" } },
  },
  {
    what: "a missing property in IN and NOT IN",
    sql: "region NOT IN ('SH') OR region IN ('SH')",
    passes: { properties: { region: "BJ" } },
    fails: { properties: { amount: "1" } },
  },
];

async function publishSample(api: TestApi, sample: Sample, body: string): Promise<string> {
  return (await publish(api, TOPIC, {
    body,
    ...(sample.tag !== undefined ? { tag: sample.tag } : {}),
    ...(sample.properties !== undefined ? { properties: sample.properties } : {}),
  })).messageId;
}

for (const { what, sql, passes, fails } of CASES) {
  Deno.test(`an SQL subscription with ${what} (${sql}) lets the matching message through and keeps the other out`, async () => {
    await using api = await openGroupsApi();
    await createTopic(api, TOPIC);
    const group = await createGroup(api, "filtered", { subscriptions: [{ topic: TOPIC, sql }] });
    assertEquals(group.subscriptions, [{ topic: TOPIC, sql }]);
    const kept = await publishSample(api, fails, "fails");
    const wanted = await publishSample(api, passes, "passes");
    const received = await drain(api, "filtered");
    assertEquals(received, [wanted], `kept out: ${kept}`);
  });
}

Deno.test("an SQL subscription of just TRUE takes every message and of just FALSE none", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createGroup(api, "everything", { subscriptions: [{ topic: TOPIC, sql: "TRUE" }] });
  await createGroup(api, "nothing", { subscriptions: [{ topic: TOPIC, sql: "FALSE" }] });
  const ids = [
    await publishSample(api, {}, "plain"),
    await publishSample(api, { tag: "Ops", properties: { region: "SH" } }, "tagged"),
  ];
  assertEquals(await drain(api, "everything"), ids);
  assertEquals(await drain(api, "nothing"), []);
});

Deno.test("an SQL subscription's backlog counts only the messages the filter lets through", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createGroup(api, "big", { subscriptions: [{ topic: TOPIC, sql: "amount >= 1000" }] });
  for (const amount of ["10", "1000", "5000", "x"]) {
    await publishSample(api, { properties: { amount } }, amount);
  }
  await publishSample(api, {}, "none");
  const res = await api.get<{ backlog: number }>("/v1/groups/big");
  assertEquals(res.body.backlog, 2);
});

/** Invalid filters with the 0-based position the problem names. */
const BAD_SQL: readonly { sql: string; position: number }[] = [
  { sql: "amount >", position: 8 },
  { sql: "(amount > 100", position: 13 },
  { sql: "region = 'SH", position: 9 },
  { sql: "amount > 100 region = 'SH'", position: 13 },
  { sql: "amount ! 3", position: 7 },
  { sql: "region NOT LIKE 'S%'", position: 11 },
  { sql: "region IN (1, 2)", position: 11 },
];

for (const { sql, position } of BAD_SQL) {
  Deno.test(`PUT /v1/groups/{group} with the SQL ${JSON.stringify(sql)} is a 400 problem at position ${position} and stores nothing`, async () => {
    await using api = await openGroupsApi();
    await createTopic(api, TOPIC);
    const before = await kvSnapshot(api.kv);
    const res = await api.put("/v1/groups/filtered", { subscriptions: [{ topic: TOPIC, sql }] });
    const problem = assertProblem(res, 400, `position ${position}`);
    assertEquals(problem.position, position);
    assertEquals(problem.topic, TOPIC);
    assertEquals(await kvSnapshot(api.kv), before);
    assertProblem(await api.get("/v1/groups/filtered"), 404);
  });
}

Deno.test("PUT /v1/groups/{group} with a bad SQL filter on an existing group is a 400 problem and keeps the group as it was", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  const group = await createGroup(api, "filtered", {
    subscriptions: [{ topic: TOPIC, sql: "region = 'SH'" }],
  });
  const before = await kvSnapshot(api.kv);
  const res = await api.put("/v1/groups/filtered", {
    subscriptions: [{ topic: TOPIC, sql: "region = " }],
  });
  assertEquals(assertProblem(res, 400).position, 9);
  assertEquals(await kvSnapshot(api.kv), before);
  const after = await api.get<GroupJson>("/v1/groups/filtered");
  assertEquals(after.body.subscriptions, group.subscriptions);
});

/** Invalid tag expressions with the 0-based position the problem names. */
const BAD_TAGS: readonly { tags: string; position: number }[] = [
  { tags: "Ops ||", position: 6 },
  { tags: "|| Ops", position: 0 },
  { tags: "Ops || || CS", position: 7 },
  { tags: "Ops | CS", position: 0 },
  { tags: "Ops || *", position: 7 },
  { tags: "Ops || C S", position: 7 },
];

for (const { tags, position } of BAD_TAGS) {
  Deno.test(`PUT /v1/groups/{group} with the tag expression ${JSON.stringify(tags)} is a 400 problem at position ${position} and stores nothing`, async () => {
    await using api = await openGroupsApi();
    await createTopic(api, TOPIC);
    const before = await kvSnapshot(api.kv);
    const res = await api.put("/v1/groups/tagged", { subscriptions: [{ topic: TOPIC, tags }] });
    assertEquals(assertProblem(res, 400).position, position);
    assertEquals(await kvSnapshot(api.kv), before);
    assertProblem(await api.get("/v1/groups/tagged"), 404);
  });
}

Deno.test("PUT /v1/groups/{group} with both tags and sql on one subscription is a 400 problem and stores nothing", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  const before = await kvSnapshot(api.kv);
  const res = await api.put("/v1/groups/both", {
    subscriptions: [{ topic: TOPIC, tags: "Ops", sql: "region = 'SH'" }],
  });
  assertProblem(res, 400, "not both");
  assertEquals(await kvSnapshot(api.kv), before);
  assertProblem(await api.get("/v1/groups/both"), 404);
});
