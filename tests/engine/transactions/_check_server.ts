/**
 * A real check-back endpoint on 127.0.0.1 for engine tests: answers each
 * call from a script and records what it was asked.
 *
 * @module
 */
import type { CheckBackRequest } from "../../../src/domain/wire.ts";

/** What the endpoint answers: a state, an HTTP status, or raw text. */
export type ScriptedAnswer =
  | "commit"
  | "rollback"
  | "unknown"
  | { status: number }
  | { raw: string };

/** A running check-back endpoint. */
export interface CheckServer extends AsyncDisposable {
  readonly url: string;
  readonly calls: CheckBackRequest[];
}

/**
 * Starts an endpoint; `answer` decides each reply (and may act before it).
 */
export function startCheckServer(
  answer: (request: CheckBackRequest) => ScriptedAnswer | Promise<ScriptedAnswer>,
): CheckServer {
  const calls: CheckBackRequest[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const request = await req.json() as CheckBackRequest;
    calls.push(request);
    const reply = await answer(request);
    if (typeof reply === "string") return Response.json({ state: reply });
    if ("status" in reply) return new Response("no", { status: reply.status });
    return new Response(reply.raw, { headers: { "content-type": "application/json" } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/check`,
    calls,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
