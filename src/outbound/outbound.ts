/**
 * The one way the broker calls out (check-back, push, alert): the URL is
 * checked by the policy again right before the call, the connection goes to
 * the address just checked, redirects are never followed (a 3xx is a
 * failure), and at most 64 KiB of the answer is read, all within one
 * timeout. Every failure comes back as a reason, never as an exception, so
 * that each caller's own failure path (a failed check, a failed push
 * attempt, an alert retried) takes it from there.
 *
 * @module
 */
import { OutboundRefusedError } from "../domain/errors.ts";
import { type PinnedFetch, pinnedFetch } from "./pinned_fetch.ts";
import type { OutboundPolicy } from "./policy.ts";

/** Most bytes of an answer read. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** How one call went. */
export type OutboundResult =
  | {
    readonly ok: true;
    /** A status that is not a redirect. */
    readonly status: number;
    /** The answer's first bytes, at most `maxBytes`. */
    readonly body: Uint8Array;
    /** Whether the answer went on past `maxBytes` (the rest was not read). */
    readonly truncated: boolean;
  }
  | {
    readonly ok: false;
    readonly error: string;
    /** The HTTP status when there was an answer (a redirect). */
    readonly status?: number;
    /** The policy rule, when the policy refused the call. */
    readonly rule?: string;
    /** Set when the call ran out of time. */
    readonly timedOut?: true;
  };

/** Options of one {@linkcode Outbound.send}. */
export interface SendOptions {
  /** Bounds the whole call: the check, the connection, the answer. */
  readonly timeoutMs: number;
  /** Most bytes of the answer read. @default {MAX_ANSWER_BYTES} */
  readonly maxBytes?: number;
  /** The request field of the URL, named when the policy refuses it. @default {"url"} */
  readonly field?: string;
}

/** Options of {@linkcode Outbound}. */
export interface OutboundOptions {
  /**
   * Sends instead of the pinned transport (tests, a custom client): the
   * policy still checks every URL first, but the connection is the fetch's.
   * @default {undefined} (the pinned transport)
   */
  readonly fetch?: typeof fetch;
  /** The pinned transport. @default {pinnedFetch} */
  readonly transport?: PinnedFetch;
}

/**
 * Outbound calls under a policy.
 *
 * @example
 * ```ts
 * import { Outbound } from "./outbound.ts";
 * import { OutboundPolicy } from "./policy.ts";
 * const outbound = new Outbound(new OutboundPolicy());
 * const result = await outbound.send(
 *   new Request("http://127.0.0.1:9000/check", { method: "POST", body: "{}" }),
 *   { timeoutMs: 5_000 },
 * );
 * if (!result.ok) console.log(result.error);
 * ```
 */
export class Outbound {
  /** The policy every call and every stored URL is checked against. */
  readonly policy: OutboundPolicy;
  readonly #fetch: typeof fetch | undefined;
  readonly #transport: PinnedFetch;

  /** Calls out under `policy`. */
  constructor(policy: OutboundPolicy, options: OutboundOptions = {}) {
    this.policy = policy;
    this.#fetch = options.fetch;
    this.#transport = options.transport ?? pinnedFetch;
  }

  /**
   * Checks a URL about to be stored; a refusal is a 400 naming `field` and the rule.
   *
   * @throws {OutboundRefusedError}
   */
  async check(url: string, field: string): Promise<void> {
    await this.policy.check(url, field, { storing: true });
  }

  /** Sends `request` (its URL checked again first) and reads its answer, bounded. */
  async send(request: Request, options: SendOptions): Promise<OutboundResult> {
    const { timeoutMs } = options;
    const maxBytes = options.maxBytes ?? MAX_ANSWER_BYTES;
    const signal = AbortSignal.timeout(timeoutMs);
    const timedOut = {
      ok: false,
      error: `no answer within ${timeoutMs} ms`,
      timedOut: true,
    } as const;
    let release = () => {};
    try {
      const target = await abortable(this.policy.check(request.url, options.field), signal);
      let response: Response;
      if (this.#fetch) {
        response = await this.#fetch(request, { signal, redirect: "manual" });
      } else {
        const pinned = await this.#transport(request, target, signal);
        response = pinned.response;
        release = pinned.release;
      }
      // A redirect's target was never checked: it is not followed, the call failed.
      if ((response.status >= 300 && response.status < 400) || response.type === "opaqueredirect") {
        await response.body?.cancel().catch(() => {});
        return {
          ok: false,
          status: response.status,
          error: `answered HTTP ${response.status} (redirects are not followed)`,
        };
      }
      const { body, truncated } = await readBounded(response, maxBytes);
      return { ok: true, status: response.status, body, truncated };
    } catch (error) {
      if (error instanceof OutboundRefusedError) {
        return {
          ok: false,
          error: `refused by rule ${error.rule}: ${error.message}`,
          rule: error.rule,
        };
      }
      if (signal.aborted) return timedOut;
      return {
        ok: false,
        error: `request failed: ${error instanceof Error ? error.message : String(error)}`,
      };
    } finally {
      release();
    }
  }
}

/** `promise`, or a rejection once `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Reads at most `maxBytes` of `response`'s body, then lets the rest go. */
async function readBounded(
  response: Response,
  maxBytes: number,
): Promise<{ body: Uint8Array; truncated: boolean }> {
  const reader = response.body?.getReader();
  if (!reader) return { body: new Uint8Array(0), truncated: false };
  const chunks: Uint8Array[] = [];
  let read = 0;
  let truncated = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (read + value.byteLength > maxBytes) {
        chunks.push(value.subarray(0, maxBytes - read));
        read = maxBytes;
        truncated = true;
        break;
      }
      chunks.push(value);
      read += value.byteLength;
    }
  } finally {
    if (truncated) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  const body = new Uint8Array(read);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { body, truncated };
}
