/**
 * The overview's live stream: one loop per open page that reads the
 * overview a few times a second and sends, as one SSE event per section,
 * only the sections whose markup changed. It stops when the page closes,
 * and after {@linkcode LiveOptions.lifetimeMs} (the browser reconnects on
 * its own), so no loop outlives its reader.
 *
 * @module
 */
import { delay } from "@std/async/delay";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { Broker } from "../../engine/broker.ts";
import { readOverview, type SentAlerts } from "./overview.ts";
import { renderSection, SECTIONS } from "./overview_sections.tsx";
import { RateMeter } from "./rate_meter.ts";

/** Options of {@linkcode liveOverview}. */
export interface LiveOptions {
  /** Time between two reads. @default {1000} */
  readonly intervalMs?: number;
  /** When a stream ends so the browser opens a fresh one. @default {60000} */
  readonly lifetimeMs?: number;
  /** Current time in epoch ms. @default {Date.now} */
  readonly clock?: () => number;
}

/**
 * Answers with the SSE stream of the overview.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { liveOverview } from "./live.ts";
 * declare const broker: import("../../engine/broker.ts").Broker;
 * new Hono().get("/dashboard/events", (c) => liveOverview(c, broker));
 * ```
 */
export function liveOverview(
  c: Context,
  broker: Broker,
  options: LiveOptions = {},
): Response {
  const intervalMs = options.intervalMs ?? 1_000;
  const lifetimeMs = options.lifetimeMs ?? 60_000;
  const clock = options.clock ?? Date.now;
  const signal = c.req.raw.signal;
  return streamSSE(c, async (stream) => {
    const closed = new AbortController();
    stream.onAbort(() => closed.abort());
    signal.addEventListener("abort", () => closed.abort(), { once: true });
    // A stream left open would hold up the server's shutdown until the grace period ends.
    broker.closing.addEventListener("abort", () => closed.abort(), { once: true });
    if (broker.closing.aborted) closed.abort();
    const meter = new RateMeter();
    const sentAlerts: SentAlerts = new Map();
    const sent = new Map<string, string>();
    const until = clock() + lifetimeMs;
    // Bounded: at most lifetimeMs / intervalMs rounds, fewer when the reader leaves.
    for (let round = 0; !closed.signal.aborted && clock() < until; round++) {
      const started = performance.now();
      const overview = await readOverview(broker, clock(), meter, sentAlerts);
      for (const name of SECTIONS) {
        const html = renderSection(name, overview);
        if (sent.get(name) === html) continue;
        await stream.writeSSE({
          event: name,
          data: html,
          id: String(round),
          ...(round === 0 ? { retry: 1_000 } : {}),
        });
        sent.set(name, html);
      }
      try {
        // A big backlog makes a round slow (counting it reads the log): then wait longer, so
        // that an open page keeps the broker busy at most a fifth of the time.
        const took = performance.now() - started;
        await delay(Math.max(intervalMs, 4 * took), { signal: closed.signal });
      } catch {
        break; // the reader left
      }
    }
  });
}
