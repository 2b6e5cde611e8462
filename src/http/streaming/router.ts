/**
 * `GET /v1/groups/{group}/stream`: a consumer stream, one WebSocket per
 * consumer (the frames are in `frames.ts`, the session in `session.ts`).
 *
 * The handshake is checked before it is accepted: the route's permission
 * (`consume:<group>`) by the API's auth, which takes the token from
 * `Authorization: Bearer` or, for a browser (whose WebSocket cannot send a
 * header), from the subprotocol `escrow.bearer.<base64url of the token>`
 * (`auth/middleware.ts`); the query; the group (404); the overload limits:
 * an open stream holds one of the long-poll slots of `limits/`
 * (`ESCROW_MAX_LONG_POLLS`, `_PER_TOKEN`) for as long as it is open, since
 * it is one waiting consumer as a long poll is, and costs less (no request
 * per wait). `Deno.upgradeWebSocket` accepts it, as on Deno Deploy.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { admitLongPoll } from "../limits/mod.ts";
import { problemResponse } from "../problem.ts";
import { type AppEnv, newRouter, problems, secured } from "../router.ts";
import { Name, ProblemSchema } from "../schemas.ts";
import { MAX_CREDITS } from "./frames.ts";
import { StreamSession } from "./session.ts";

/** The subprotocol of this version of the stream; chosen when the client offers it. */
export const STREAM_PROTOCOL = "escrow.v1";

/** How a subprotocol carrying a bearer token starts: `escrow.bearer.<base64url token>`. */
export const BEARER_PROTOCOL_PREFIX = "escrow.bearer.";

const DESCRIPTION =
  `A WebSocket that pushes the group's committed messages as they arrive, within a credit window the client grants, and takes their acks, nacks and visibility changes. Send \`Upgrade: websocket\`; a plain GET is a 426.

**Authentication**: \`Authorization: Bearer <token>\`, or, from a browser, the subprotocol \`${BEARER_PROTOCOL_PREFIX}<token as base64url>\` next to \`${STREAM_PROTOCOL}\` (the broker answers with \`${STREAM_PROTOCOL}\`). No query token: addresses end up in logs.

**Frames** are JSON text messages. Client → broker:
- \`{"type":"credit","n":64}\`: lets the broker push \`n\` more messages (at most ${MAX_CREDITS} outstanding). Each pushed message uses one; acks do not give credits back, the client grants them again (the SDK grants one per handled message, so it never holds more than its concurrency).
- \`{"type":"ack","id":"a1","receiptHandles":[...]}\` → \`{"type":"acked","id":"a1","acked":n,"failed":[{"receiptHandle","reason"}]}\`, as \`POST /ack\`.
- \`{"type":"nack","id":"n1","receiptHandles":[...],"delaySeconds"?,"reason"?}\` → \`{"type":"nacked","id":"n1","nacked":n,"failed":[...]}\`, as \`POST /nack\`.
- \`{"type":"visibility","id":"v1","receiptHandle":"...","visibilityTimeoutSeconds":60}\` → \`{"type":"visibility","id":"v1","receiptHandle":"<new>","visibleUntil":"..."}\`, or an \`error\` frame whose problem has status 409 and a \`reason\`.
- \`{"type":"stop"}\`: no more pushes; answered by \`{"type":"stopped"}\` after the last \`messages\` frame.

Broker → client: \`{"type":"messages","messages":[...]}\` (each as a receive returns it, with its signed \`receiptHandle\`), the answers above (\`id\` repeated when given), and \`{"type":"error","id"?,"problem":{...}}\` for a frame refused, \`problem\` a problem-details body (\`status\`, \`detail\`, \`issues\` naming the field, e.g. \`frame.n\`); a refused frame changes nothing and the stream stays open.

**Closing**: when the socket closes, cleanly or not, every message pushed on it and not acked or nacked on it is released at once (deliverable again, its attempt failed as "released"). To stop without giving anything back: send \`stop\`, settle what arrived before \`stopped\`, then close. The broker closes with 1012 when it shuts down. An open stream counts as one long poll against the overload limits.`;

const stream = createRoute({
  method: "get",
  path: "/v1/groups/{group}/stream",
  operationId: "streamMessages",
  ...secured,
  tags: ["delivery"],
  summary: "Consume over a WebSocket: pushed messages within a credit window, acks on the socket",
  description: DESCRIPTION,
  request: {
    params: z.object({ group: Name }),
    query: z.object({
      visibilityTimeoutSeconds: z.coerce.number().gt(0).max(43_200).optional().openapi({
        description: "Visibility timeout of each pushed message; the group's when omitted",
      }),
    }),
  },
  responses: {
    101: { description: "Switching protocols: the stream is open" },
    426: {
      content: { "application/problem+json": { schema: ProblemSchema } },
      description: "Not a WebSocket handshake",
    },
    ...problems(400, 404),
  },
});

/** The subprotocol to answer with: {@linkcode STREAM_PROTOCOL} when the client offered it. */
function chosenProtocol(c: Context<AppEnv>): string | undefined {
  const offered = (c.req.header("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  return offered.includes(STREAM_PROTOCOL) ? STREAM_PROTOCOL : undefined;
}

/**
 * The stream's router.
 *
 * @example
 * ```ts
 * import { streamRouter } from "./router.ts";
 * const router = streamRouter();
 * ```
 */
export function streamRouter() {
  return newRouter().openapi(stream, async (c) => {
    const { group } = c.req.valid("param");
    const { visibilityTimeoutSeconds } = c.req.valid("query");
    const broker = c.get("broker");
    await broker.groups.require(group);
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return problemResponse({
        type: "https://escrow.dev/problems/upgraderequired",
        title: "Upgrade required",
        status: 426,
        detail: `Cannot GET ${c.req.path}: it is a WebSocket (send Upgrade: websocket)`,
      }, c) as never;
    }
    // Held from the handshake until the session has released what it held.
    const slot = admitLongPoll(c, Number.POSITIVE_INFINITY);
    let upgraded: ReturnType<typeof Deno.upgradeWebSocket>;
    try {
      const protocol = chosenProtocol(c);
      upgraded = Deno.upgradeWebSocket(c.req.raw, protocol ? { protocol } : {});
    } catch (error) {
      slot[Symbol.dispose]();
      throw error;
    }
    const { socket, response } = upgraded;
    const session = new StreamSession(broker.deliveries, group, socket, {
      ...(visibilityTimeoutSeconds !== undefined ? { visibilityTimeoutSeconds } : {}),
      closing: broker.closing,
    });
    socket.onopen = () => session.start();
    socket.onmessage = (event) => {
      if (typeof event.data === "string") return session.receive(event.data);
      session.receive("binary frames are not JSON");
    };
    socket.onclose = () => void session.close().finally(() => slot[Symbol.dispose]());
    socket.onerror = () => {}; // a close event follows
    return response as never;
  });
}
