/**
 * The one HTTP server tests stand up to be called by the broker (push
 * endpoints, check-back endpoints) or to sit in front of it: a real
 * `Deno.serve` on 127.0.0.1 and a port the OS picks, recording every request
 * before it answers (method, path, headers, raw body, its JSON, arrival time,
 * how many were in progress at once), answering through a function or a
 * script of answers. Also the `Escrow-Signature` a receiver expects, computed
 * here with WebCrypto so signatures are checked independently of the
 * broker's own code.
 *
 * @module
 */
import { encodeHex } from "@std/encoding/hex";

/** One request as the server received it. */
export interface RecordedRequest {
  readonly method: string;
  /** The URL's path, without the query. */
  readonly path: string;
  /** The URL's query, with its `?` (or `""`). */
  readonly search: string;
  readonly headers: Headers;
  /** The body as text (`""` when there is none). */
  readonly rawBody: string;
  /** The body parsed as JSON; `undefined` when it is empty or not JSON. */
  readonly json: unknown;
  /** When its body had arrived, in epoch ms. */
  readonly receivedAt: number;
  /** Requests in progress once it arrived, itself included. */
  readonly inProgress: number;
}

/**
 * Answers one request. `request` is the original, body unread, so a
 * responder may forward it or hand it to a handler under test.
 */
export type Responder = (
  call: RecordedRequest,
  request: Request,
) => Response | Promise<Response>;

/**
 * Answers in order, one entry per request; once it runs out every request
 * gets an empty 200.
 */
export type Script = readonly (Response | Responder)[];

/** Options of {@linkcode RecordingServer.serve}. */
export interface RecordingServerOptions {
  /** Appended to the server's origin in {@linkcode RecordingServer.url}. @default {""} */
  readonly path?: string;
  /** Clock of {@linkcode RecordedRequest.receivedAt}. @default {Date.now} */
  readonly clock?: () => number;
}

/**
 * A recording HTTP server on 127.0.0.1.
 *
 * @example Answer with a function
 * ```ts
 * import { RecordingServer } from "./recording_server.ts";
 * await using server = RecordingServer.serve(() => new Response(null, { status: 204 }), {
 *   path: "/hook",
 * });
 * await fetch(server.url, { method: "POST", body: "{}" }).then((res) => res.body?.cancel());
 * console.log(server.calls[0]?.json); // {}
 * ```
 *
 * @example Answer from a script, then 200
 * ```ts
 * import { RecordingServer } from "./recording_server.ts";
 * await using server = RecordingServer.serve([new Response("down", { status: 503 })]);
 * const res = await fetch(server.url);
 * await res.body?.cancel();
 * console.log(res.status); // 503
 * ```
 */
export class RecordingServer implements AsyncDisposable {
  /** Every request, in arrival order. */
  readonly calls: RecordedRequest[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #path: string;
  #inProgress = 0;
  #maxInProgress = 0;

  private constructor(respond: Responder | Script, options: RecordingServerOptions) {
    const clock = options.clock ?? (() => Date.now());
    const answer = typeof respond === "function" ? respond : scripted(respond);
    this.#path = options.path ?? "";
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (request) => {
        this.#inProgress++;
        this.#maxInProgress = Math.max(this.#maxInProgress, this.#inProgress);
        try {
          // A clone is read, so the responder still gets the body (to forward or verify).
          const rawBody = await request.clone().text();
          const url = new URL(request.url);
          const call: RecordedRequest = {
            method: request.method,
            path: url.pathname,
            search: url.search,
            headers: request.headers,
            rawBody,
            json: parseJson(rawBody),
            receivedAt: clock(),
            inProgress: this.#inProgress,
          };
          this.calls.push(call);
          return await answer(call, request);
        } finally {
          this.#inProgress--;
        }
      },
    );
  }

  /**
   * Starts a server answering with `respond`: a function, or a script of
   * answers taken in order.
   *
   * @param respond How to answer. @default {[]} (every request gets an empty 200)
   * @param options Its URL's path and its clock.
   * @returns The running server; disposing it stops it.
   */
  static serve(
    respond: Responder | Script = [],
    options: RecordingServerOptions = {},
  ): RecordingServer {
    return new RecordingServer(respond, options);
  }

  /** `http://127.0.0.1:PORT` followed by the `path` given. */
  get url(): string {
    return `http://127.0.0.1:${this.port}${this.#path}`;
  }

  /** The port the OS picked. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** Requests in progress now. */
  get inProgress(): number {
    return this.#inProgress;
  }

  /** Most requests that were in progress at the same time. */
  get maxInProgress(): number {
    return this.#maxInProgress;
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

/** A responder taking one entry of `script` per request, then answering 200. */
function scripted(script: Script): Responder {
  let next = 0;
  return (call, request) => {
    const entry = script[next++];
    if (entry === undefined) return new Response(null, { status: 200 });
    return typeof entry === "function" ? entry(call, request) : entry;
  };
}

/** `text` parsed as JSON, or `undefined` when it is empty or not JSON. */
function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The `Escrow-Signature` a receiver expects: `v1=` and the hex HMAC-SHA256 of
 * `${timestamp}.${rawBody}` under `secret`, computed with WebCrypto here.
 *
 * @param secret The push group's signing secret.
 * @param timestamp The `Escrow-Timestamp` header as sent.
 * @param rawBody The request body exactly as received.
 * @returns The header value, `v1=<hex>`.
 *
 * @example
 * ```ts
 * import { expectedSignature } from "./recording_server.ts";
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
