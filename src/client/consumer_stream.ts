/**
 * The client side of a consumer stream (`GET /v1/groups/{group}/stream`):
 * one WebSocket, its frames as calls. Credits are coalesced into one frame
 * per turn of the event loop; an ack, nack or visibility change is a frame
 * with an `id` whose answer resolves the call. {@linkcode Consumer} uses it;
 * it is exported for clients that drive a stream themselves.
 *
 * @module
 */
import type { EscrowClient, FailedHandle, ReceivedMessage } from "./client.ts";
import { EscrowError, EscrowNetworkError, type ProblemDetails } from "./errors.ts";

/** How a stream ended: the WebSocket's close code and reason. */
export interface StreamEnd {
  /** Whether the socket had opened (false: the handshake was refused or failed). */
  readonly opened: boolean;
  readonly code: number;
  readonly reason: string;
}

interface Waiter {
  resolve(frame: Record<string, unknown>): void;
  reject(error: unknown): void;
}

/**
 * A consumer stream of one group.
 *
 * @example
 * ```ts ignore
 * import { EscrowClient } from "./client.ts";
 * import { ConsumerStream } from "./consumer_stream.ts";
 * const stream = ConsumerStream.open(new EscrowClient("http://127.0.0.1:8000"), "ops");
 * stream.onMessages = async (messages) => {
 *   await stream.ack(messages.map((m) => m.receiptHandle));
 *   stream.grant(messages.length);
 * };
 * if (await stream.opened) stream.grant(16);
 * ```
 */
export class ConsumerStream {
  /** Resolves true once the socket is open, false when it closed before opening. */
  readonly opened: Promise<boolean>;
  /** Resolves once the socket has closed. */
  readonly ended: Promise<StreamEnd>;
  /** Resolves when the broker answered `stop`: no `messages` frame follows. */
  readonly stopped: Promise<void>;
  /** Called with each `messages` frame. @default {() => {}} */
  onMessages: (messages: ReceivedMessage[]) => void = () => {};
  /** Called with an `error` frame that answers no call (a refused credit). @default {() => {}} */
  onProblem: (problem: ProblemDetails) => void = () => {};
  readonly #socket: WebSocket;
  readonly #waiters = new Map<string, Waiter>();
  readonly #stopped = Promise.withResolvers<void>();
  #nextId = 0;
  #credits = 0;
  #isOpen = false;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    this.stopped = this.#stopped.promise;
    const opened = Promise.withResolvers<boolean>();
    const ended = Promise.withResolvers<StreamEnd>();
    this.opened = opened.promise;
    this.ended = ended.promise;
    socket.onopen = () => {
      this.#isOpen = true;
      opened.resolve(true);
    };
    socket.onerror = () => {}; // a close event follows
    socket.onclose = (event) => {
      const wasOpen = this.#isOpen;
      this.#isOpen = false;
      opened.resolve(false);
      const error = new EscrowNetworkError(
        `Cannot finish on the stream: it closed (${event.code} ${event.reason})`,
        event,
      );
      for (const waiter of this.#waiters.values()) waiter.reject(error);
      this.#waiters.clear();
      this.#stopped.resolve();
      ended.resolve({ opened: wasOpen, code: event.code, reason: event.reason });
    };
    socket.onmessage = (event) => this.#take(String(event.data));
  }

  /**
   * Opens a stream of `group` with `client`'s URL and token.
   *
   * @param client The broker's client.
   * @param group The consumer group.
   * @param options The visibility timeout of each pushed message. @default {the group's}
   */
  static open(
    client: EscrowClient,
    group: string,
    options: { visibilityTimeoutSeconds?: number } = {},
  ): ConsumerStream {
    return new ConsumerStream(client.openStream(group, options));
  }

  /** Whether the socket is open. */
  get isOpen(): boolean {
    return this.#isOpen;
  }

  /** Grants `n` more credits; the grants of one turn of the event loop go as one frame. */
  grant(n: number): void {
    if (n <= 0 || !this.#isOpen) return;
    const first = this.#credits === 0;
    this.#credits += n;
    if (!first) return;
    queueMicrotask(() => {
      const credits = this.#credits;
      this.#credits = 0;
      this.#send({ type: "credit", n: credits });
    });
  }

  /** Asks the broker to stop pushing; {@linkcode stopped} resolves when it has. */
  stop(): void {
    if (!this.#send({ type: "stop" })) this.#stopped.resolve();
  }

  /** Acknowledges messages, as `EscrowClient.ack`. */
  async ack(receiptHandles: string[]): Promise<{ acked: number; failed: FailedHandle[] }> {
    const answer = await this.#call({ type: "ack", receiptHandles });
    return { acked: answer.acked as number, failed: answer.failed as FailedHandle[] };
  }

  /** Fails attempts now, as `EscrowClient.nack`. */
  async nack(
    receiptHandles: string[],
    options: { delaySeconds?: number; reason?: string } = {},
  ): Promise<{ nacked: number; failed: FailedHandle[] }> {
    const answer = await this.#call({ type: "nack", receiptHandles, ...options });
    return { nacked: answer.nacked as number, failed: answer.failed as FailedHandle[] };
  }

  /** Extends a message's visibility, as `EscrowClient.changeVisibility`; throws on a 409. */
  async changeVisibility(
    receiptHandle: string,
    visibilityTimeoutSeconds: number,
  ): Promise<{ receiptHandle: string; visibleUntil: string }> {
    const answer = await this.#call({
      type: "visibility",
      receiptHandle,
      visibilityTimeoutSeconds,
    });
    return {
      receiptHandle: answer.receiptHandle as string,
      visibleUntil: answer.visibleUntil as string,
    };
  }

  /** Closes the socket (1000) and waits until it has closed. */
  async close(): Promise<StreamEnd> {
    if (this.#socket.readyState <= WebSocket.OPEN) this.#socket.close(1000, "done");
    return await this.ended;
  }

  #call(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = String(++this.#nextId);
    const answer = Promise.withResolvers<Record<string, unknown>>();
    if (!this.#send({ ...frame, id })) {
      return Promise.reject(
        new EscrowNetworkError("Cannot send on the stream: it is closed", frame),
      );
    }
    this.#waiters.set(id, answer);
    return answer.promise;
  }

  #send(frame: Record<string, unknown>): boolean {
    if (this.#socket.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(JSON.stringify(frame));
    return true;
  }

  #take(text: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type === "messages") return this.onMessages(frame.messages as ReceivedMessage[]);
    if (frame.type === "stopped") return this.#stopped.resolve();
    const id = typeof frame.id === "string" ? frame.id : undefined;
    const waiter = id !== undefined ? this.#waiters.get(id) : undefined;
    if (frame.type === "error") {
      const problem = frame.problem as ProblemDetails;
      if (!waiter) return this.onProblem(problem);
      this.#waiters.delete(id!);
      return waiter.reject(new EscrowError(problem));
    }
    if (waiter) {
      this.#waiters.delete(id!);
      waiter.resolve(frame);
    }
  }
}
