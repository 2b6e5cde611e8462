/**
 * Coalescing publishes into batches, as Kafka's producer does with
 * `linger.ms`: publishes to one topic made within `lingerMs` of the first
 * go out as one `POST /v1/topics/{topic}/messages/batch`, and each caller
 * gets its own message's result or its own error. A lone publish (nothing
 * else came within the linger) and a message too large to share a request
 * go as a single publish, exactly as without batching. A batch goes out
 * early when it reaches {@linkcode MAX_BATCH} messages or
 * {@linkcode MAX_BATCH_CHARS} of JSON, so it stays within the broker's
 * limits.
 *
 * @module
 */
import { EscrowError, type ProblemDetails } from "./errors.ts";

/** Most messages in one batch (the broker's limit). */
export const MAX_BATCH = 1000;
/** Most JSON characters of one batch's messages (below the broker's 6 MiB request limit). */
export const MAX_BATCH_CHARS = 4 * 1024 * 1024;
/** A message whose JSON is longer than this goes as a single publish. */
export const MAX_SHARED_MESSAGE_CHARS = 256 * 1024;

/** What the broker answers for one message of a batch. */
export type BatchItemAnswer<R> =
  | (R & { readonly status: 200 | 201 })
  | { readonly status: number; readonly problem: ProblemDetails };

/** How the batcher reaches the broker. */
export interface BatchTransport<M, R> {
  /** Publishes one message on its own (`POST /v1/topics/{topic}/messages`). */
  one(topic: string, message: M): Promise<R>;
  /** Publishes the messages whose JSON texts are `texts`; resolves with one answer per message. */
  many(topic: string, texts: readonly string[]): Promise<readonly BatchItemAnswer<R>[]>;
}

interface Waiting<M, R> {
  readonly message: M;
  readonly text: string;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

interface Pending<M, R> {
  readonly items: Waiting<M, R>[];
  chars: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Collects concurrent publishes per topic and sends them together.
 *
 * @example
 * ```ts ignore
 * import { PublishBatcher } from "./publish_batcher.ts";
 * declare const transport: import("./publish_batcher.ts").BatchTransport<{ body: number }, { messageId: string }>;
 * const batcher = new PublishBatcher(transport, 1);
 * const [a, b] = await Promise.all([batcher.add("Trade", { body: 1 }), batcher.add("Trade", { body: 2 })]);
 * ```
 */
export class PublishBatcher<M, R> {
  readonly #transport: BatchTransport<M, R>;
  readonly #lingerMs: number;
  readonly #pending = new Map<string, Pending<M, R>>();

  /**
   * Creates a batcher that waits at most `lingerMs` after a topic's first
   * waiting publish before sending.
   *
   * @throws {RangeError} when `lingerMs` is negative or not finite.
   */
  constructor(transport: BatchTransport<M, R>, lingerMs: number) {
    if (!Number.isFinite(lingerMs) || lingerMs < 0) {
      throw new RangeError(
        `Cannot batch publishes: lingerMs must be ≥ 0, current value is ${lingerMs}`,
      );
    }
    this.#transport = transport;
    this.#lingerMs = lingerMs;
  }

  /** Publishes `message` to `topic`, alone or with others sent within the linger. */
  add(topic: string, message: M): Promise<R> {
    const text = JSON.stringify(message);
    if (text.length > MAX_SHARED_MESSAGE_CHARS) return this.#transport.one(topic, message);
    let pending = this.#pending.get(topic);
    if (pending && pending.chars + text.length > MAX_BATCH_CHARS) {
      this.#flush(topic);
      pending = undefined;
    }
    if (!pending) {
      pending = { items: [], chars: 0, timer: undefined };
      this.#pending.set(topic, pending);
    }
    const { promise, resolve, reject } = Promise.withResolvers<R>();
    pending.items.push({ message, text, resolve, reject });
    pending.chars += text.length;
    if (pending.items.length >= MAX_BATCH) this.#flush(topic);
    else pending.timer ??= setTimeout(() => this.#flush(topic), this.#lingerMs);
    return promise;
  }

  /** Sends what waits for `topic` now. */
  #flush(topic: string): void {
    const pending = this.#pending.get(topic);
    if (!pending) return;
    this.#pending.delete(topic);
    clearTimeout(pending.timer);
    const { items } = pending;
    if (items.length === 1) {
      const [only] = items as [Waiting<M, R>];
      this.#transport.one(topic, only.message).then(only.resolve, only.reject);
      return;
    }
    this.#transport.many(topic, items.map((item) => item.text)).then(
      (answers) => {
        if (answers.length !== items.length) {
          const error = new TypeError(
            `Cannot read the batch answer: ${answers.length} results for ${items.length} messages`,
          );
          for (const item of items) item.reject(error);
          return;
        }
        items.forEach((item, k) => {
          const answer = answers[k]!;
          if ("problem" in answer) item.reject(new EscrowError(answer.problem));
          else {
            const { status: _, ...result } = answer;
            item.resolve(result as R);
          }
        });
      },
      (error) => {
        for (const item of items) item.reject(error);
      },
    );
  }
}
