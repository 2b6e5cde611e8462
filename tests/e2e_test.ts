/**
 * End to end over real sockets: the broker serves its HTTP API on 127.0.0.1
 * in this process, on a KV file, with its scheduler running for real, and
 * calls back a real producer endpoint. Every flow runs once per scheduler
 * mode, since the two notice due jobs in different ways.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertGreaterOrEqual } from "@std/assert/greater-or-equal";
import type { SchedulerMode } from "../src/engine/jobs/scheduler.ts";
import { EscrowApi, type EventJson, type TransactionJson } from "./_process.ts";
import { serveBroker } from "./_support/broker.ts";
import { checkAnswer, CheckEndpoint } from "./_support/check_endpoint.ts";

const MODES: readonly SchedulerMode[] = ["queue", "sweep"];

/** Runs `fn` against a broker served on 127.0.0.1 over a temp KV file, then tears it all down. */
async function withServedBroker(
  mode: SchedulerMode,
  fn: (api: EscrowApi) => Promise<void>,
): Promise<void> {
  await using live = await serveBroker({ kv: "temp-file", schedulerMode: mode, start: true });
  assertEquals(live.broker.scheduler.mode, mode);
  await fn(new EscrowApi(live.url));
}

/** The events after `TransactionPrepared` and `LocalTransactionStarted`, without times. */
function checkEvents(tx: TransactionJson): Array<Omit<EventJson, "at">> {
  assertEquals(
    tx.history.slice(0, 2).map((event) => event.type),
    ["TransactionPrepared", "LocalTransactionStarted"],
  );
  return tx.history.slice(2).map(({ type, data }) => ({ type, data }));
}

for (const mode of MODES) {
  Deno.test(`an executing transaction is committed by its second check-back after "unknown" (${mode} scheduler)`, async () => {
    await withServedBroker(mode, async (api) => {
      await using endpoint = CheckEndpoint.serve((call) =>
        checkAnswer(call.checkCount === 1 ? "unknown" : "commit")
      );
      await api.createTopic("Orders");
      const prepared = await api.prepare("Orders", {
        tag: "Paid",
        keys: ["order-1"],
        properties: { region: "SH" },
        body: { orderId: 1 },
        checkUrl: endpoint.url,
        checkAfterSeconds: 0.2,
        checkIntervalSeconds: 0.2,
      });
      assertEquals(prepared.state, "executing");
      const half = await api.message(prepared.messageId);
      assertEquals(half.publishedAt, undefined, "a half message is not visible");
      assertEquals(await api.idsByKey("Orders", "order-1"), []);

      const tx = await api.waitForDecision(prepared.transactionId);

      assertEquals(tx.state, "committed");
      assertEquals(tx.reason, "checkBack");
      assertEquals(tx.checks, 2);
      assert(tx.decidedAt !== undefined);
      assertEquals(checkEvents(tx), [
        { type: "CheckBackRequested", data: { check: 1 } },
        { type: "CheckBackAnswered", data: { check: 1, answer: "unknown" } },
        { type: "CheckBackRequested", data: { check: 2 } },
        { type: "CheckBackAnswered", data: { check: 2, answer: "commit" } },
      ]);
      const calls = endpoint.callsFor(prepared.transactionId);
      assertEquals(
        calls.map(({ receivedAt: _, ...call }) => call),
        [1, 2].map((
          checkCount,
        ) => ({
          transactionId: prepared.transactionId,
          messageId: prepared.messageId,
          topic: "Orders",
          tag: "Paid",
          keys: ["order-1"],
          properties: { region: "SH" },
          checkCount,
        })),
      );
      const createdAt = Date.parse(tx.createdAt);
      assertGreaterOrEqual(calls[0]!.receivedAt - createdAt, 190, "first check after 0.2 s");
      assertGreaterOrEqual(calls[1]!.receivedAt - calls[0]!.receivedAt, 190, "then every 0.2 s");

      const message = await api.message(prepared.messageId);
      assert(message.publishedAt !== undefined, "the committed message is visible");
      assertEquals(message.body, { orderId: 1 });
      assertEquals(message.history.map((event) => event.type), ["MessagePublished"]);
      assertEquals(await api.idsByKey("Orders", "order-1"), [prepared.messageId]);
      assertEquals((await api.topic("Orders")).counts, {
        published: 1,
        prepared: 1,
        committed: 1,
        rolledBack: 0,
      });
    });
  });

  Deno.test(`a producer group's check URL answers for a transaction without its own (${mode} scheduler)`, async () => {
    await withServedBroker(mode, async (api) => {
      await using endpoint = CheckEndpoint.serve(() => checkAnswer("rollback"));
      await api.createTopic("Orders");
      await api.setProducerGroup("billing", endpoint.url);
      const prepared = await api.prepare("Orders", {
        tag: "Paid",
        keys: ["order-2"],
        producerGroup: "billing",
        checkAfterSeconds: 0.2,
      });

      const tx = await api.waitForDecision(prepared.transactionId);

      assertEquals(tx.state, "rolledBack");
      assertEquals(tx.reason, "checkBack");
      assertEquals(tx.checks, 1);
      assertEquals(tx.producerGroup, "billing");
      assertEquals(checkEvents(tx), [
        { type: "CheckBackRequested", data: { check: 1 } },
        { type: "CheckBackAnswered", data: { check: 1, answer: "rollback" } },
      ]);
      const calls = endpoint.callsFor(prepared.transactionId);
      assertEquals(calls.length, 1);
      assertEquals(calls[0]!.producerGroup, "billing");
      assertEquals(calls[0]!.checkCount, 1);
      const message = await api.message(prepared.messageId);
      assertEquals(message.publishedAt, undefined, "a rolled-back message is never visible");
      assertEquals(message.history, []);
      assertEquals(await api.idsByKey("Orders", "order-2"), []);
    });
  });

  Deno.test(`check-backs answered with HTTP 500 then bad JSON exhaust maxChecks and roll back (${mode} scheduler)`, async () => {
    await withServedBroker(mode, async (api) => {
      await using endpoint = CheckEndpoint.serve((call) =>
        call.checkCount === 1
          ? new Response("boom", { status: 500 })
          : new Response("{ not json", { headers: { "content-type": "application/json" } })
      );
      await api.createTopic("Orders");
      const prepared = await api.prepare("Orders", {
        keys: ["order-3"],
        checkUrl: endpoint.url,
        checkAfterSeconds: 0.2,
        checkIntervalSeconds: 0.2,
        maxChecks: 2,
      });

      const tx = await api.waitForDecision(prepared.transactionId);

      assertEquals(tx.state, "rolledBack");
      assertEquals(tx.reason, "checksExhausted");
      assertEquals(tx.checks, 2);
      assertEquals(checkEvents(tx), [
        { type: "CheckBackRequested", data: { check: 1 } },
        { type: "CheckBackFailed", data: { check: 1, error: "producer answered HTTP 500" } },
        { type: "CheckBackRequested", data: { check: 2 } },
        {
          type: "CheckBackFailed",
          data: { check: 2, error: "producer answered with invalid JSON" },
        },
      ]);
      assertEquals(endpoint.callsFor(prepared.transactionId).map((c) => c.checkCount), [1, 2]);

      const late = await api.decide(prepared.transactionId, "commit");
      assertEquals(late.status, 409, "a late commit cannot resurrect an exhausted transaction");
      const message = await api.message(prepared.messageId);
      assertEquals(message.publishedAt, undefined, "the message never becomes visible");
      assertEquals(message.history, []);
      assertEquals(await api.idsByKey("Orders", "order-3"), []);
      assertEquals((await api.topic("Orders")).counts, {
        published: 0,
        prepared: 1,
        committed: 0,
        rolledBack: 1,
      });
    });
  });
}
