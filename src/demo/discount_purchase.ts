/**
 * Scenario 2, Discount Purchase: the wallet recharges the Boshi Wallet and
 * buys a money-market fund in one local transaction, sent as a transactional
 * message; the fund-purchase service consumes it and buys the target fund at
 * a zero fee, idempotently. Four runs: success, local failure, a wallet crash
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

  /** The local transaction: recharge and buy the money-market fund atomically. */
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

/** The fund-purchase service: buys the target fund at zero fee, once per message. */
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

/**
 * Runs the four Discount Purchase runs against a broker.
 *
 * @example
 * ```ts
 * import { runDiscountPurchase } from "./discount_purchase.ts";
 * import { Narrator, startDemoBroker } from "./harness.ts";
 * await using broker = await startDemoBroker();
 * await runDiscountPurchase(broker.client, new Narrator());
 * ```
 */
export async function runDiscountPurchase(
  client: EscrowClient,
  narrator: Narrator,
): Promise<void> {
  narrator.section("Scenario 2: Discount Purchase (transactional message)");
  using walletKv = await Deno.openKv(":memory:");
  using fundKv = await Deno.openKv(":memory:");
  const wallet = new Wallet(walletKv);
  const funds = new FundPurchase(fundKv);
  await walletKv.set(["bank_balance", "alice"], 1_000_000);
  await walletKv.set(["bank_balance", "bob"], 500);

  await client.createTopic("Trade");
  await client.putGroup("fund-purchase", {
    subscriptions: [{ topic: "Trade", tags: "DiscountPurchase" }],
    maxRetries: 3,
    retryDelaysSeconds: [0.2],
  });
  let crashed = false;
  const producer = new TransactionProducer(client, {
    topic: "Trade",
    producerGroup: "wallet",
    checkAfterSeconds: 0.5,
    checkIntervalSeconds: 0.5,
    checkLocalTransaction: async (message) =>
      await wallet.committed(message.transactionId) ? "commit" : "rollback",
  });
  await using checkServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    producer.fetch,
  );
  await client.setProducerGroup("wallet", `http://127.0.0.1:${checkServer.addr.port}/check`);
  narrator.step("wallet registered its check-back endpoint for producer group 'wallet'");

  const consumer = new Consumer(client, "fund-purchase", funds.handle, { waitSeconds: 1 });
  consumer.start();
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
    const success = await buy({
      customerId: "alice",
      rechargeCents: 10_000,
      targetFund: "CSI300-INDEX",
    });
    narrator.step(`success: local transaction committed, broker says ${success.state}`);
    await until(async () => await funds.purchases(success.transactionId) === 1, 10_000);
    narrator.check(
      await funds.purchases(success.transactionId) === 1,
      "success: the target fund was bought once, at zero fee",
    );

    // 2. Local failure.
    const failure = await buy({
      customerId: "bob",
      rechargeCents: 10_000,
      targetFund: "GLOBAL-BOND",
    });
    narrator.step(`local failure: insufficient balance, broker says ${failure.state}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rolledBack = await client.getMessage(failure.messageId);
    narrator.check(
      failure.state === "rolledBack" && rolledBack.publishedAt === undefined &&
        await funds.purchases(failure.transactionId) === 0,
      "local failure: rolled back and never delivered",
    );

    // 3. The wallet crashes after its local commit, before telling the broker.
    const crash = await buy(
      { customerId: "alice", rechargeCents: 20_000, targetFund: "GLOBAL-BOND" },
      true,
    );
    narrator.step(`wallet crash: local commit done, broker still says ${crash.state}`);
    await until(async () => await funds.purchases(crash.transactionId) === 1, 10_000);
    const checked = await client.getTransaction(crash.transactionId);
    narrator.check(
      crashed && checked.state === "committed" && checked.reason === "checkBack" &&
        await funds.purchases(crash.transactionId) === 1,
      `wallet crash: check-back (${checked.checks} check) committed it; bought once`,
    );

    // 4. A consumer bug: an unknown fund fails every attempt until the retries end.
    const buggy = await buy({ customerId: "alice", rechargeCents: 5_000, targetFund: "NEW-ESG" });
    narrator.step(`consumer bug: fund NEW-ESG is missing from the catalogue (${buggy.state})`);
    await until(async () => (await client.getGroup("fund-purchase")).deadLettered > 0, 10_000);
    const dead = await client.deadLetters("fund-purchase");
    const letter = dead.messages.find((m) => m.messageId === buggy.messageId);
    narrator.check(
      letter?.attempts === 4,
      `consumer bug: dead-lettered after ${letter?.attempts} attempts (${letter?.lastError})`,
    );
    narrator.step("ALERT: fund-purchase has a dead letter; operations adds NEW-ESG and redrives");
    funds.catalog.add("NEW-ESG");
    const { redriven } = await client.redrive("fund-purchase");
    await until(async () => await funds.purchases(buggy.transactionId) === 1, 10_000);
    narrator.check(
      redriven === 1 && await funds.purchases(buggy.transactionId) === 1,
      "consumer bug: after the fix the redriven message was bought once",
    );
  } finally {
    await consumer.stop();
  }
  const stats = await client.getGroup("fund-purchase");
  narrator.check(
    stats.acked === 3 && stats.deadLettered === 0 && stats.inFlight === 0,
    `fund-purchase: ${stats.acked} acked, ${stats.deadLettered} dead letters left`,
  );
}
