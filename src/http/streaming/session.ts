/**
 * One consumer stream's session on the broker: the credit window, the push
 * loop and the settling frames of one WebSocket.
 *
 * The loop receives through the engine's facade (`broker.deliveries`) with
 * `max` = the credits left and a long wait, so a stream waits exactly as a
 * long poll does, on the process's shared wake hub, and sees a committed
 * message as soon as its commit bumps a topic head. Each pushed message uses
 * a credit; only the client gives credits back (`{"type":"credit","n":k}`),
 * so the broker never has more messages out on a stream than the client
 * asked for, whatever it acks (the SDK grants one back per message it has
 * handled, as RabbitMQ's prefetch or NATS's max-ack-pending would).
 *
 * Ending: a `stop` frame ends the pushing (a receive in progress is
 * aborted; what it had started is released by the facade) and is answered
 * with `stopped` after the last `messages` frame, so a client that has
 * settled everything it got before `stopped` holds nothing. When the socket
 * closes, cleanly or not, every message pushed on it and not acked or nacked
 * on it is released at once (its attempt fails as "released" and the message
 * is deliverable again now), as the long-poll path does for a consumer that
 * went away: nobody can settle over a closed socket, and a consumer that
 * closes without settling is gone, so waiting out the visibility timeout
 * would only delay the message.
 *
 * @module
 */
import { BrokerError } from "../../domain/errors.ts";
import { toWireMessage } from "../../domain/wire.ts";
import { type Deliveries, MAX_RECEIVE } from "../../engine/delivery/deliveries.ts";
import { type ClientFrame, type FrameProblem, MAX_CREDITS, parseFrame } from "./frames.ts";

/** How long one receive of the push loop waits before it is asked again, in ms. */
const WAIT_MS = 25_000;

/** What a session sends on: a WebSocket (or anything shaped like its sending half). */
export interface FrameSink {
  readonly readyState: number;
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/** Options of {@linkcode StreamSession}. */
export interface StreamSessionOptions {
  /** The visibility timeout of each pushed message, in seconds. @default {the group's} */
  readonly visibilityTimeoutSeconds?: number;
  /** Aborted when the broker shuts down: the stream then closes with 1012. @default {undefined} */
  readonly closing?: AbortSignal;
}

/** WebSocket close code "service restart": the broker is shutting down. */
const SERVICE_RESTART = 1012;
/** WebSocket close code "internal error". */
const INTERNAL_ERROR = 1011;

/**
 * The session of one consumer stream.
 *
 * @example
 * ```ts ignore
 * import { StreamSession } from "./session.ts";
 * declare const deliveries: import("../../engine/delivery/deliveries.ts").Deliveries;
 * declare const socket: WebSocket;
 * const session = new StreamSession(deliveries, "ops", socket);
 * socket.onopen = () => session.start();
 * socket.onmessage = (event) => session.receive(String(event.data));
 * socket.onclose = () => session.close();
 * ```
 */
export class StreamSession {
  readonly #deliveries: Deliveries;
  readonly #group: string;
  readonly #socket: FrameSink;
  readonly #options: StreamSessionOptions;
  /** Aborts the receive in progress, on `stop`, on close and on shutdown. */
  readonly #abort = new AbortController();
  /** Handles pushed on this socket and not yet settled on it. */
  readonly #held = new Set<string>();
  /** Settling frames in progress. */
  readonly #pending = new Set<Promise<void>>();
  #credits = 0;
  #stopping = false;
  #wake = Promise.withResolvers<void>();
  #loop: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  readonly #onClosing = () => this.#endPushing();

  /**
   * Creates the session of a stream of `group`; it pushes once started.
   *
   * @param deliveries The engine's delivery facade.
   * @param group The consumer group.
   * @param socket Where frames go.
   * @param options The visibility timeout and the broker's closing signal.
   */
  constructor(
    deliveries: Deliveries,
    group: string,
    socket: FrameSink,
    options: StreamSessionOptions = {},
  ) {
    this.#deliveries = deliveries;
    this.#group = group;
    this.#socket = socket;
    this.#options = options;
    options.closing?.addEventListener("abort", this.#onClosing, { once: true });
  }

  /** Credits granted and not yet used. */
  get credits(): number {
    return this.#credits;
  }

  /** Messages pushed on this stream and not yet settled on it. */
  get held(): number {
    return this.#held.size;
  }

  /** Starts the push loop (once the socket is open); calling it again does nothing. */
  start(): void {
    this.#loop ??= this.#push().catch((error) => {
      if (this.#stopping) return; // the socket or the broker closed under a receive
      console.error("consumer stream failed", error);
      this.#close(INTERNAL_ERROR, "Cannot stream: the broker failed; it is logged");
    });
  }

  /**
   * Takes one text frame from the client: credits at once, settling frames
   * in the background (their answers carry the frame's `id`).
   *
   * @param text The frame as received.
   */
  receive(text: string): void {
    const frame = parseFrame(text);
    if ("status" in frame) return this.#send({ type: "error", problem: frame });
    if (frame.type === "credit") return this.#grant(frame.n);
    if (frame.type === "stop") return this.#endPushing();
    const task = this.#settle(frame).catch((error) => this.#refuse(frame, error))
      .finally(() => this.#pending.delete(task));
    this.#pending.add(task);
  }

  /**
   * Ends the session once its socket has closed: no more pushes, the
   * settling frames already taken finish, then what is still held is
   * released. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#endPushing();
      this.#options.closing?.removeEventListener("abort", this.#onClosing);
      await this.#loop;
      while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
      if (this.#held.size === 0) return;
      const handles = [...this.#held];
      this.#held.clear();
      await this.#deliveries.release(this.#group, handles)
        .catch((error) => console.error("cannot release a closed stream's messages", error));
    })();
    return this.#closed;
  }

  #grant(n: number): void {
    if (this.#stopping) {
      return this.#send({
        type: "error",
        problem: this.#problem(
          409,
          "conflict",
          "Conflict",
          "Cannot grant credits: the stream is stopping",
        ),
      });
    }
    if (this.#credits + n > MAX_CREDITS) {
      return this.#send({
        type: "error",
        problem: this.#problem(
          400,
          "validation",
          "Invalid request",
          `Cannot grant ${n} credits: current value is ${this.#credits} outstanding, at most ${MAX_CREDITS}`,
          {
            issues: [{
              path: "frame.n",
              message: `credits outstanding must stay ≤ ${MAX_CREDITS}`,
            }],
          },
        ),
      });
    }
    this.#credits += n;
    this.#wakeUp();
  }

  #endPushing(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#abort.abort();
    this.#wakeUp();
  }

  #wakeUp(): void {
    this.#wake.resolve();
    this.#wake = Promise.withResolvers<void>();
  }

  async #push(): Promise<void> {
    const vt = this.#options.visibilityTimeoutSeconds;
    while (!this.#stopping) {
      if (this.#credits === 0) {
        await this.#wake.promise;
        continue;
      }
      const messages = await this.#deliveries.receive(this.#group, {
        max: Math.min(this.#credits, MAX_RECEIVE),
        waitMs: WAIT_MS,
        ...(vt !== undefined ? { visibilityTimeoutSeconds: vt } : {}),
        signal: this.#abort.signal,
      });
      if (messages.length === 0) continue;
      this.#credits -= messages.length;
      // Held before sending: whatever happens to the socket now, close() releases them.
      for (const message of messages) this.#held.add(message.receiptHandle);
      this.#send({
        type: "messages",
        messages: messages.map((m) => toWireMessage(m, { withHandle: true })),
      });
    }
    if (this.#options.closing?.aborted) {
      this.#close(SERVICE_RESTART, "Cannot stream: the broker is shutting down");
      return;
    }
    this.#send({ type: "stopped" });
  }

  async #settle(frame: Exclude<ClientFrame, { type: "credit" | "stop" }>): Promise<void> {
    const id = frame.id !== undefined ? { id: frame.id } : {};
    switch (frame.type) {
      case "ack": {
        const result = await this.#deliveries.ack(this.#group, frame.receiptHandles);
        this.#settled(frame.receiptHandles, result.failed);
        return this.#send({ type: "acked", ...id, acked: result.settled, failed: result.failed });
      }
      case "nack": {
        const result = await this.#deliveries.nack(
          this.#group,
          frame.receiptHandles,
          frame.delaySeconds !== undefined ? frame.delaySeconds * 1000 : undefined,
          frame.reason,
        );
        this.#settled(frame.receiptHandles, result.failed);
        return this.#send({ type: "nacked", ...id, nacked: result.settled, failed: result.failed });
      }
      case "visibility": {
        const result = await this.#deliveries.changeVisibility(
          this.#group,
          frame.receiptHandle,
          frame.visibilityTimeoutSeconds,
        );
        if ("failed" in result) {
          return this.#send({
            type: "error",
            ...id,
            problem: this.#problem(
              409,
              "conflict",
              "Conflict",
              `Cannot change visibility: ${result.failed}`,
              {
                reason: result.failed,
                receiptHandle: frame.receiptHandle,
              },
            ),
          });
        }
        if (this.#held.delete(frame.receiptHandle)) this.#held.add(result.receiptHandle);
        return this.#send({
          type: "visibility",
          ...id,
          receiptHandle: result.receiptHandle,
          visibleUntil: new Date(result.visibleUntil).toISOString(),
        });
      }
      default: {
        const never: never = frame;
        throw new TypeError(`Cannot settle ${JSON.stringify(never)}`);
      }
    }
  }

  /** Forgets the handles a settling frame ended (those not listed as failed). */
  #settled(handles: readonly string[], failed: readonly { receiptHandle: string }[]): void {
    const refused = new Set(failed.map((f) => f.receiptHandle));
    for (const handle of handles) if (!refused.has(handle)) this.#held.delete(handle);
  }

  /** Answers a settling frame that threw: a broker error keeps its status, anything else is a 500. */
  #refuse(frame: { id?: string | undefined }, error: unknown): void {
    const id = frame.id !== undefined ? { id: frame.id } : {};
    if (error instanceof BrokerError) {
      return this.#send({
        type: "error",
        ...id,
        problem: this.#problem(
          error.status,
          error.name.replace(/Error$/, "").toLowerCase(),
          error.title,
          error.message,
          error.extensions,
        ),
      });
    }
    console.error("consumer stream frame failed", error);
    this.#send({
      type: "error",
      ...id,
      problem: this.#problem(500, "internal", "Internal error", "The broker failed; it is logged."),
    });
  }

  #problem(
    status: number,
    name: string,
    title: string,
    detail: string,
    extensions: Record<string, unknown> = {},
  ): FrameProblem {
    return { type: `https://escrow.dev/problems/${name}`, title, status, detail, ...extensions };
  }

  #send(frame: Record<string, unknown>): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    try {
      this.#socket.send(JSON.stringify(frame));
    } catch {
      // The socket closed meanwhile: close() releases what it held.
    }
  }

  #close(code: number, reason: string): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.close(code, reason);
  }
}
