/**
 * Running a check-back: the job that asks a silent producer how its local
 * transaction ended, and records what it said (or why it could not say) as
 * the transaction's next event.
 *
 * @module
 */
import type { TransactionEvent } from "../../domain/events.ts";
import { readMessage } from "../../store/message_store.ts";
import type { EngineDeps } from "../deps.ts";
import type { Topics } from "../publishing/mod.ts";
import { callCheckBack, type CheckBackRequest } from "./check_back.ts";
import type { Transactions } from "./transactions.ts";

/**
 * Hands a check-back to a live producer connection (a RocketMQ client's
 * Telemetry stream, on this or another instance) and resolves true when one
 * took it: its answer then comes as a decision of its own, so the check is
 * recorded as asked (answer `unknown`) and the next one stays armed.
 * Resolves false when no live producer serves the topic (the URL is used).
 */
export type LiveCheckRoute = (request: CheckBackRequest) => Promise<boolean>;

/**
 * Check-back calls to producers.
 *
 * @example
 * ```ts
 * import { CheckBacks } from "./check_backs.ts";
 * declare const checkBacks: CheckBacks;
 * await checkBacks.run("t1", 1);
 * ```
 */
export class CheckBacks {
  readonly #deps: EngineDeps;
  readonly #transactions: Transactions;
  readonly #topics: Topics;
  readonly #timeoutMs: number | undefined;
  #liveRoute: LiveCheckRoute | undefined;

  /** Creates the runner; `timeoutMs` bounds one call (default 5 s). */
  constructor(
    deps: EngineDeps,
    transactions: Transactions,
    topics: Topics,
    options: { timeoutMs?: number } = {},
  ) {
    this.#deps = deps;
    this.#transactions = transactions;
    this.#topics = topics;
    this.#timeoutMs = options.timeoutMs;
  }

  /**
   * Asks live producer connections first (the gRPC front sets this), before
   * any check URL; `undefined` removes the route.
   */
  routeLive(route: LiveCheckRoute | undefined): void {
    this.#liveRoute = route;
  }

  /**
   * Runs check-back number `check` of a transaction: asks the producer (at
   * the transaction's `checkUrl`, else its producer group's) and records the
   * answer or the failure; a stale job (the transaction moved on) does nothing.
   */
  async run(transactionId: string, check: number): Promise<void> {
    const view = await this.#transactions.get(transactionId);
    if (view.state !== "checking" || view.checks !== check) return; // stale job
    const prepared = view.history[0]?.data as { checkUrl?: string } | undefined;
    // The producer group's secret signs every check-back of its transactions, whichever URL.
    const group = view.producerGroup !== undefined
      ? await this.#topics.producerGroup(view.producerGroup)
      : undefined;
    const url = prepared?.checkUrl ?? group?.checkUrl;
    const record = await readMessage(this.#deps.kv, view.messageId);
    let event: TransactionEvent;
    const at = () => this.#deps.clock();
    const request: CheckBackRequest = {
      transactionId,
      messageId: view.messageId,
      topic: view.topic,
      keys: record?.keys ?? [],
      properties: record?.properties ?? {},
      checkCount: check,
      ...(view.tag !== undefined ? { tag: view.tag } : {}),
      ...(view.producerGroup !== undefined ? { producerGroup: view.producerGroup } : {}),
    };
    if (this.#liveRoute && await this.#liveRoute(request)) {
      event = { type: "CheckBackAnswered", data: { check, answer: "unknown" }, at: at() };
    } else if (url === undefined) {
      event = {
        type: "CheckBackFailed",
        data: { check, error: "no check URL: set checkUrl or the producer group's checkUrl" },
        at: at(),
      };
    } else {
      const outcome = await callCheckBack(this.#deps.outbound, url, request, {
        now: at(),
        ...(group?.secret !== undefined ? { secret: group.secret } : {}),
        ...(this.#timeoutMs !== undefined ? { timeoutMs: this.#timeoutMs } : {}),
      });
      event = outcome.ok
        ? { type: "CheckBackAnswered", data: { check, answer: outcome.answer }, at: at() }
        : { type: "CheckBackFailed", data: { check, error: outcome.error }, at: at() };
    }
    if (!(await this.#transactions.record(transactionId, event))) return; // moved on meanwhile
    const { logger, metrics } = this.#deps;
    if (event.type === "CheckBackAnswered") {
      metrics.checkBack(event.data.answer);
      return;
    }
    metrics.checkBack("failed");
    if (event.type === "CheckBackFailed") {
      logger.warn(
        "checkBack.failed",
        `check-back ${check} of transaction ${transactionId} failed: ${event.data.error}`,
        {
          transactionId,
          messageId: view.messageId,
          topic: view.topic,
          check,
          error: event.data.error,
        },
      );
    }
  }
}
