/**
 * A push endpoint for delivery tests: a real `Deno.serve` on 127.0.0.1 and a
 * port the OS picks, recording every POST the broker makes (headers, raw
 * body, arrival time) and how many were in progress at once, and an HMAC
 * computed here with WebCrypto so signatures are checked independently of
 * the broker's own code.
 *
 * @module
 */
import { encodeHex } from "@std/encoding/hex";

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

/** One request as the endpoint received it. */
export interface PushCall {
  readonly method: string;
  readonly headers: Headers;
  readonly rawBody: string;
  readonly message: PushedMessage;
  /** When it arrived, in epoch ms. */
  readonly receivedAt: number;
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
 * import { PushReceiver } from "./_receiver.ts";
 * await using receiver = PushReceiver.serve(() => new Response(null, { status: 204 }));
 * console.log(receiver.url); // http://127.0.0.1:PORT/hook
 * ```
 */
export class PushReceiver implements AsyncDisposable {
  /** Every request, in arrival order. */
  readonly calls: PushCall[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  #active = 0;
  #maxActive = 0;

  private constructor(respond: PushResponder) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (request) => {
        this.#active++;
        this.#maxActive = Math.max(this.#maxActive, this.#active);
        try {
          const rawBody = await request.text();
          const message = JSON.parse(rawBody) as PushedMessage;
          const call: PushCall = {
            method: request.method,
            headers: request.headers,
            rawBody,
            message,
            receivedAt: Date.now(),
            previousCalls: this.callsFor(message.messageId).length,
          };
          this.calls.push(call);
          return await respond(call);
        } finally {
          this.#active--;
        }
      },
    );
  }

  /** Starts an endpoint answering with `respond`. */
  static serve(respond: PushResponder): PushReceiver {
    return new PushReceiver(respond);
  }

  /** The push URL to give a group. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}/hook`;
  }

  /** Most requests that were in progress at the same time. */
  get maxActive(): number {
    return this.#maxActive;
  }

  /** The requests made for one message, in arrival order. */
  callsFor(messageId: string): PushCall[] {
    return this.calls.filter((call) => call.message.messageId === messageId);
  }

  /** Stops listening and waits for the requests in progress. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  /** Same as {@linkcode close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * The `Escrow-Signature` a receiver expects: `v1=` and the hex HMAC-SHA256 of
 * `${timestamp}.${rawBody}` under `secret`, computed with WebCrypto here.
 *
 * @example
 * ```ts
 * import { expectedSignature } from "./_receiver.ts";
 * const header = await expectedSignature("s3cret", "1767225600", "{}");
 * console.log(header.startsWith("v1=")); // true
 * ```
 */
export async function expectedSignature(
  secret: string,
  timestamp: string,
  rawBody: string,
): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestamp}.${rawBody}`));
  return `v1=${encodeHex(new Uint8Array(mac))}`;
}
