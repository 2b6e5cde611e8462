/**
 * What the dashboard tests share: a broker on `:memory:` KV with its app,
 * and a small fund-company scene put in place through the JSON API (topics,
 * groups, normal and transactional messages, an ack and a dead letter), so
 * the pages have something real to show.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { Broker } from "../../src/engine/broker.ts";
import { type AppOptions, createApp } from "../../src/http/app.ts";

/** Sends one JSON request and returns the answer's JSON (asserting a 2xx). */
export type Call = (method: string, path: string, json?: unknown) => Promise<unknown>;

/** A broker and its app over `:memory:` KV; disposing stops the broker and closes KV. */
export interface DashboardFixture extends AsyncDisposable {
  readonly kv: Deno.Kv;
  readonly broker: Broker;
  readonly app: ReturnType<typeof createApp>;
  /** A JSON call through `app.request()`. */
  readonly call: Call;
}

/**
 * Opens a broker (sweep mode, real clock, jobs not started) and its app;
 * `headers` go with every {@linkcode DashboardFixture.call} (a token).
 *
 * @example
 * ```ts
 * import { openDashboard } from "./_dashboard.ts";
 * await using fx = await openDashboard();
 * ```
 */
export async function openDashboard(
  options: AppOptions = {},
  headers: Record<string, string> = {},
): Promise<DashboardFixture> {
  const kv = await Deno.openKv(":memory:");
  const broker = await Broker.open(kv, { schedulerMode: "sweep" });
  const app = createApp(broker, options);
  const call: Call = async (method, path, json) => {
    const res = await app.request(path, {
      method,
      headers: { "content-type": "application/json", ...headers },
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
    });
    const text = await res.text();
    assert(res.ok, `${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  return {
    kv,
    broker,
    app,
    call,
    async [Symbol.asyncDispose]() {
      await broker.stop();
      kv.close();
    },
  };
}

/** Ids of what {@linkcode seedScene} made. */
export interface Scene {
  /** A normal Trade message with key `order-1001`, acked by `settlement`, dead in `audit`. */
  readonly deadMessageId: string;
  /** A committed transaction's ids. */
  readonly committed: { transactionId: string; messageId: string };
  /** A transaction still executing. */
  readonly open: { transactionId: string; messageId: string };
}

/**
 * Puts a small scene in place through the API: topics Trade and Wallet,
 * groups `settlement` and `audit` (no retries) on Trade, a few messages, one
 * committed and one open transaction; `settlement` acks what it gets and
 * `audit` fails its first message into the dead letters.
 *
 * @example
 * ```ts
 * import { openDashboard, seedScene } from "./_dashboard.ts";
 * await using fx = await openDashboard();
 * const scene = await seedScene(fx.call);
 * ```
 */
export async function seedScene(call: Call): Promise<Scene> {
  await call("PUT", "/v1/topics/Trade");
  await call("PUT", "/v1/topics/Wallet");
  await call("PUT", "/v1/groups/settlement", { subscriptions: [{ topic: "Trade" }] });
  await call("PUT", "/v1/groups/audit", {
    subscriptions: [{ topic: "Trade", tags: "FundPurchase" }],
    maxRetries: 0,
  });
  const dead = await call("POST", "/v1/topics/Trade/messages", {
    tag: "FundPurchase",
    keys: ["order-1001"],
    body: { order: 1001, fund: "F-042", amount: 5000 },
  }) as { messageId: string };
  const committed = await call("POST", "/v1/topics/Trade/transactions", {
    tag: "FundPurchase",
    keys: ["order-1002"],
    producerGroup: "purchases",
    body: { order: 1002, amount: 1200 },
  }) as { transactionId: string; messageId: string };
  await call("POST", `/v1/transactions/${committed.transactionId}/commit`);
  const open = await call("POST", "/v1/topics/Trade/transactions", {
    tag: "FundPurchase",
    keys: ["order-1003"],
    producerGroup: "purchases",
    body: { order: 1003, amount: 800 },
  }) as { transactionId: string; messageId: string };
  await call("POST", "/v1/topics/Wallet/messages", { tag: "Recharge", body: { wallet: 7 } });
  const got = await call("POST", "/v1/groups/audit/receive", { max: 1 }) as {
    messages: { messageId: string; receiptHandle: string }[];
  };
  await call("POST", "/v1/groups/audit/nack", {
    receiptHandles: got.messages.map((m) => m.receiptHandle),
    reason: "fund F-042 is closed for purchases",
  });
  const settled = await call("POST", "/v1/groups/settlement/receive", { max: 10 }) as {
    messages: { receiptHandle: string }[];
  };
  await call("POST", "/v1/groups/settlement/ack", {
    receiptHandles: settled.messages.map((m) => m.receiptHandle),
  });
  return {
    deadMessageId: dead.messageId,
    committed: { transactionId: committed.transactionId, messageId: committed.messageId },
    open: { transactionId: open.transactionId, messageId: open.messageId },
  };
}
