/**
 * A push endpoint for delivery tests: a {@linkcode RecordingServer} at
 * `/hook` whose calls are read as the broker's pushes (the message each one
 * carries, and how many pushes of that message came before it).
 *
 * @module
 */
import { type RecordedRequest, RecordingServer } from "./recording_server.ts";

/** The JSON body of a push, as the broker sends it. */
export interface PushedMessage {
  readonly messageId: string;
  readonly topic: string;
  readonly tag?: string;
  readonly keys: readonly string[];
  readonly properties: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly bodyBase64?: string;
  readonly publishedAt: string;
  readonly attempt: number;
  readonly transactionId?: string;
  readonly messageGroup?: string;
  readonly receiptHandle?: string;
}

/** One push as the endpoint received it. */
export interface PushCall extends RecordedRequest {
  readonly message: PushedMessage;
  /** How many requests for the same message arrived before this one. */
  readonly previousCalls: number;
}

/** Answers one push. */
export type PushResponder = (call: PushCall) => Response | Promise<Response>;

/**
 * A recording push endpoint.
 *
 * @example
 * ```ts
 * import { PushReceiver } from "./push_receiver.ts";
 * await using receiver = PushReceiver.serve(() => new Response(null, { status: 204 }));
 * console.log(receiver.url); // http://127.0.0.1:PORT/hook
 * ```
 */
export class PushReceiver implements AsyncDisposable {
  /** Every push, in arrival order. */
  readonly calls: PushCall[] = [];
  readonly #server: RecordingServer;

  private constructor(respond: PushResponder) {
    this.#server = RecordingServer.serve((recorded) => {
      const message = recorded.json as PushedMessage;
      const call: PushCall = {
        ...recorded,
        message,
        previousCalls: this.callsFor(message.messageId).length,
      };
      this.calls.push(call);
      return respond(call);
    }, { path: "/hook" });
  }

  /**
   * Starts an endpoint answering with `respond`.
   *
   * @param respond Decides each answer (and may wait before giving it).
   * @returns The running endpoint; disposing it stops it.
   */
  static serve(respond: PushResponder): PushReceiver {
    return new PushReceiver(respond);
  }

  /** The push URL to give a group. */
  get url(): string {
    return this.#server.url;
  }

  /** Most requests that were in progress at the same time. */
  get maxActive(): number {
    return this.#server.maxInProgress;
  }

  /** The pushes of one message, in arrival order. */
  callsFor(messageId: string): PushCall[] {
    return this.calls.filter((call) => call.message.messageId === messageId);
  }

  /** Stops listening and waits for the requests in progress. */
  async close(): Promise<void> {
    await this.#server.close();
  }

  /** Same as {@linkcode close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
