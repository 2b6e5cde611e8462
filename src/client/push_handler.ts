/**
 * A receiver for push groups: verifies `Escrow-Signature` on the raw body
 * (read once) against one or more secrets (rotation), refuses stale timestamps, runs the handler, and answers 2xx
 * (ack) or 5xx (retry).
 *
 * @module
 */
import { checkSignature, secretsOf, type SignatureCheckOptions } from "./signed_request.ts";
import type { ReceivedMessage } from "./client.ts";

/** A pushed message: the receive shape without a receipt handle. */
export type PushedMessage = Omit<ReceivedMessage, "receiptHandle">;

/** Options of {@linkcode pushHandler}. */
export interface PushHandlerOptions extends SignatureCheckOptions {
  /** The group's secret; without it (and without `secrets`) signatures are not checked. */
  readonly secret?: string;
  /**
   * Secrets accepted besides `secret`, for rotation: add the new one here,
   * then change the group's, then drop the old one. @default {[]}
   */
  readonly secrets?: readonly string[];
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
  const secrets = secretsOf(options);
  return async (request) => {
    if (request.method !== "POST") return new Response("method not allowed", { status: 405 });
    const raw = await request.text();
    if (secrets.length > 0) {
      const refused = await checkSignature(request.headers, raw, secrets, options);
      if (refused !== undefined) return new Response(refused, { status: 401 });
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
