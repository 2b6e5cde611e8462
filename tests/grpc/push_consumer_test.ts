import { assertEquals, assertGreaterOrEqual } from "@std/assert";
import { ConsumeResult, PushConsumer } from "rocketmq-client-nodejs";
import { waitFor } from "../_process.ts";
import { CLIENT_TEST, QUIET_LOGGER, startFront, startProducer } from "./_front.ts";

Deno.test({
  name: "a PushConsumer whose listener fails has the message dead-lettered by the group's policy",
  ...CLIENT_TEST,
  async fn() {
    await using live = await startFront({ topics: ["Trade"] });
    const put = await fetch(`${live.url}/v1/groups/settlement`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        subscriptions: [{ topic: "Trade", tags: "*" }],
        maxRetries: 2,
        retryDelaysSeconds: [0],
      }),
    });
    assertEquals(put.status, 201);
    await put.body?.cancel();
    const attempts: number[] = [];
    const consumer = live.track(
      new PushConsumer({
        endpoints: live.endpoints,
        consumerGroup: "settlement",
        subscriptions: new Map([["Trade", "*"]]),
        logger: QUIET_LOGGER,
        messageListener: {
          consume(view: { deliveryAttempt: number }) {
            attempts.push(view.deliveryAttempt);
            return ConsumeResult.FAILURE;
          },
        },
      } as never),
    );
    await consumer.startup();
    const producer = await startProducer(live);
    const receipt = await producer.send({
      topic: "Trade",
      tag: "Settle",
      body: Buffer.from("never settles"),
    } as never);
    const letters = await waitFor(
      () =>
        fetch(`${live.url}/v1/groups/settlement/dead-letters`).then((r) => r.json()) as Promise<
          { messages: { messageId: string }[] }
        >,
      (body) => body.messages.length > 0,
      { timeoutMs: 20_000, what: "the dead letter" },
    );
    assertEquals(letters.messages.map((m) => m.messageId), [receipt.messageId]);
    assertEquals(attempts, [1, 2, 3]); // maxRetries 2: three attempts, then the group dead-letters
    const view = await fetch(`${live.url}/v1/messages/${receipt.messageId}`).then((r) => r.json());
    const delivery = view.deliveries.find((d: { group: string }) => d.group === "settlement");
    assertEquals(delivery.state, "deadLettered");
    assertGreaterOrEqual(delivery.history.length, 4);
    // Each failure is the listener's, reported at once, not a visibility timeout run out.
    assertEquals(
      delivery.attempts.map((a: { error?: string }) => a.error),
      Array(3).fill("consumer failed (push listener)"),
    );
  },
});
