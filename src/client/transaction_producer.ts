/**
 * RocketMQ's `TransactionListener` model over HTTP: `send` prepares a half
 * message, runs the local transaction, then commits or rolls back; a throw
 * or "unknown" leaves the decision to check-back, which `fetch` answers by
 * asking `checkLocalTransaction` (so it must read durable state, never memory).
 *
 * @module
 */
import type { CheckBackRequest } from "../domain/wire.ts";
import type {
  EscrowClient,
  PrepareInput,
  PublishInput,
  TransactionResult,
  TransactionState,
} from "./client.ts";

/** What a local transaction or a check returns. */
export type LocalTransactionState = "commit" | "rollback" | "unknown";

/** The half message as the local transaction sees it. */
export interface HalfMessage {
  readonly transactionId: string;
  readonly messageId: string;
  readonly topic: string;
}

/** What the broker sends on check-back (the broker's own request type). */
export type CheckBackMessage = CheckBackRequest;

/** Options of {@linkcode TransactionProducer}. */
export interface TransactionProducerOptions {
  readonly topic: string;
  readonly producerGroup: string;
  /**
   * Answers check-back from durable state: did the local transaction commit?
   * An async function (a promise return keeps "commit" a literal for TypeScript).
   */
  readonly checkLocalTransaction: (message: CheckBackMessage) => Promise<LocalTransactionState>;
  /** Where the broker calls back; also set as the producer group's URL by `register()`. */
  readonly checkUrl?: string;
  /** First check-back after this many seconds. @default {6} (the broker's default) */
  readonly checkAfterSeconds?: number;
  /** Seconds between check-backs. @default {30} */
  readonly checkIntervalSeconds?: number;
  /** Check-backs before giving up. @default {15} */
  readonly maxChecks?: number;
}

/** What `send` returns. */
export interface SendResult extends TransactionResult {
  /** What the local transaction returned ("unknown" when it threw). */
  readonly localState: LocalTransactionState;
  /** The local transaction's error, when it threw. */
  readonly error?: unknown;
}

/** The message fields `send` accepts. */
export type TransactionalMessage =
  & Omit<PublishInput, "dedupId">
  & Pick<PrepareInput, "transactionId">;

/**
 * A transactional producer.
 *
 * @example
 * ```ts
 * import { EscrowClient } from "./client.ts";
 * import { TransactionProducer } from "./transaction_producer.ts";
 * const ledger = new Set<string>();
 * const producer = new TransactionProducer(new EscrowClient("http://127.0.0.1:8000"), {
 *   topic: "Trade",
 *   producerGroup: "wallet",
 *   checkLocalTransaction: async (msg) => ledger.has(msg.transactionId) ? "commit" : "rollback",
 * });
 * await producer.send({ tag: "DiscountPurchase", body: { amount: 100 } }, async (tx) => {
 *   ledger.add(tx.transactionId);
 *   return "commit";
 * });
 * ```
 */
export class TransactionProducer {
  readonly #client: EscrowClient;
  readonly #options: TransactionProducerOptions;

  /** Creates the producer; call {@linkcode register} once to set the group's check URL. */
  constructor(client: EscrowClient, options: TransactionProducerOptions) {
    this.#client = client;
    this.#options = options;
    this.fetch = this.fetch.bind(this);
  }

  /** Sets the producer group's check URL on the broker (needs `checkUrl`). */
  async register(): Promise<void> {
    if (this.#options.checkUrl === undefined) {
      throw new TypeError("Cannot register producer group: checkUrl is not set");
    }
    await this.#client.setProducerGroup(this.#options.producerGroup, this.#options.checkUrl);
  }

  /**
   * Prepares the half message, runs `executeLocal`, then commits or rolls
   * back. A throw or "unknown" leaves the transaction to check-back.
   */
  async send(
    message: TransactionalMessage,
    executeLocal: (tx: HalfMessage) => Promise<LocalTransactionState>,
  ): Promise<SendResult> {
    const o = this.#options;
    const prepared = await this.#client.prepare(o.topic, {
      ...message,
      producerGroup: o.producerGroup,
      ...(o.checkUrl !== undefined ? { checkUrl: o.checkUrl } : {}),
      ...(o.checkAfterSeconds !== undefined ? { checkAfterSeconds: o.checkAfterSeconds } : {}),
      ...(o.checkIntervalSeconds !== undefined
        ? { checkIntervalSeconds: o.checkIntervalSeconds }
        : {}),
      ...(o.maxChecks !== undefined ? { maxChecks: o.maxChecks } : {}),
    });
    let localState: LocalTransactionState;
    let error: unknown;
    try {
      localState = await executeLocal({
        transactionId: prepared.transactionId,
        messageId: prepared.messageId,
        topic: o.topic,
      });
    } catch (cause) {
      localState = "unknown";
      error = cause;
    }
    let state: TransactionState = prepared.state;
    if (localState === "commit") state = (await this.#client.commit(prepared.transactionId)).state;
    if (localState === "rollback") {
      state = (await this.#client.rollback(prepared.transactionId)).state;
    }
    return { ...prepared, state, localState, ...(error !== undefined ? { error } : {}) };
  }

  /**
   * The check-back handler: a standard `(Request) => Promise<Response>` to
   * mount in any server (Hono, `Deno.serve`, Node).
   */
  async fetch(request: Request): Promise<Response> {
    if (request.method !== "POST") return new Response("method not allowed", { status: 405 });
    let message: CheckBackMessage;
    try {
      message = await request.json();
    } catch {
      return new Response("invalid JSON", { status: 400 });
    }
    try {
      const state = await this.#options.checkLocalTransaction(message);
      return Response.json({ state });
    } catch {
      return Response.json({ state: "unknown" satisfies LocalTransactionState });
    }
  }
}
