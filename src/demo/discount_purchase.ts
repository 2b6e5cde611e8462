/**
 * Scenario 2, Discount Purchase, in two steps joined by one transactional
 * message: the wallet recharge (the wallet system's local transaction: bank
 * balance into the Boshi Wallet's money-market fund) and the fund purchase
 * (the trading system consumes the message and buys the target fund at a zero
 * fee, idempotently). Four runs: success, local failure, a wallet crash
 * between its local commit and telling the broker, and a consumer that fails
 * until its retries end (dead letter, alert, redrive after the fix).
 *
 * @module
 */
import {
  Consumer,
  type EscrowClient,
  idempotent,
  type ReceivedMessage,
  TransactionProducer,
} from "../client/mod.ts";
import { type Narrator, until } from "./harness.ts";
import { DEMO_CHECK_BACK, DEMO_RETRIES, shortenedSettingsLines } from "./settings.ts";

/** The purchase the wallet asks for. */
interface PurchaseOrder {
  readonly customerId: string;
  readonly rechargeCents: number;
  readonly targetFund: string;
}

/** The wallet's own ledger, in a KV database of its own. */
class Wallet {
  readonly kv: Deno.Kv;

  constructor(kv: Deno.Kv) {
    this.kv = kv;
  }

  /** The wallet recharge, a local transaction: bank balance into the money-market fund, atomically. */
  async rechargeAndBuyMoneyFund(transactionId: string, order: PurchaseOrder): Promise<boolean> {
    const balanceKey = ["bank_balance", order.customerId];
    const balance = await this.kv.get<number>(balanceKey);
    if ((balance.value ?? 0) < order.rechargeCents) return false; // insufficient funds
    const result = await this.kv.atomic()
      .check(balance)
      .set(balanceKey, (balance.value ?? 0) - order.rechargeCents)
      .set(["money_fund", order.customerId, transactionId], order.rechargeCents)
      .set(["local_tx", transactionId], "committed")
      .commit();
    return result.ok;
  }

  /** Check-back reads durable state, never memory. */
  async committed(transactionId: string): Promise<boolean> {
    return (await this.kv.get(["local_tx", transactionId])).value === "committed";
  }
}

/** The trading system's fund purchase: buys the target fund at zero fee, once per message. */
class FundPurchase {
  readonly kv: Deno.Kv;
  readonly catalog = new Set(["CSI300-INDEX", "GLOBAL-BOND"]);
  readonly #buy: (message: ReceivedMessage) => Promise<boolean>;

  constructor(kv: Deno.Kv) {
    this.kv = kv;
    this.#buy = idempotent(kv, (message: ReceivedMessage, op) => {
      const order = message.body as PurchaseOrder;
      if (!this.catalog.has(order.targetFund)) {
        throw new Error(`unknown fund ${order.targetFund}`);
      }
      op.set(["purchase", message.transactionId ?? message.messageId], {
        fund: order.targetFund,
        cents: order.rechargeCents,
        feeCents: 0,
      });
    });
  }

  handle = async (message: ReceivedMessage): Promise<void> => {
    await this.#buy(message);
  };

  async purchases(transactionId: string): Promise<number> {
    return (await this.kv.get(["purchase", transactionId])).versionstamp === null ? 0 : 1;
  }
}

/** One run's ids, for the links the demo ends with. */
export interface PurchaseRun {
  readonly transactionId: string;
  readonly messageId: string;
}

/** The four runs of the scenario. */
export interface DiscountPurchaseRuns {
  readonly success: PurchaseRun;
  readonly localFailure: PurchaseRun;
  readonly walletCrash: PurchaseRun;
  readonly consumerBug: PurchaseRun;
}

/** The consumer group of the trading system, whose deliveries the inspector can open. */
export const FUND_PURCHASE_GROUP = "fund-purchase";

const yuan = (cents: number) => `¥${(cents / 100).toFixed(2)}`;

/**
 * Runs the four Discount Purchase runs against a broker and returns their ids.
 *
 * @example
 * ```ts
 * import { runDiscountPurchase } from "./discount_purchase.ts";
 * import { Narrator, startDemoBroker } from "./harness.ts";
 * await using broker = await startDemoBroker();
 * const runs = await runDiscountPurchase(broker.client, new Narrator());
 * console.log(runs.success.transactionId);
 * ```
 */
export async function runDiscountPurchase(
  client: EscrowClient,
  narrator: Narrator,
): Promise<DiscountPurchaseRuns> {
  narrator.section("Scenario 2: Discount Purchase (one transactional message joins two steps)");
  narrator.note(
    "step 1, the wallet recharge: the wallet system's local transaction moves the amount from " +
      "the customer's bank balance into the Boshi Wallet's money-market fund, in the wallet's " +
      "own database",
  );
  narrator.note(
    "step 2, the fund purchase: the trading system consumes the message (topic Trade, tag " +
      `DiscountPurchase, group ${FUND_PURCHASE_GROUP}) and buys the target fund at a zero fee, ` +
      "exactly once",
  );
  narrator.note(
    "the broker keeps the message back until the wallet recharge commits: no recharge, no " +
      "fund purchase",
  );
  for (const line of shortenedSettingsLines()) narrator.note(line);

  using walletKv = await Deno.openKv(":memory:");
  using fundKv = await Deno.openKv(":memory:");
  const wallet = new Wallet(walletKv);
  const funds = new FundPurchase(fundKv);
  await walletKv.set(["bank_balance", "alice"], 1_000_000);
  await walletKv.set(["bank_balance", "bob"], 500);

  await client.createTopic("Trade");
  await client.putGroup(FUND_PURCHASE_GROUP, {
    subscriptions: [{ topic: "Trade", tags: "DiscountPurchase" }],
    maxRetries: DEMO_RETRIES.maxRetries,
    retryDelaysSeconds: [...DEMO_RETRIES.retryDelaysSeconds],
  });
  let crashed = false;
  const producer = new TransactionProducer(client, {
    topic: "Trade",
    producerGroup: "wallet",
    ...DEMO_CHECK_BACK,
    checkLocalTransaction: async (message) =>
      await wallet.committed(message.transactionId) ? "commit" : "rollback",
  });
  await using checkServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    producer.fetch,
  );
  await client.setProducerGroup("wallet", `http://127.0.0.1:${checkServer.addr.port}/check`);
  narrator.step(
    "the wallet system registered its check-back endpoint (producer group 'wallet'): the broker " +
      "asks it whether a wallet recharge committed when the wallet goes silent",
  );

  const consumer = new Consumer(client, FUND_PURCHASE_GROUP, funds.handle, { waitSeconds: 1 });
  consumer.start();
  let runs: DiscountPurchaseRuns;
  try {
    const buy = (order: PurchaseOrder, crash = false) =>
      producer.send(
        { tag: "DiscountPurchase", keys: [order.customerId], body: order },
        async (tx) => {
          const ok = await wallet.rechargeAndBuyMoneyFund(tx.transactionId, order);
          if (!ok) return "rollback";
          if (crash) {
            crashed = true;
            throw new Error("wallet process died before telling the broker");
          }
          return "commit";
        },
      );

    // 1. Success.
    const successOrder = { customerId: "alice", rechargeCents: 10_000, targetFund: "CSI300-INDEX" };
    const success = await buy(successOrder);
    narrator.step(
      `run 1, success: wallet recharge of ${yuan(successOrder.rechargeCents)} for alice ` +
        `committed; the wallet told the broker, which says ${success.state}`,
    );
    await until(async () => await funds.purchases(success.transactionId) === 1, 10_000);
    narrator.check(
      await wallet.committed(success.transactionId) &&
        await funds.purchases(success.transactionId) === 1,
      `run 1, success: fund purchase of ${successOrder.targetFund} done once, at zero fee`,
    );

    // 2. Local failure.
    const failureOrder = { customerId: "bob", rechargeCents: 10_000, targetFund: "GLOBAL-BOND" };
    const failure = await buy(failureOrder);
    narrator.step(
      `run 2, local failure: wallet recharge of ${yuan(failureOrder.rechargeCents)} for bob ` +
        `refused (his bank balance is ${yuan(500)}); the broker says ${failure.state}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rolledBack = await client.getMessage(failure.messageId);
    narrator.check(
      failure.state === "rolledBack" && rolledBack.publishedAt === undefined &&
        !await wallet.committed(failure.transactionId) &&
        await funds.purchases(failure.transactionId) === 0,
      "run 2, local failure: no fund purchase, the message was rolled back and never delivered",
    );

    // 3. The wallet crashes after its local commit, before telling the broker.
    const crashOrder = { customerId: "alice", rechargeCents: 20_000, targetFund: "GLOBAL-BOND" };
    const crash = await buy(crashOrder, true);
    narrator.step(
      `run 3, wallet crash: wallet recharge of ${yuan(crashOrder.rechargeCents)} committed, then ` +
        `the wallet died before telling the broker, which still says ${crash.state}`,
    );
    await until(async () => await funds.purchases(crash.transactionId) === 1, 10_000);
    const checked = await client.getTransaction(crash.transactionId);
    narrator.check(
      crashed && checked.state === "committed" && checked.reason === "checkBack" &&
        await funds.purchases(crash.transactionId) === 1,
      "run 3, wallet crash: fund purchase done once, after check-back found the wallet " +
        `recharge committed (${checked.checks} ${checked.checks === 1 ? "check" : "checks"})`,
    );

    // 4. A consumer bug: an unknown fund fails every attempt until the retries end.
    const buggyOrder = { customerId: "alice", rechargeCents: 5_000, targetFund: "NEW-ESG" };
    const buggy = await buy(buggyOrder);
    narrator.step(
      `run 4, consumer bug: wallet recharge of ${yuan(buggyOrder.rechargeCents)} committed ` +
        `(broker says ${buggy.state}), but the fund purchase fails: NEW-ESG is missing from ` +
        "the trading system's catalogue",
    );
    await until(
      async () => (await client.getGroup(FUND_PURCHASE_GROUP)).deadLettered > 0,
      10_000,
    );
    const dead = await client.deadLetters(FUND_PURCHASE_GROUP);
    const letter = dead.messages.find((m) => m.messageId === buggy.messageId);
    const attempts = DEMO_RETRIES.maxRetries + 1;
    narrator.check(
      letter?.attempts === attempts && await wallet.committed(buggy.transactionId),
      `run 4, consumer bug: the fund purchase was dead-lettered after ${letter?.attempts} ` +
        `attempts (1 + ${DEMO_RETRIES.maxRetries} retries; last error: ${letter?.lastError}); ` +
        "the wallet recharge stays committed",
    );
    narrator.step(
      `run 4, ALERT: ${FUND_PURCHASE_GROUP} has a dead letter; operations adds NEW-ESG to the ` +
        "catalogue and redrives it",
    );
    funds.catalog.add("NEW-ESG");
    const { redriven } = await client.redrive(FUND_PURCHASE_GROUP);
    await until(async () => await funds.purchases(buggy.transactionId) === 1, 10_000);
    narrator.check(
      redriven === 1 && await funds.purchases(buggy.transactionId) === 1,
      "run 4, consumer bug: after the fix the redriven fund purchase was done once",
    );
    const ids = (r: PurchaseRun): PurchaseRun => ({
      transactionId: r.transactionId,
      messageId: r.messageId,
    });
    runs = {
      success: ids(success),
      localFailure: ids(failure),
      walletCrash: ids(crash),
      consumerBug: ids(buggy),
    };
  } finally {
    await consumer.stop();
  }
  // After stop(): the last ack has reached the broker.
  const stats = await client.getGroup(FUND_PURCHASE_GROUP);
  narrator.check(
    stats.acked === 3 && stats.deadLettered === 0 && stats.inFlight === 0,
    `${FUND_PURCHASE_GROUP}: ${stats.acked} fund purchases acked, ${stats.deadLettered} dead ` +
      "letters left",
  );
  return runs;
}
