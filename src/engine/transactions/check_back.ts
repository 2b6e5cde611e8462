/**
 * Check-back: the broker asks a silent producer how its local transaction
 * ended. One call, at most `timeoutMs` long, whose every failure mode becomes
 * a recorded reason rather than an exception.
 *
 * @module
 */
import type { CheckBackAnswer } from "../../domain/events.ts";

import type { CheckBackRequest } from "../../domain/wire.ts";
export type { CheckBackRequest } from "../../domain/wire.ts";

/** The outcome of one check-back call. */
export type CheckBackOutcome =
  | { readonly ok: true; readonly answer: CheckBackAnswer }
  | { readonly ok: false; readonly error: string };

/** How long the producer has to answer. */
export const CHECK_BACK_TIMEOUT_MS = 5_000;

const ANSWERS: readonly string[] = ["commit", "rollback", "unknown"];

/**
 * POSTs `request` to `url` and reads `{ state: "commit" | "rollback" | "unknown" }`.
 *
 * @example
 * ```ts
 * import { callCheckBack } from "./check_back.ts";
 * declare const request: import("./check_back.ts").CheckBackRequest;
 * const outcome = await callCheckBack(fetch, "http://127.0.0.1:9000/check", request);
 * if (outcome.ok) console.log(outcome.answer);
 * ```
 */
export async function callCheckBack(
  fetchFn: typeof fetch,
  url: string,
  request: CheckBackRequest,
  timeoutMs: number = CHECK_BACK_TIMEOUT_MS,
): Promise<CheckBackOutcome> {
  let response: Response;
  try {
    response = await fetchFn(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const reason = error instanceof DOMException && error.name === "TimeoutError"
      ? `no answer within ${timeoutMs} ms`
      : `request failed: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, error: reason };
  }
  if (!response.ok) {
    await response.body?.cancel();
    return { ok: false, error: `producer answered HTTP ${response.status}` };
  }
  let payload: unknown;
  try {
    payload = await response.json();
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
