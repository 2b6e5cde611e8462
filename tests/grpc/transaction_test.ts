import { assertEquals } from "@std/assert";
import { Producer } from "rocketmq-client-nodejs";
import { waitFor } from "../_process.ts";
import { GrpcFront } from "../../src/grpc/mod.ts";
import { TokenSet } from "../../src/http/auth/token_set.ts";
import {
  CLIENT_TEST,
  QUIET_LOGGER,
  startFront,
  startProducer,
  startSimpleConsumer,
} from "./_front.ts";

/** `apache.rocketmq.v2.TransactionResolution` values a TransactionChecker returns. */
const COMMIT = 1;
const ROLLBACK = 2;

Deno.test({
  name:
    "transactions from the official client: committed, rolled back, and committed by check-back",
  ...CLIENT_TEST,
  async fn() {
    await using live = await startFront({ checkAfterSeconds: 1, topics: ["Trade"] });
    const consumer = await startSimpleConsumer(live, { group: "ledger", awaitDuration: 2_000 });
    const checked: string[] = [];
    const producer = await startProducer(live, {
      checker: {
        check(view) {
          checked.push(view.messageId);
          return Promise.resolve(
            new TextDecoder().decode(view.body) === "orphan" ? COMMIT : ROLLBACK,
          );
        },
      },
    });
    const send = async (text: string) => {
      const transaction = producer.beginTransaction();
      const receipt = await producer.send(
        { topic: "Trade", tag: "Tx", body: Buffer.from(text) } as never,
        transaction,
      );
      return { transaction, receipt };
    };
    const committed = await send("committed");
    await committed.transaction.commit();
    const rolledBack = await send("rolled back");
    await rolledBack.transaction.rollback();
    const orphan = await send("orphan"); // neither: the checker decides

    const txOf = (messageId: string) =>
      live.broker.messages.get(messageId).then((m) => m.transaction?.state);
    assertEquals(await txOf(committed.receipt.messageId), "committed");
    assertEquals(await txOf(rolledBack.receipt.messageId), "rolledBack");
    assertEquals(await txOf(orphan.receipt.messageId), "executing");
    await waitFor(() => txOf(orphan.receipt.messageId), (s) => s === "committed", {
      timeoutMs: 15_000,
      what: "the check-back's commit",
    });
    assertEquals(checked, [orphan.receipt.messageId]);
    const orphanView = await live.broker.messages.get(orphan.receipt.messageId);
    assertEquals(
      orphanView.transaction?.history.map((e) => e.type).filter((t) => t.startsWith("CheckBack")),
      ["CheckBackRequested", "CheckBackAnswered"],
    );

    const seen: string[] = [];
    for (let round = 0; round < 3 && seen.length < 2; round++) {
      for (const message of await consumer.receive(16, 10_000)) {
        seen.push(message.messageId);
        await consumer.ack(message);
      }
    }
    assertEquals(seen.sort(), [committed.receipt.messageId, orphan.receipt.messageId].sort());
    assertEquals(await consumer.receive(16, 10_000), []); // the rolled-back one never comes
  },
});

Deno.test({
  name: "a check-back reaches a producer connected to another instance, through KV",
  ...CLIENT_TEST,
  async fn() {
    await using live = await startFront({ checkAfterSeconds: 1, topics: ["Trade"] });
    // A second front on the same KV: started last, its hub routes this broker's check-backs,
    // and it holds no producer, so the command must go through the first one's KV inbox.
    const other = await GrpcFront.start(live.broker, live.kv, { port: 0, hostname: "127.0.0.1" });
    try {
      const checked: string[] = [];
      const producer = await startProducer(live, {
        topics: ["Trade"],
        checker: {
          check(view) {
            checked.push(view.messageId);
            return Promise.resolve(COMMIT);
          },
        },
      });
      const transaction = producer.beginTransaction();
      const receipt = await producer.send(
        { topic: "Trade", body: Buffer.from("elsewhere") } as never,
        transaction,
      );
      await waitFor(
        () => live.broker.messages.get(receipt.messageId).then((m) => m.transaction?.state),
        (s) => s === "committed",
        { timeoutMs: 15_000, what: "the commit through the other instance" },
      );
      assertEquals(checked, [receipt.messageId]);
    } finally {
      await other.close();
    }
  },
});

Deno.test({
  name:
    "with no live producer, a gRPC transaction's check-back falls back to its producer group's checkUrl",
  ...CLIENT_TEST,
  async fn() {
    await using checkEndpoint = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => Response.json({ state: "rollback" }),
    );
    await using live = await startFront({
      checkAfterSeconds: 1,
      producerGroup: "wallet",
      topics: ["Trade"],
    });
    await live.broker.topics.setProducerGroup("wallet", {
      checkUrl: `http://127.0.0.1:${checkEndpoint.addr.port}/check`,
    });
    const producer = new Producer({
      endpoints: live.endpoints,
      logger: QUIET_LOGGER,
      checker: { check: () => Promise.resolve(COMMIT) }, // never asked: it has gone
    } as never);
    await producer.startup();
    const transaction = producer.beginTransaction();
    const receipt = await producer.send(
      { topic: "Trade", body: Buffer.from("abandoned") } as never,
      transaction,
    );
    await producer.shutdown(); // gone before its check-back: no Telemetry stream serves it
    const view = await waitFor(
      () => live.broker.messages.get(receipt.messageId).then((m) => m.transaction),
      (t) => t?.state === "rolledBack",
      { timeoutMs: 15_000, what: "the rollback through the checkUrl" },
    );
    assertEquals(view?.producerGroup, "wallet");
  },
});

Deno.test({
  name:
    "a producer that may not publish on a topic is never sent its check-backs (they carry bodies)",
  ...CLIENT_TEST,
  async fn() {
    const tokens = TokenSet.of([
      { name: "wallet", token: "w-secret", permissions: ["publish:Trade", "decide:*"] },
      { name: "snoop", token: "s-secret", permissions: ["read"] },
    ]);
    await using live = await startFront({ checkAfterSeconds: 1, tokens, topics: ["Trade"] });
    const seenBySnoop: string[] = [];
    await startProducer(live, {
      namespace: "",
      topics: ["Trade"], // declares the topic, but holds no publish:Trade
      sessionCredentials: { accessKey: "snoop", accessSecret: "s-secret" },
      checker: {
        check: (view) => {
          seenBySnoop.push(view.messageId);
          return Promise.resolve(ROLLBACK);
        },
      },
    });
    const wallet = await startProducer(live, {
      namespace: "",
      sessionCredentials: { accessKey: "wallet", accessSecret: "w-secret" },
      checker: { check: () => Promise.resolve(COMMIT) },
    });
    const transaction = wallet.beginTransaction();
    const receipt = await wallet.send({ topic: "Trade", body: Buffer.from("secret") }, transaction);
    await wallet.shutdown(); // gone: the snoop is the only producer connected
    // No live producer may take the check (and there is no checkUrl): it fails, unseen.
    const view = await waitFor(
      () => live.broker.messages.get(receipt.messageId).then((m) => m.transaction),
      (t) => t?.history.some((e) => e.type === "CheckBackFailed") === true,
      { timeoutMs: 15_000, what: "the check-back without a producer" },
    );
    assertEquals(view?.state, "executing");
    assertEquals(seenBySnoop, []);
  },
});
