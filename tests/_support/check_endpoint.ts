/**
 * A producer's check-back endpoint for tests: a {@linkcode RecordingServer}
 * at `/check` whose calls are read as the broker's check-back requests, and
 * replies given as a state, an HTTP status or raw text.
 *
 * @module
 */
import type { CheckBackRequest } from "../../src/domain/wire.ts";
import { RecordingServer } from "./recording_server.ts";

/** What the broker POSTs to a check URL, as received, with its arrival time. */
export interface CheckCall extends CheckBackRequest {
  /** When the call arrived, in epoch ms. */
  readonly receivedAt: number;
}

/**
 * A reply: a state (`{"state": ...}`), a bare HTTP status, raw text sent as
 * JSON (to send what is not valid JSON or has no state), or any response.
 */
export type CheckReply =
  | "commit"
  | "rollback"
  | "unknown"
  | { readonly status: number }
  | { readonly raw: string }
  | Response;

/** Answers one check-back call. */
export type CheckResponder = (call: CheckCall) => CheckReply | Promise<CheckReply>;

/**
 * A recording check-back endpoint.
 *
 * @example
 * ```ts
 * import { CheckEndpoint } from "./check_endpoint.ts";
 * await using endpoint = CheckEndpoint.serve(() => "commit");
 * console.log(endpoint.url); // http://127.0.0.1:PORT/check
 * ```
 */
export class CheckEndpoint implements AsyncDisposable {
  /** Every call received, in arrival order. */
  readonly calls: CheckCall[] = [];
  readonly #server: RecordingServer;

  private constructor(respond: CheckResponder) {
    this.#server = RecordingServer.serve(async (recorded) => {
      const call: CheckCall = {
        ...recorded.json as Omit<CheckCall, "receivedAt">,
        receivedAt: recorded.receivedAt,
      };
      this.calls.push(call);
      return replyResponse(await respond(call));
    }, { path: "/check" });
  }

  /**
   * Starts an endpoint answering with `respond`.
   *
   * @param respond Decides each reply (and may act before giving it).
   * @returns The running endpoint; disposing it stops it.
   */
  static serve(respond: CheckResponder): CheckEndpoint {
    return new CheckEndpoint(respond);
  }

  /** The check URL to give the broker. */
  get url(): string {
    return this.#server.url;
  }

  /** The calls made for one transaction, in arrival order. */
  callsFor(transactionId: string): CheckCall[] {
    return this.calls.filter((call) => call.transactionId === transactionId);
  }

  /** Stops listening and waits for the calls in progress. */
  async close(): Promise<void> {
    await this.#server.close();
  }

  /** Same as {@linkcode close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * A check-back answer as the broker expects it.
 *
 * @example
 * ```ts
 * import { checkAnswer } from "./check_endpoint.ts";
 * const res = checkAnswer("unknown");
 * console.log(res.status); // 200
 * ```
 */
export function checkAnswer(state: "commit" | "rollback" | "unknown"): Response {
  return Response.json({ state });
}

/** The response a reply stands for. */
function replyResponse(reply: CheckReply): Response {
  if (reply instanceof Response) return reply;
  if (typeof reply === "string") return checkAnswer(reply);
  if ("status" in reply) return new Response("no", { status: reply.status });
  return new Response(reply.raw, { headers: { "content-type": "application/json" } });
}
