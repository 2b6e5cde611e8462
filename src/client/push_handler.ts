/**
 * A receiver for push groups: verifies `Escrow-Signature` on the raw body
 * (read once), refuses stale timestamps, runs the handler, and answers 2xx
 * (ack) or 5xx (retry).
 *
 * @module
 */
import { verify } from "../domain/signature.ts";
import type { ReceivedMessage } from "./client.ts";

/** A pushed message: the receive shape without a receipt handle. */
export type PushedMessage = Omit<ReceivedMessage, "receiptHandle">;

/** Options of {@linkcode pushHandler}. */
export interface PushHandlerOptions {
  /** The group's secret; without it signatures are not checked. */
  readonly secret?: string;
  /** Oldest accepted `Escrow-Timestamp`, in seconds from now. @default {300} */
  readonly toleranceSeconds?: number;
  /** Current time in ms. @default {Date.now} */
  readonly clock?: () => number;
}

/**
 * Builds a `(Request) => Promise<Response>` handler for a push group.
 *
 * @example
 * ```ts
 * import { pushHandler } from "./push_handler.ts";
 * const handle = pushHandler(async (message) => console.log(message.messageId), {
 *   secret: "s3cret",
 * });
 * // Deno.serve({ port: 9000 }, handle);
 * ```
 */
export function pushHandler(
  handler: (message: PushedMessage) => unknown | Promise<unknown>,
  options: PushHandlerOptions = {},
): (request: Request) => Promise<Response> {
  const tolerance = (options.toleranceSeconds ?? 300) * 1000;
  const clock = options.clock ?? Date.now;
  return async (request) => {
    if (request.method !== "POST") return new Response("method not allowed", { status: 405 });
    const raw = await request.text();
    if (options.secret !== undefined) {
      const timestamp = request.headers.get("escrow-timestamp") ?? "";
      const signature = request.headers.get("escrow-signature") ?? "";
      const sentAt = Number(timestamp) * 1000;
      if (!Number.isFinite(sentAt) || Math.abs(clock() - sentAt) > tolerance) {
        return new Response("stale or missing timestamp", { status: 401 });
      }
      if (!(await verify(options.secret, timestamp, raw, signature))) {
        return new Response("bad signature", { status: 401 });
      }
    }
    let message: PushedMessage;
    try {
      message = JSON.parse(raw);
    } catch {
      return new Response("invalid JSON", { status: 400 });
    }
    try {
      await handler(message);
      return new Response(null, { status: 204 });
    } catch (error) {
      return new Response(error instanceof Error ? error.message : "handler failed", {
        status: 500,
      });
    }
  };
}
