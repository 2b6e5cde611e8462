/**
 * kill -9 during transactional sends from the official client: after a
 * restart on the same KV file, nothing committed is lost, nothing rolled
 * back is delivered, and transactions the crash left open are decided by the
 * client's TransactionChecker through check-back on the new process.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import { Producer, SimpleConsumer } from "rocketmq-client-nodejs";
import { BrokerProcess, waitFor } from "../_process.ts";
import { CLIENT_TEST, QUIET_LOGGER } from "./_front.ts";

const COMMIT = 1;
const ROLLBACK = 2;

/** The gRPC endpoint a broker process printed at start-up. */
async function grpcEndpoint(broker: BrokerProcess): Promise<string> {
  const match = await broker.waitForOutput(/RocketMQ gRPC endpoint: \S+:(\d+)/);
  return `127.0.0.1:${match[1]}`;
}

/** A producer whose checker commits bodies starting "commit" and rolls back the rest. */
function producerFor(endpoints: string) {
  return new Producer({
    endpoints,
    namespace: "",
    topics: ["Trade"],
    maxAttempts: 1,
    logger: QUIET_LOGGER,
    checker: {
      check: (view) =>
        Promise.resolve(view.body.toString().startsWith("commit") ? COMMIT : ROLLBACK),
    },
  });
}

Deno.test({
  name:
    "kill -9 during transactional sends: committed kept, rolled back never delivered, open ones checked back",
  ...CLIENT_TEST,
  async fn() {
    // The client leaves some calls to the killed process unhandled (its heartbeat, its
    // telemetry stream): those rejections are the crash, not the test's failure.
    const lost = /UNAVAILABLE|RST_STREAM|ECONNRESET|ECONNREFUSED/;
    const lostConnection = (event: PromiseRejectionEvent) => {
      if (lost.test(String(event.reason))) event.preventDefault();
    };
    const lostStream = (event: ErrorEvent) => {
      if (lost.test(String(event.error ?? event.message))) event.preventDefault();
    };
    globalThis.addEventListener("unhandledrejection", lostConnection);
    globalThis.addEventListener("error", lostStream);
    const dir = await Deno.makeTempDir({ prefix: "escrow_grpc_crash_" });
    const kvPath = join(dir, "escrow.kv");
    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    const sent = new Map<string, string>(); // message id → body
    try {
      {
        await using before = await BrokerProcess.spawn(kvPath);
        for (const path of ["/v1/topics/Trade"]) {
          const res = await fetch(`${before.url}${path}`, { method: "PUT" });
          await res.body?.cancel();
        }
        const put = await fetch(`${before.url}/v1/groups/ledger`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ subscriptions: [{ topic: "Trade" }] }),
        });
        assertEquals(put.status, 201);
        await put.body?.cancel();
        const producer = producerFor(await grpcEndpoint(before));
        await producer.startup();
        let killed = false;
        const one = async (i: number) => {
          const body = i % 2 === 0 ? `commit-${i}` : `rollback-${i}`;
          const transaction = producer.beginTransaction();
          const receipt = await producer.send(
            { topic: "Trade", body: Buffer.from(body) },
            transaction,
          );
          sent.set(receipt.messageId, body);
          if (i % 5 === 4) return; // left open: the checker decides after the restart
          if (body.startsWith("commit")) {
            await transaction.commit();
            if (!killed) committed.add(receipt.messageId);
          } else {
            await transaction.rollback();
            if (!killed) rolledBack.add(receipt.messageId);
          }
        };
        for (let i = 0; i < 10; i++) await one(i); // decided (or left open) before the crash
        const burst = Array.from({ length: 30 }, (_, i) => one(10 + i).catch(() => {}));
        await waitFor(() => sent.size, (n) => n >= 15, { timeoutMs: 10_000, what: "sends" });
        killed = true;
        const status = await before.kill("SIGKILL");
        assertEquals(status.signal, "SIGKILL");
        await Promise.all(burst);
        await producer.shutdown().catch(() => {});
      }
      assert(committed.size > 0 && rolledBack.size > 0, "the kill came before any decision");
      await using after = await BrokerProcess.spawn(kvPath);
      const endpoints = await grpcEndpoint(after);
      const producer = producerFor(endpoints);
      await producer.startup();
      const consumer = new SimpleConsumer({
        endpoints,
        namespace: "",
        consumerGroup: "ledger",
        subscriptions: new Map([["Trade", "*"]]),
        awaitDuration: 2_000,
        logger: QUIET_LOGGER,
      });
      await consumer.startup();
      try {
        const stateOf = async (id: string) =>
          (await fetch(`${after.url}/v1/messages/${id}`).then((r) => r.json())).transaction?.state;
        // Every transaction the first process stored is decided: by its producer, or by the
        // checker after the restart (the first check-back comes 6 s after the prepare).
        for (const id of sent.keys()) {
          await waitFor(() => stateOf(id), (s) => s === "committed" || s === "rolledBack", {
            timeoutMs: 25_000,
            what: `a decision for ${id}`,
          });
        }
        for (const id of committed) assertEquals(await stateOf(id), "committed");
        for (const id of rolledBack) assertEquals(await stateOf(id), "rolledBack");
        const delivered = new Set<string>();
        for (let round = 0; round < 10; round++) {
          const batch = await consumer.receive(32, 10_000);
          if (batch.length === 0 && round > 0) break;
          for (const message of batch) {
            delivered.add(message.messageId);
            await consumer.ack(message);
          }
        }
        for (const id of committed) assert(delivered.has(id), `committed ${id} was lost`);
        for (const id of delivered) {
          assert(sent.get(id)?.startsWith("commit"), `${sent.get(id)} was delivered`);
        }
      } finally {
        await consumer.shutdown().catch(() => {});
        await producer.shutdown().catch(() => {});
      }
    } finally {
      globalThis.removeEventListener("unhandledrejection", lostConnection);
      globalThis.removeEventListener("error", lostStream);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
