/**
 * `GET /v1/messages/{id}` `deliveries`: per consumer group, where the
 * delivery of the message stands, its attempts with their errors, when it
 * was acked or dead-lettered, and the events that got it there.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { FakeTime } from "@std/testing/time";
import { T0 } from "../http/_helpers.ts";
import {
  ack,
  createGroup,
  createTopic,
  decide,
  getMessage,
  handleOf,
  type MessageJson,
  nack,
  openGroupsApi,
  prepare,
  publish,
  receive,
  type TestApi,
} from "./_helpers.ts";

const TOPIC = "Accompaniment";
type DeliveryJson = MessageJson["deliveries"][number];

const at = (ms: number) => new Date(T0 + ms).toISOString();

async function deliveriesOf(api: TestApi, messageId: string): Promise<DeliveryJson[]> {
  return (await getMessage(api, messageId)).deliveries;
}

async function deliveryOf(api: TestApi, messageId: string, group: string): Promise<DeliveryJson> {
  const delivery = (await deliveriesOf(api, messageId)).find((d) => d.group === group);
  assert(delivery, `no delivery for ${group}`);
  return delivery;
}

const typesOf = (delivery: DeliveryJson) => delivery.history.map((e) => e.type);

Deno.test("a published message lists a delivery only for groups that have attempted it", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC, tags: "Ops" }] });
  await createGroup(api, "cs", { subscriptions: [{ topic: TOPIC, tags: "CS" }] });
  await createGroup(api, "datacenter", { subscriptions: [{ topic: TOPIC }] });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  await createGroup(api, "late", { subscriptions: [{ topic: TOPIC }] });
  assertEquals(await deliveriesOf(api, messageId), []);
  await receive(api, "ops");
  assertEquals(
    (await deliveriesOf(api, messageId)).map((d) => [d.group, d.state]),
    [["ops", "inFlight"]],
  );
});

Deno.test("after an ack the delivery is acked with its one attempt and ackedAt", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC, tags: "Ops" }] });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  time.tick(1_000);
  const [message] = await receive(api, "ops");
  assertEquals((await deliveryOf(api, messageId, "ops")).state, "inFlight");
  time.tick(2_000);
  await ack(api, "ops", [handleOf(message!)]);
  const delivery = await deliveryOf(api, messageId, "ops");
  assertEquals(delivery.state, "acked");
  assertEquals(delivery.attempts, [{ attempt: 1, at: at(1_000) }]);
  assertEquals(delivery.ackedAt, at(3_000));
  assertEquals(delivery.deadLetteredAt, undefined);
  assertEquals(typesOf(delivery), ["DeliveryAttempted", "DeliveryAcked"]);
  assertEquals(delivery.history[0]!.data, {
    group: "ops",
    attempt: 1,
    visibleUntil: T0 + 31_000,
  });
});

Deno.test("after a nack the delivery is retrying with the error on its attempt, then in flight again on attempt 2", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC }], retryDelaysSeconds: [5] });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  const [first] = await receive(api, "ops");
  time.tick(1_000);
  await nack(api, "ops", [handleOf(first!)]);
  let delivery = await deliveryOf(api, messageId, "ops");
  assertEquals(delivery.state, "retrying");
  assertEquals(delivery.attempts, [{ attempt: 1, at: at(0), error: "nack" }]);
  assertEquals(delivery.history.at(-1), {
    type: "DeliveryFailed",
    at: at(1_000),
    data: { attempt: 1, error: "nack", retryAt: T0 + 6_000 },
  });
  time.tick(5_000);
  const [second] = await receive(api, "ops");
  delivery = await deliveryOf(api, messageId, "ops");
  assertEquals(delivery.state, "inFlight");
  assertEquals(delivery.attempts, [
    { attempt: 1, at: at(0), error: "nack" },
    { attempt: 2, at: at(6_000) },
  ]);
  assertEquals(typesOf(delivery), [
    "DeliveryAttempted",
    "DeliveryFailed",
    "DeliveryRetryDue",
    "DeliveryAttempted",
  ]);
  await ack(api, "ops", [handleOf(second!)]);
  delivery = await deliveryOf(api, messageId, "ops");
  assertEquals(delivery.state, "acked");
  assertEquals(delivery.ackedAt, at(6_000));
});

Deno.test("a visibility timeout shows as the error visibility timeout on the attempt", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC }] });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  await receive(api, "ops", { visibilityTimeoutSeconds: 2 });
  time.tick(2_000);
  await api.broker.scheduler.runDue();
  const delivery = await deliveryOf(api, messageId, "ops");
  assertEquals(delivery.state, "retrying");
  assertEquals(delivery.attempts, [{ attempt: 1, at: at(0), error: "visibility timeout" }]);
});

Deno.test("an extended visibility timeout shows in the history and keeps the delivery in flight", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC }] });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  const [message] = await receive(api, "ops");
  time.tick(1_000);
  const res = await api.post("/v1/groups/ops/visibility", {
    receiptHandle: handleOf(message!),
    visibilityTimeoutSeconds: 90,
  });
  assertEquals(res.status, 200);
  const delivery = await deliveryOf(api, messageId, "ops");
  assertEquals(delivery.state, "inFlight");
  assertEquals(delivery.attempts, [{ attempt: 1, at: at(0) }]);
  assertEquals(delivery.history.at(-1), {
    type: "DeliveryVisibilityExtended",
    at: at(1_000),
    data: { attempt: 1, visibleUntil: T0 + 91_000 },
  });
});

Deno.test("a dead-lettered delivery shows every attempt with its error and deadLetteredAt", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", {
    subscriptions: [{ topic: TOPIC }],
    maxRetries: 1,
    retryDelaysSeconds: [1],
  });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  const [first] = await receive(api, "ops");
  await nack(api, "ops", [handleOf(first!)]);
  time.tick(1_000);
  await receive(api, "ops", { visibilityTimeoutSeconds: 3 });
  time.tick(3_000);
  await api.broker.scheduler.runDue();
  const delivery = await deliveryOf(api, messageId, "ops");
  assertEquals(delivery.state, "deadLettered");
  assertEquals(delivery.attempts, [
    { attempt: 1, at: at(0), error: "nack" },
    { attempt: 2, at: at(1_000), error: "visibility timeout" },
  ]);
  assertEquals(delivery.deadLetteredAt, at(4_000));
  assertEquals(delivery.ackedAt, undefined);
  assertEquals(typesOf(delivery).at(-1), "DeliveryDeadLettered");
});

Deno.test("a redriven delivery is pending again, then starts over at attempt 1", async () => {
  using time = new FakeTime(T0);
  await using api = await openGroupsApi({ time });
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC }], maxRetries: 0 });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  const [first] = await receive(api, "ops");
  await nack(api, "ops", [handleOf(first!)]);
  time.tick(10_000);
  const res = await api.post("/v1/groups/ops/dead-letters/redrive", { messageIds: [messageId] });
  assertEquals(res.body, { redriven: 1 });
  let delivery = await deliveryOf(api, messageId, "ops");
  assertEquals(delivery.state, "pending");
  assertEquals(typesOf(delivery).at(-1), "DeliveryRedriven");
  time.tick(1_000);
  const [again] = await receive(api, "ops");
  assertEquals(again?.attempt, 1);
  await ack(api, "ops", [handleOf(again!)]);
  delivery = await deliveryOf(api, messageId, "ops");
  assertEquals(delivery.state, "acked");
  assertEquals(delivery.attempts, [
    { attempt: 1, at: at(0), error: "nack" },
    { attempt: 1, at: at(11_000) },
  ]);
});

Deno.test("one message shows each group's own delivery: acked for one, dead-lettered for another, none for a group that has not read it", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC, tags: "Ops" }] });
  await createGroup(api, "compliance", {
    subscriptions: [{ topic: TOPIC, tags: "Ops || Orchestration" }],
    maxRetries: 0,
  });
  await createGroup(api, "datacenter", { subscriptions: [{ topic: TOPIC }] });
  await createGroup(api, "cs", { subscriptions: [{ topic: TOPIC, tags: "CS" }] });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  await ack(api, "ops", (await receive(api, "ops")).map(handleOf));
  await nack(api, "compliance", (await receive(api, "compliance")).map(handleOf));
  const deliveries = await deliveriesOf(api, messageId);
  assertEquals(
    deliveries.map((d) => [d.group, d.state, d.attempts.length]),
    [["compliance", "deadLettered", 1], ["ops", "acked", 1]],
  );
});

Deno.test("a half message has no deliveries until committed, and a rolled-back one never has any", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC }] });
  const committed = await prepare(api, TOPIC, { tag: "Ops" });
  const rolledBack = await prepare(api, TOPIC, { tag: "Ops" });
  assertEquals(await deliveriesOf(api, committed.messageId), []);
  await decide(api, committed.transactionId, "commit");
  await decide(api, rolledBack.transactionId, "rollback");
  await receive(api, "ops", { max: 10 });
  assertEquals(
    (await deliveriesOf(api, committed.messageId)).map((d) => [d.group, d.state]),
    [["ops", "inFlight"]],
  );
  assertEquals(await deliveriesOf(api, rolledBack.messageId), []);
});

Deno.test("a group that subscribed to the topic after the message was published shows no delivery of it", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createTopic(api, "Settlement");
  await createGroup(api, "ledger", { subscriptions: [{ topic: "Settlement" }] });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  const res = await api.put("/v1/groups/ledger", {
    subscriptions: [{ topic: "Settlement" }, { topic: TOPIC }],
  });
  assertEquals(res.status, 200);
  // The group started the topic at its end: it will never receive this message.
  assertEquals(await receive(api, "ledger"), []);
  assertEquals(await deliveriesOf(api, messageId), []);
});

Deno.test("a group whose filter passed the message by before an update shows no delivery of it", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createGroup(api, "desk", { subscriptions: [{ topic: TOPIC, tags: "CS" }] });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  assertEquals(await receive(api, "desk"), []); // read past it: not the group's then
  const res = await api.put("/v1/groups/desk", { subscriptions: [{ topic: TOPIC, tags: "Ops" }] });
  assertEquals(res.status, 200);
  assertEquals(await receive(api, "desk"), []); // the position is kept: never delivered
  assertEquals(await deliveriesOf(api, messageId), []);
});

Deno.test("a nack reason shows as the attempt's error and the dead letter's last error", async () => {
  await using api = await openGroupsApi();
  await createTopic(api, TOPIC);
  await createGroup(api, "ops", { subscriptions: [{ topic: TOPIC }], maxRetries: 0 });
  const { messageId } = await publish(api, TOPIC, { tag: "Ops" });
  const [message] = await receive(api, "ops");
  const res = await api.post("/v1/groups/ops/nack", {
    receiptHandles: [handleOf(message!)],
    reason: "fund F1 is closed",
  });
  assertEquals(res.body, { nacked: 1, failed: [] });
  const delivery = await deliveryOf(api, messageId, "ops");
  assertEquals(delivery.attempts.map((a) => a.error), ["nack: fund F1 is closed"]);
  const dead = await api.get<{ messages: { lastError: string }[] }>("/v1/groups/ops/dead-letters");
  assertEquals(dead.body.messages.map((m) => m.lastError), ["nack: fund F1 is closed"]);
});
