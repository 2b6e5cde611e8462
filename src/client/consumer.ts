/**
 * A pull consumer: takes its group's messages over a consumer stream (a
 * WebSocket the broker pushes to, within a credit window of `concurrency`)
 * or, where the stream is refused or unavailable, by long polls; runs the
 * handler with a concurrency limit, acks what succeeded (in batches), nacks
 * what threw, extends the visibility of long-running handlers, and stops
 * gracefully.
 *
 * @module
 */
import type { EscrowClient, FailedHandle, ReceivedMessage } from "./client.ts";
import { ConsumerStream } from "./consumer_stream.ts";
import { EscrowError } from "./errors.ts";

/** Most messages one receive asks for: the broker's limit of `max`. */
const MAX_RECEIVE_BATCH = 256;

/**
 * How a {@linkcode Consumer} gets its messages: `"auto"` opens a stream and
 * falls back to long polls for good when the broker refuses it (a stream
 * that drops after opening is opened again); `"stream"` keeps retrying the
 * stream; `"poll"` only long-polls.
 */
export type ConsumerTransport = "auto" | "stream" | "poll";

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
  /**
   * How long {@linkcode Consumer.stop} lets an open receive answer before
   * aborting it, in ms. An answer already on its way when the poll is cut is
   * lost to both sides, its messages in flight until their visibility
   * timeout; the grace lets such an answer land and be handled. @default {200}
   */
  readonly stopGraceMs?: number;
  /** How messages arrive (see {@linkcode ConsumerTransport}). @default {"auto"} */
  readonly transport?: ConsumerTransport;
  /**
   * Told of every ack the broker answered: the handles sent and those it
   * refused (benchmarks and metrics count with it). @default {undefined}
   */
  readonly onAcked?: (receiptHandles: readonly string[], failed: readonly FailedHandle[]) => void;
}

/** A handle to ack, and the stream its message came on (`undefined`: a long poll). */
interface ToAck {
  readonly handle: string;
  readonly stream: ConsumerStream | undefined;
}

/**
 * Consumes a pull group.
 *
 * Over a stream the broker pushes at most `concurrency` messages beyond
 * those handled (a credit per free handler, granted again as each handler
 * ends), so the consumer never holds more than it runs; acks, nacks and
 * visibility changes go on the same socket. `stop()` asks the broker to stop
 * pushing, handles and settles what came before it did, then closes; a
 * stream that closes under the consumer has its unsettled messages released
 * by the broker at once.
 *
 * {@linkcode Consumer.stop} leaves nothing it received unsettled: every
 * message a receive returned, even one that answers after `stop()` was
 * called, is handed to the handler and acked or nacked before `stop()`
 * resolves. A consumer runs once: {@linkcode Consumer.start} after `stop()`
 * throws.
 *
 * @example Processing one message, then stopping
 * ```ts
 * import { EscrowClient } from "./client.ts";
 * import { Consumer } from "./consumer.ts";
 * const handled = Promise.withResolvers<void>();
 * const consumer = new Consumer(new EscrowClient("http://127.0.0.1:8000"), "ops",
 *   (message) => {
 *     console.log(message.body);
 *     handled.resolve();
 *   });
 * consumer.start();
 * await handled.promise;
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
  readonly #stopGraceMs: number;
  /** Aborts the open receive (after the grace) and the pause after a failed one. */
  readonly #abort = new AbortController();
  #stopping = false;
  /** The open receive, if any. */
  #receiving: Promise<unknown> | undefined;
  readonly #transport: ConsumerTransport;
  readonly #onAcked: ConsumerOptions["onAcked"];
  /** The open stream, if any. */
  #stream: ConsumerStream | undefined;
  #toAck: ToAck[] = [];
  #flushing: Promise<void> = Promise.resolve();
  #loop: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  #polling = false;

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
    this.#stopGraceMs = options.stopGraceMs ?? 200;
    this.#transport = options.transport ?? "auto";
    this.#onAcked = options.onAcked;
  }

  /** How the consumer gets messages now: over a stream, by long polls, or not yet known. */
  get via(): "stream" | "poll" | "connecting" {
    if (this.#stream?.isOpen) return "stream";
    return this.#polling ? "poll" : "connecting";
  }

  /**
   * Starts polling; calling it again while running does nothing.
   *
   * @throws {TypeError} After {@linkcode stop}: a stopped consumer cannot be
   * restarted (its poll is aborted for good); create a new `Consumer`.
   */
  start(): void {
    if (this.#stopping) {
      throw new TypeError("Cannot start a consumer: it has been stopped; create a new Consumer");
    }
    this.#loop ??= this.#run();
  }

  /**
   * Stops gracefully; calling it again returns the same promise.
   *
   * No receive starts after this call. The open long poll gets
   * `stopGraceMs` to answer, then is aborted. A receive the broker had begun
   * to answer still returns its messages (see {@linkcode EscrowClient.receive}),
   * and they are handed to the handler like any other, not released. The
   * promise resolves once every message this consumer received has been
   * handled and its ack or nack sent to the broker (failures of those calls
   * go to `onError`). A poll cut before its answer came leaves its messages
   * to the broker, which then holds no lease for us or releases the one it
   * took; only an answer the broker finished sending in the instant of the
   * cut is lost to both sides and waits out its visibility timeout.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#shutdown();
    return this.#stopped;
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    // The broker answers `stopped` after its last push; the stream loop ends then.
    this.#stream?.stop();
    if (this.#receiving) await settledWithin(this.#receiving, this.#stopGraceMs);
    this.#abort.abort();
    // The loop ends after its last receive, whose messages it has started by then.
    await this.#loop?.catch((error) => this.#onError(error));
    // Nothing adds handlers once the loop is over, so this set is the last one.
    await Promise.allSettled([...this.#running]);
    await this.#flushing;
    await this.#flush();
    // Everything it pushed is settled: closing now releases nothing.
    await this.#stream?.close();
  }

  async #run(): Promise<void> {
    if (this.#transport !== "poll" && await this.#streamLoop() === "done") return;
    if (this.#stopping) return;
    this.#polling = true;
    await this.#pollLoop();
  }

  /**
   * Consumes over streams until stopped (`"done"`), or until one is refused
   * (`"refused"`) under the `"auto"` transport. A stream that closes after
   * opening is opened again.
   */
  async #streamLoop(): Promise<"done" | "refused"> {
    const signal = this.#abort.signal;
    let failures = 0;
    while (!this.#stopping) {
      const stream = ConsumerStream.open(this.#client, this.#group, {
        visibilityTimeoutSeconds: this.#visibilitySeconds,
      });
      stream.onProblem = (problem) => this.#onError(new Error(`stream: ${problem.detail}`));
      stream.onMessages = (messages) => {
        for (const message of messages) {
          const task = this.#handle(message, stream).finally(() => {
            this.#running.delete(task);
            if (!this.#stopping) stream.grant(1);
          });
          this.#running.add(task);
        }
      };
      this.#stream = stream;
      if (!await stream.opened) {
        if (this.#transport === "auto") return "refused";
        if (this.#stopping) return "done";
        this.#onError(new Error("Cannot open the consumer stream: the broker refused it"));
        await pause(Math.min(1_000 * ++failures, 5_000), signal);
        continue;
      }
      failures = 0;
      if (this.#stopping) {
        stream.stop();
      } else {
        stream.grant(this.#concurrency - this.#running.size);
      }
      const end = await Promise.race([stream.stopped.then(() => undefined), stream.ended]);
      if (end === undefined && this.#stopping) return "done"; // shutdown settles and closes it
      const ended = await stream.ended;
      if (this.#stopping) return "done";
      this.#onError(new Error(`consumer stream closed (${ended.code} ${ended.reason}); reopening`));
      await pause(200, signal);
    }
    return "done";
  }

  async #pollLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!this.#stopping) {
      const free = this.#concurrency - this.#running.size;
      if (free <= 0) {
        await Promise.race(this.#running);
        continue;
      }
      let messages: ReceivedMessage[];
      try {
        const receiving = this.#client.receive(this.#group, {
          max: Math.min(free, MAX_RECEIVE_BATCH),
          waitSeconds: this.#running.size > 0 ? 1 : this.#waitSeconds,
          visibilityTimeoutSeconds: this.#visibilitySeconds,
          signal,
        });
        this.#receiving = receiving;
        messages = await receiving;
      } catch (error) {
        if (this.#stopping) return;
        this.#onError(error);
        await pause(retryPauseMs(error), signal);
        continue;
      } finally {
        this.#receiving = undefined;
      }
      // Even when stop() was called meanwhile: these are leased to us, so
      // they run now rather than wait out their visibility timeout.
      for (const message of messages) {
        const task = this.#handle(message, undefined).finally(() => this.#running.delete(task));
        this.#running.add(task);
      }
    }
  }

  /** Settles over `stream` while it is open, else over HTTP. */
  async #handle(message: ReceivedMessage, stream: ConsumerStream | undefined): Promise<void> {
    const on = () => stream?.isOpen ? stream : undefined;
    let handle = message.receiptHandle;
    let extending: Promise<void> = Promise.resolve();
    // Extend visibility at two thirds of the timeout while the handler runs.
    const every = this.#visibilitySeconds * 1000 * 2 / 3;
    const timer = setInterval(() => {
      extending = extending.then(() =>
        (on()?.changeVisibility(handle, this.#visibilitySeconds) ??
          this.#client.changeVisibility(this.#group, handle, this.#visibilitySeconds))
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
      this.#toAck.push({ handle, stream });
      this.#scheduleFlush();
      return;
    }
    const reason = (failure instanceof Error ? failure.message : String(failure)).slice(0, 1024) ||
      "handler failed";
    await (on()?.nack([handle], { reason }) ??
      this.#client.nack(this.#group, [handle], { reason }))
      .catch((cause) => this.#onError(cause));
  }

  #scheduleFlush(): void {
    this.#flushing = this.#flushing.then(() => this.#flush());
  }

  async #flush(): Promise<void> {
    if (this.#toAck.length === 0) return;
    const batch = this.#toAck;
    this.#toAck = [];
    // Over the stream each came on while it is open; over HTTP otherwise (a
    // closed stream's broker has released them, and says so per handle).
    const byStream = new Map<ConsumerStream | undefined, string[]>();
    for (const { handle, stream } of batch) {
      const key = stream?.isOpen ? stream : undefined;
      byStream.set(key, [...byStream.get(key) ?? [], handle]);
    }
    await Promise.all([...byStream].map(async ([stream, handles]) => {
      try {
        const result: { failed: FailedHandle[] } = stream
          ? await stream.ack(handles)
          : await this.#client.ack(this.#group, handles);
        this.#onAcked?.(handles, result.failed);
        for (const failed of result.failed) {
          this.#onError(new Error(`ack failed for a message: ${failed.reason}`));
        }
      } catch (error) {
        this.#onError(error);
      }
    }));
  }
}

/** Waits `ms`, or less when `signal` aborts first. */
/** Longest pause {@linkcode retryPauseMs} asks for, whatever the broker says. */
const MAX_RETRY_PAUSE_MS = 30_000;

/**
 * How long a consumer waits after a failed receive: what the broker asked
 * for when it refused the receive for load (a 429 or 503 problem's
 * `retryAfterSeconds`, which it also sends as `Retry-After`), at most 30 s;
 * 1 s after any other failure.
 *
 * @example
 * ```ts
 * import { retryPauseMs } from "./consumer.ts";
 * import { EscrowError } from "./errors.ts";
 * const busy = new EscrowError({ type: "x", title: "Too many requests", status: 429, detail: "", retryAfterSeconds: 3 });
 * console.log(retryPauseMs(busy)); // 3000
 * console.log(retryPauseMs(new Error("connection reset"))); // 1000
 * ```
 */
export function retryPauseMs(error: unknown): number {
  if (error instanceof EscrowError && (error.status === 429 || error.status === 503)) {
    const seconds = Number(error.problem.retryAfterSeconds);
    if (Number.isFinite(seconds) && seconds > 0) {
      return Math.min(seconds * 1_000, MAX_RETRY_PAUSE_MS);
    }
  }
  return 1_000;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Resolves when `promise` settles or `ms` has passed, whichever comes first. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      promise.then(() => {}, () => {}),
      new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
