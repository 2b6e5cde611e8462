/**
 * RocketMQ's `TransactionListener` model over HTTP: `send` prepares a half
 * message, runs the local transaction, then commits or rolls back; a throw
 * or "unknown" leaves the decision to check-back, which `fetch` answers by
 * asking `checkLocalTransaction` (so it must read durable state, never memory).
 *
 * @module
 */
import type { CheckBackRequest } from "../domain/wire.ts";
import { checkSignature, secretsOf } from "./signed_request.ts";
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
  /**
   * The secret `register()` gives the producer group, which the broker signs
   * check-backs with. @default {undefined} (`register()` sets no secret)
   */
  readonly secret?: string;
  /**
   * Secrets `fetch` accepts besides `secret`, for rotation: add the new one
   * here, then `register()` with it as `secret`, then drop the old one. With
   * any secret set, an unsigned or stale check-back is refused (401).
   * @default {[]}
   */
  readonly secrets?: readonly string[];
  /** Oldest accepted `Escrow-Timestamp` of a check-back, in seconds from now. @default {300} */
  readonly toleranceSeconds?: number;
  /** Current time in ms, for the timestamp check. @default {Date.now} */
  readonly clock?: () => number;
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
  readonly #secrets: readonly string[];

  /** Creates the producer; call {@linkcode register} once to set the group's check URL. */
  constructor(client: EscrowClient, options: TransactionProducerOptions) {
    this.#client = client;
    this.#options = options;
    this.#secrets = secretsOf(options);
    this.fetch = this.fetch.bind(this);
  }

  /** Sets the producer group's check URL (needs `checkUrl`) and `secret` on the broker. */
  async register(): Promise<void> {
    const { checkUrl, secret, producerGroup } = this.#options;
    if (checkUrl === undefined) {
      throw new TypeError("Cannot register producer group: checkUrl is not set");
    }
    await this.#client.setProducerGroup(
      producerGroup,
      checkUrl,
      secret !== undefined ? { secret } : {},
    );
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
   * mount in any server (Hono, `Deno.serve`, Node). With `secret` or
   * `secrets` set, a call that is unsigned, badly signed or stale is a 401.
   */
  async fetch(request: Request): Promise<Response> {
    if (request.method !== "POST") return new Response("method not allowed", { status: 405 });
    const raw = await request.text();
    const secrets = this.#secrets;
    if (secrets.length > 0) {
      const refused = await checkSignature(request.headers, raw, secrets, this.#options);
      if (refused !== undefined) return new Response(refused, { status: 401 });
    }
    let message: CheckBackMessage;
    try {
      message = JSON.parse(raw);
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
