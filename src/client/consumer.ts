/**
 * A pull consumer: long-polls its group, runs the handler with a
 * concurrency limit, acks what succeeded (in batches), nacks what threw,
 * extends the visibility of long-running handlers, and stops gracefully.
 *
 * @module
 */
import type { EscrowClient, ReceivedMessage } from "./client.ts";

/** Options of {@linkcode Consumer}. */
export interface ConsumerOptions {
  /** Handlers running at once. @default {16} */
  readonly concurrency?: number;
  /** Long-poll wait per receive, in seconds. @default {20} */
  readonly waitSeconds?: number;
  /** Visibility timeout asked for each message, in seconds. @default {30} */
  readonly visibilityTimeoutSeconds?: number;
  /** Called when something fails outside a handler (receive, ack). @default {console.error} */
  readonly onError?: (error: unknown) => void;
}

/**
 * Consumes a pull group.
 *
 * @example
 * ```ts
 * import { EscrowClient } from "./client.ts";
 * import { Consumer } from "./consumer.ts";
 * const consumer = new Consumer(new EscrowClient("http://127.0.0.1:8000"), "ops",
 *   async (message) => console.log(message.body));
 * consumer.start();
 * await consumer.stop(); // finishes in-flight work and acks it
 * ```
 */
export class Consumer {
  readonly #client: EscrowClient;
  readonly #group: string;
  readonly #handler: (message: ReceivedMessage) => unknown | Promise<unknown>;
  readonly #concurrency: number;
  readonly #waitSeconds: number;
  readonly #visibilitySeconds: number;
  readonly #onError: (error: unknown) => void;
  readonly #running = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #toAck: string[] = [];
  #flushing: Promise<void> = Promise.resolve();
  #loop: Promise<void> | undefined;

  /** Creates a consumer of `group`; it starts with {@linkcode start}. */
  constructor(
    client: EscrowClient,
    group: string,
    handler: (message: ReceivedMessage) => unknown | Promise<unknown>,
    options: ConsumerOptions = {},
  ) {
    this.#client = client;
    this.#group = group;
    this.#handler = handler;
    this.#concurrency = options.concurrency ?? 16;
    this.#waitSeconds = options.waitSeconds ?? 20;
    this.#visibilitySeconds = options.visibilityTimeoutSeconds ?? 30;
    this.#onError = options.onError ?? ((error) => console.error("consumer:", error));
  }

  /** Starts polling. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops polling, waits for running handlers, acks their messages, then resolves. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop?.catch(() => {});
    await Promise.allSettled([...this.#running]);
    await this.#flushing;
    await this.#flush();
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const free = this.#concurrency - this.#running.size;
      if (free <= 0) {
        await Promise.race(this.#running);
        continue;
      }
      let messages: ReceivedMessage[];
      try {
        messages = await this.#client.receive(this.#group, {
          max: free,
          waitSeconds: this.#running.size > 0 ? 1 : this.#waitSeconds,
          visibilityTimeoutSeconds: this.#visibilitySeconds,
          signal,
        });
      } catch (error) {
        if (signal.aborted) return;
        this.#onError(error);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        continue;
      }
      for (const message of messages) {
        const task = this.#handle(message).finally(() => this.#running.delete(task));
        this.#running.add(task);
      }
    }
  }

  async #handle(message: ReceivedMessage): Promise<void> {
    let handle = message.receiptHandle;
    let extending: Promise<void> = Promise.resolve();
    // Extend visibility at two thirds of the timeout while the handler runs.
    const every = this.#visibilitySeconds * 1000 * 2 / 3;
    const timer = setInterval(() => {
      extending = extending.then(() =>
        this.#client.changeVisibility(this.#group, handle, this.#visibilitySeconds)
          .then((extended) => {
            handle = extended.receiptHandle;
          })
          .catch((error) => this.#onError(error))
      );
    }, every);
    let failure: unknown;
    let failed = false;
    try {
      await this.#handler(message);
    } catch (error) {
      failed = true;
      failure = error;
    }
    clearInterval(timer);
    // An extension still in flight replaces the handle: settle with the newest one.
    await extending;
    if (!failed) {
      this.#toAck.push(handle);
      this.#scheduleFlush();
      return;
    }
    const reason = (failure instanceof Error ? failure.message : String(failure)).slice(0, 1024) ||
      "handler failed";
    await this.#client.nack(this.#group, [handle], { reason })
      .catch((cause) => this.#onError(cause));
  }

  #scheduleFlush(): void {
    this.#flushing = this.#flushing.then(() => this.#flush());
  }

  async #flush(): Promise<void> {
    if (this.#toAck.length === 0) return;
    const handles = this.#toAck;
    this.#toAck = [];
    try {
      const result = await this.#client.ack(this.#group, handles);
      for (const failed of result.failed) {
        this.#onError(new Error(`ack failed for a message: ${failed.reason}`));
      }
    } catch (error) {
      this.#onError(error);
    }
  }
}
