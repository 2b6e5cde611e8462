/**
 * What the SDK tests run against: the shared served broker (a temp KV file,
 * jobs and push pumps started, its HTTP app on 127.0.0.1) with an
 * {@linkcode EscrowClient} for it; a port nothing listens on; polling with a
 * deadline.
 *
 * @module
 */
import { delay } from "@std/async/delay";
import type { MiddlewareHandler } from "hono";
import { EscrowClient, type EscrowClientOptions } from "../../src/client/mod.ts";
import type { AppEnv } from "../../src/http/router.ts";
import { LIVE, serveBroker, type ServedBrokerFixture } from "../_support/broker.ts";
import { RecordingServer } from "../_support/recording_server.ts";

/** A started broker served on 127.0.0.1, with a client. */
export interface TestBroker extends ServedBrokerFixture {
  readonly client: EscrowClient;
}

/** Options of {@linkcode startBroker}. */
export interface StartBrokerOptions {
  /** Options of the client built for the broker. @default {{ retryDelayMs: 10 }} */
  readonly client?: EscrowClientOptions;
  /** The app's authentication middleware. @default {undefined} */
  readonly auth?: MiddlewareHandler<AppEnv>;
}

/**
 * Serves a live broker ({@linkcode LIVE}: a fresh KV file, started) and
 * builds a client for it.
 *
 * @example
 * ```ts
 * import { startBroker } from "./_broker.ts";
 * await using live = await startBroker();
 * await live.client.createTopic("Trade");
 * ```
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<TestBroker> {
  const live = await serveBroker({ ...LIVE, app: options.auth ? { auth: options.auth } : {} });
  return { ...live, client: new EscrowClient(live.url, { retryDelayMs: 10, ...options.client }) };
}

/** Polls until a condition holds (the suite's shared helper). */
export { waitFor } from "../_process.ts";

/**
 * A port on 127.0.0.1 that nothing listens on (bound, then released).
 *
 * @example
 * ```ts
 * import { closedPort } from "./_broker.ts";
 * const url = `http://127.0.0.1:${closedPort()}`;
 * ```
 */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** What {@linkcode answerHoldingProxy} holds back. */
export interface HoldOptions {
  /**
   * `"body"`: send each answer's status and headers at once and hold its body
   * until `release()` (an answer that has begun to arrive); a number of ms:
   * hold the whole answer that long (an answer on its way).
   */
  readonly hold: "body" | number;
  /** Hold only answers to paths ending so (e.g. "/receive"); all when omitted. */
  readonly only?: string;
}

/**
 * Serves the broker at `target` through a proxy on 127.0.0.1 that holds
 * answers back once the broker has given them.
 *
 * @example
 * ```ts
 * import { answerHoldingProxy } from "./_broker.ts";
 * await using proxy = answerHoldingProxy("http://127.0.0.1:8000", { hold: "body" });
 * proxy.release();
 * ```
 */
export function answerHoldingProxy(target: string, options: HoldOptions) {
  const gate = Promise.withResolvers<void>();
  const server = RecordingServer.serve(async (_call, request) => {
    const url = new URL(request.url);
    const answer = await fetch(`${target}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      ...(request.body ? { body: await request.arrayBuffer() } : {}),
    });
    const bytes = new Uint8Array(await answer.arrayBuffer());
    const held = options.only === undefined || url.pathname.endsWith(options.only);
    if (held && options.hold !== "body") await delay(options.hold);
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        if (held && options.hold === "body") await gate.promise;
        controller.enqueue(bytes);
        controller.close();
      },
    });
    return new Response(body, {
      status: answer.status,
      headers: { "content-type": answer.headers.get("content-type") ?? "application/json" },
    });
  });
  return {
    url: server.url,
    release: () => gate.resolve(),
    async [Symbol.asyncDispose]() {
      gate.resolve();
      await server[Symbol.asyncDispose]();
    },
  };
}
