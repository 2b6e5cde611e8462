import { assert, assertEquals, assertExists, assertMatch, assertRejects } from "@std/assert";
import { encodeBase64 } from "@std/encoding/base64";
import { CLIENT_TEST, startFront, startProducer, startSimpleConsumer } from "./_front.ts";

const decoder = new TextDecoder();

Deno.test({
  name: "a normal send from the official client is received by a SimpleConsumer and acked",
  ...CLIENT_TEST,
  async fn() {
    await using live = await startFront({ topics: ["Trade"] });
    const consumer = await startSimpleConsumer(live, { group: "audit" });
    const producer = await startProducer(live);
    const receipt = await producer.send({
      topic: "Trade",
      tag: "Ops",
      keys: ["order-1"],
      properties: new Map([["region", "eu"]]),
      body: Buffer.from("hello"),
    } as never);
    const stored = await live.broker.messages.get(receipt.messageId);
    assertEquals(stored.tag, "Ops");
    assertEquals(stored.keys, ["order-1"]);
    assertEquals(stored.properties, { region: "eu" });
    const messages = await consumer.receive(16, 10_000);
    assertEquals(messages.length, 1);
    const [message] = messages;
    assertExists(message);
    assertEquals(message.messageId, receipt.messageId);
    assertEquals(decoder.decode(message.body), "hello");
    assertEquals(message.tag, "Ops");
    await consumer.ack(message);
    const after = await live.broker.messages.get(receipt.messageId);
    assertEquals(after.deliveries[0]?.state, "acked");
  },
});

Deno.test({
  name: "FIFO sends keep their message group and order; a delayed send waits for its time",
  ...CLIENT_TEST,
  async fn() {
    await using live = await startFront({ topics: ["Trade"] });
    const consumer = await startSimpleConsumer(live, { group: "fifo" });
    const producer = await startProducer(live);
    const first = await producer.send({
      topic: "Trade",
      messageGroup: "account-7",
      body: Buffer.from("1"),
    } as never);
    const second = await producer.send({
      topic: "Trade",
      messageGroup: "account-7",
      body: Buffer.from("2"),
    } as never);
    assertEquals((await live.broker.messages.get(first.messageId)).messageGroup, "account-7");
    const sentAt = Date.now();
    const delayed = await producer.send({
      topic: "Trade",
      tag: "Later",
      deliveryTimestamp: new Date(sentAt + 1_500),
      body: Buffer.from("later"),
    } as never);
    const got = await consumer.receive(16, 10_000);
    assertEquals(got.map((m) => m.messageId), [first.messageId, second.messageId]);
    assertEquals(got.map((m) => m.messageGroup), ["account-7", "account-7"]);
    for (const message of got) await consumer.ack(message);
    const later = await consumer.receive(16, 10_000);
    assertEquals(later.map((m) => m.messageId), [delayed.messageId]);
    assert(Date.now() - sentAt >= 1_400, "the delayed message came early");
    await consumer.ack(later[0]!);
  },
});

Deno.test({
  name: "a send to a missing topic is refused with TOPIC_NOT_FOUND",
  ...CLIENT_TEST,
  async fn() {
    await using live = await startFront({ topics: ["Trade"] });
    const producer = await startProducer(live, { maxAttempts: 1 });
    const error = await assertRejects(() =>
      producer.send({ topic: "Nowhere", body: Buffer.from("x") } as never)
    );
    assertMatch(String(error), /40402|TOPIC_NOT_FOUND|Cannot find topic/);
    assertEquals(await live.broker.topics.list().then((t) => t.map((x) => x.name)), ["Trade"]);
  },
});

Deno.test({
  name: "with ESCROW_GRPC_AUTO_CREATE_GROUPS=false a missing group is CONSUMER_GROUP_NOT_FOUND",
  ...CLIENT_TEST,
  async fn() {
    await using live = await startFront({ autoCreateGroups: false, topics: ["Trade"] });
    const consumer = await startSimpleConsumer(live, { group: "ghost", awaitDuration: 1_000 });
    const error = await assertRejects(() => consumer.receive(1, 10_000));
    assertMatch(String(error), /40403|CONSUMER_GROUP_NOT_FOUND|Cannot find group/);
    assertEquals((await live.broker.groups.list()).length, 0);
  },
});

Deno.test({
  name: "a message published over HTTP is consumed over gRPC, and one sent over gRPC over HTTP",
  ...CLIENT_TEST,
  async fn() {
    await using live = await startFront({ topics: ["Trade"] });
    const consumer = await startSimpleConsumer(live, {
      group: "grpc-side",
      subscriptions: { Trade: "Ops" },
    });
    const put = await fetch(`${live.url}/v1/groups/http-side`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ subscriptions: [{ topic: "Trade", tags: "Grpc" }] }),
    });
    assertEquals(put.status, 201);
    await put.body?.cancel();
    const published = await fetch(`${live.url}/v1/topics/Trade/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tag: "Ops", body: { amount: 5 }, properties: { desk: "fx" } }),
    }).then((res) => res.json());
    const got = await consumer.receive(16, 10_000);
    assertEquals(got.map((m) => m.messageId), [published.messageId]);
    assertEquals(JSON.parse(decoder.decode(got[0]!.body)), { amount: 5 });
    assertEquals(got[0]!.properties.get("desk"), "fx");
    await consumer.ack(got[0]!);

    const producer = await startProducer(live);
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const receipt = await producer.send({
      topic: "Trade",
      tag: "Grpc",
      body: Buffer.from(bytes),
    } as never);
    const received = await fetch(`${live.url}/v1/groups/http-side/receive`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ waitSeconds: 5 }),
    }).then((res) => res.json());
    assertEquals(received.messages.length, 1);
    assertEquals(received.messages[0].messageId, receipt.messageId);
    assertEquals(received.messages[0].bodyBase64, encodeBase64(bytes));
    const view = await fetch(`${live.url}/v1/messages/${receipt.messageId}`).then((r) => r.json());
    assertEquals(view.tag, "Grpc");
  },
});
