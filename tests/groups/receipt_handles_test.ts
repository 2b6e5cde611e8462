/**
 * Receipt handles cannot be forged, edited, truncated, replayed, rebuilt
 * from what the API shows, or used in another group or a group created
 * again under the same name: each is refused with its reason and changes
 * nothing in KV.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertMatch } from "@std/assert/match";
import { assertNotEquals } from "@std/assert/not-equals";
import { encodeBase64Url } from "@std/encoding/base64url";
import { FakeTime } from "@std/testing/time";
import { kvSnapshot } from "../http/_helpers.ts";
import {
  ack,
  countsOfGroup,
  createGroup,
  createTopic,
  getMessage,
  handleOf,
  nack,
  openGroupsApi,
  publish,
  receive,
  type TestApi,
} from "./_helpers.ts";

const T0 = Date.UTC(2030, 0, 1);
const TOPIC = "Accompaniment";

async function setUp(api: TestApi, group = "ops"): Promise<void> {
  await createTopic(api, TOPIC);
  await createGroup(api, group, {
    subscriptions: [{ topic: TOPIC, tags: "*" }],
    retryDelaysSeconds: [10],
  });
}

/** A handle's parts: payload fields (readable: handles are signed, not secret), key id, signature. */
function partsOf(handle: string): { fields: string[]; keyId: string; signature: string } {
  const [payload, keyId, signature] = handle.split(".");
  return { fields: payload!.split("~"), keyId: keyId!, signature: signature! };
}

/** The handle with its payload replaced, signature kept: what an attacker can make. */
function withFields(handle: string, edit: (fields: string[]) => string[]): string {
  const { fields, keyId, signature } = partsOf(handle);
  return `${edit(fields).join("~")}.${keyId}.${signature}`;
}

/** Asserts an ack of `handle` is refused with `reason` and writes nothing. */
async function assertRefused(api: TestApi, handle: string, reason: string | RegExp) {
  const before = await kvSnapshot(api.kv);
  const result = await ack(api, "ops", [handle]);
  assertEquals(result.acked, 0);
  assertEquals(result.failed.length, 1);
  if (typeof reason === "string") assertEquals(result.failed[0]!.reason, reason);
  else assertMatch(result.failed[0]!.reason, reason);
  assertEquals(await kvSnapshot(api.kv), before, "a refused handle changed KV");
}

Deno.test("a handle rebuilt from GET /v1/messages/{id}, as the old unsigned format was, acks nothing", async () => {
  using _time = new FakeTime(T0);
  await using api = await openGroupsApi();
  await setUp(api);
  const { messageId } = await publish(api, TOPIC, { tag: "Ops", body: { n: 1 } });
  const [message] = await receive(api, "ops");
  const view = await getMessage(api, messageId);
  const attempted = view.deliveries[0]!.history[0]!;
  const visibleUntil = (attempted.data as { visibleUntil: string }).visibleUntil;
  const rebuilt = encodeBase64Url(new TextEncoder().encode(JSON.stringify([
    "ops",
    messageId,
    TOPIC,
    1,
    1,
    Date.parse(visibleUntil),
  ])));
  await assertRefused(api, rebuilt, "receipt handle is malformed");
  // A rebuilt handle in the signed layout, with a made-up signature, fares no better.
  const { keyId } = partsOf(handleOf(message!));
  const forged = `${withFields(handleOf(message!), (f) => f).split(".")[0]}.${keyId}.${
    encodeBase64Url(new Uint8Array(32))
  }`;
  await assertRefused(api, forged, /signature does not match/);
  assertEquals(await ack(api, "ops", [handleOf(message!)]), { acked: 1, failed: [] });
});

Deno.test("a handle edited to seq + 1 cannot ack a retrying delivery nor overwrite its history", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await setUp(api);
  const { messageId } = await publish(api, TOPIC, { tag: "Ops", body: { n: 1 } });
  const [first] = await receive(api, "ops");
  const handle = handleOf(first!);
  assertEquals((await nack(api, "ops", [handle])).nacked, 1);
  // The review's attack: the same handle, seq moved to the failure event's.
  const edited = withFields(handle, (f) => f.map((v, i) => i === 4 ? String(Number(v) + 1) : v));
  await assertRefused(api, edited, /signature does not match/);
  assertEquals(await countsOfGroup(api, "ops"), {
    backlog: 0,
    inFlight: 0,
    retrying: 1,
    deadLettered: 0,
    acked: 0,
  });
  time.tick(10_000);
  const [second] = await receive(api, "ops");
  assertEquals(second?.attempt, 2);
  const history = (await getMessage(api, messageId)).deliveries[0]!.history.map((e) => e.type);
  assertEquals(history, [
    "DeliveryAttempted",
    "DeliveryFailed",
    "DeliveryRetryDue",
    "DeliveryAttempted",
  ]);
  assertEquals((await countsOfGroup(api, "ops")).inFlight, 1);
});

Deno.test("every field of a handle is covered by its signature", async () => {
  using _time = new FakeTime(T0);
  await using api = await openGroupsApi();
  await setUp(api);
  await publish(api, TOPIC, { tag: "Ops", body: { n: 1 } });
  const handle = handleOf((await receive(api, "ops"))[0]!);
  const { fields } = partsOf(handle);
  for (let i = 0; i < fields.length; i++) {
    const edited = withFields(
      handle,
      (f) => f.map((v, j) => j !== i ? v : /^\d+$/.test(v) ? String(Number(v) + 1) : `${v}x`),
    );
    await assertRefused(api, edited, /signature does not match/);
  }
  // Another key id, or a signature cut short, is refused too.
  const [payload, , signature] = handle.split(".");
  await assertRefused(api, `${payload}.ffffffff.${signature}`, /not signed by this broker/);
  await assertRefused(api, handle.slice(0, -4), /signature does not match|malformed/);
  await assertRefused(api, handle.split(".").slice(0, 2).join("."), "receipt handle is malformed");
  assertEquals(await ack(api, "ops", [handle]), { acked: 1, failed: [] });
});

Deno.test("a handle replayed after its ack is refused, naming where the delivery is now", async () => {
  using _time = new FakeTime(T0);
  await using api = await openGroupsApi();
  await setUp(api);
  await publish(api, TOPIC, { tag: "Ops", body: { n: 1 } });
  const handle = handleOf((await receive(api, "ops"))[0]!);
  assertEquals(await ack(api, "ops", [handle]), { acked: 1, failed: [] });
  await assertRefused(
    api,
    handle,
    "receipt handle already used or superseded: the delivery is now acked (event 2)",
  );
});

Deno.test("a group deleted and created again: old handles settle nothing, counts and history start clean", async () => {
  using _time = new FakeTime(T0);
  await using api = await openGroupsApi();
  await setUp(api);
  const { messageId } = await publish(api, TOPIC, { tag: "Ops", body: { n: 1 } });
  const old = handleOf((await receive(api, "ops"))[0]!);
  assertEquals((await api.send("DELETE", "/v1/groups/ops")).status, 204);
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC, tags: "*" }] });
  await assertRefused(api, old, "receipt handle belongs to an earlier group ops, since deleted");
  assertEquals(await countsOfGroup(api, "ops"), {
    backlog: 0,
    inFlight: 0,
    retrying: 0,
    deadLettered: 0,
    acked: 0,
  });
  assertEquals((await getMessage(api, messageId)).deliveries, []);
  // The new group gets what is published after it, under its own history.
  const next = await publish(api, TOPIC, { tag: "Ops", body: { n: 2 } });
  const [message] = await receive(api, "ops");
  assertEquals(message?.messageId, next.messageId);
  assertNotEquals(partsOf(handleOf(message!)).fields[1], partsOf(old).fields[1]);
  assertEquals(await ack(api, "ops", [handleOf(message!)]), { acked: 1, failed: [] });
});

Deno.test("deleting a group is one commit, and its cleanup job removes what it held", async () => {
  using _time = new FakeTime(T0);
  await using api = await openGroupsApi();
  await setUp(api);
  for (let i = 0; i < 3; i++) await publish(api, TOPIC, { tag: "Ops", body: { i } });
  const [one] = await receive(api, "ops", { max: 1 });
  await nack(api, "ops", [handleOf(one!)]);
  await receive(api, "ops", { max: 1 });
  const groupKeys = async () => {
    const found: string[] = [];
    for (const prefix of ["cursor", "lease", "due", "dlq", "gcount", "mg_lock", "mg_wait"]) {
      for await (const e of api.kv.list({ prefix: [prefix] })) found.push(JSON.stringify(e.key));
    }
    return found;
  };
  assert((await groupKeys()).length > 0);
  assertEquals((await api.send("DELETE", "/v1/groups/ops")).status, 204);
  assertEquals((await api.get("/v1/groups/ops")).status, 404);
  await api.broker.scheduler.runDue();
  assertEquals(await groupKeys(), []);
});
