/**
 * Check-back: the broker asks a silent producer how its local transaction
 * ended. One call, at most `timeoutMs` long, signed with the producer
 * group's secret like a push, whose every failure mode becomes a recorded
 * reason rather than an exception.
 *
 * @module
 */
import type { CheckBackAnswer } from "../../domain/events.ts";
import { signedPost } from "../../domain/signature.ts";
import { MAX_ANSWER_BYTES, type Outbound } from "../../outbound/mod.ts";

import type { CheckBackRequest } from "../../domain/wire.ts";
export type { CheckBackRequest } from "../../domain/wire.ts";

/** The outcome of one check-back call. */
export type CheckBackOutcome =
  | { readonly ok: true; readonly answer: CheckBackAnswer }
  | { readonly ok: false; readonly error: string };

/** How long the producer has to answer. */
export const CHECK_BACK_TIMEOUT_MS = 5_000;

const ANSWERS: readonly string[] = ["commit", "rollback", "unknown"];

/** Options of {@linkcode callCheckBack}. */
export interface CheckBackCallOptions {
  /** Signs the call (`Escrow-Timestamp`, `Escrow-Signature`), as push does. @default {undefined} (unsigned) */
  readonly secret?: string;
  /** Current time in epoch ms, for `Escrow-Timestamp`. @default {Date.now()} */
  readonly now?: number;
  /** How long the producer has to answer. @default {CHECK_BACK_TIMEOUT_MS} */
  readonly timeoutMs?: number;
}

/**
 * POSTs `request` to `url` through the outbound policy (checked again,
 * pinned, no redirect, at most 64 KiB of answer read) and reads
 * `{ state: "commit" | "rollback" | "unknown" }`. A redirect, a timeout, an
 * answer over 64 KiB or one that does not parse is a failed check.
 *
 * @example
 * ```ts
 * import { callCheckBack } from "./check_back.ts";
 * import { Outbound, OutboundPolicy } from "../../outbound/mod.ts";
 * declare const request: import("./check_back.ts").CheckBackRequest;
 * const outbound = new Outbound(new OutboundPolicy());
 * const outcome = await callCheckBack(outbound, "http://127.0.0.1:9000/check", request, {
 *   secret: "s3cret",
 * });
 * if (outcome.ok) console.log(outcome.answer);
 * ```
 */
export async function callCheckBack(
  outbound: Outbound,
  url: string,
  request: CheckBackRequest,
  options: CheckBackCallOptions = {},
): Promise<CheckBackOutcome> {
  const timeoutMs = options.timeoutMs ?? CHECK_BACK_TIMEOUT_MS;
  const post = await signedPost(url, request, {}, options.secret, options.now ?? Date.now());
  const result = await outbound.send(post, { timeoutMs, field: "checkUrl" });
  if (!result.ok) {
    return {
      ok: false,
      error: result.status !== undefined ? `producer ${result.error}` : result.error,
    };
  }
  if (result.status < 200 || result.status >= 300) {
    return { ok: false, error: `producer answered HTTP ${result.status}` };
  }
  if (result.truncated) {
    return {
      ok: false,
      error: `producer answered with more than ${MAX_ANSWER_BYTES} bytes (the limit read)`,
    };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(result.body));
  } catch {
    return { ok: false, error: "producer answered with invalid JSON" };
  }
  const state = (payload as { state?: unknown } | null)?.state;
  if (typeof state !== "string" || !ANSWERS.includes(state)) {
    return {
      ok: false,
      error: `producer answered without a valid state: ${JSON.stringify(state)}`,
    };
  }
  return { ok: true, answer: state as CheckBackAnswer };
}
