/**
 * `GET /metrics`: the broker's metrics in Prometheus text format, from its
 * own registry (see `src/observe/metrics.ts`). Group gauges are read at
 * scrape time.
 *
 * @module
 */
import { Hono } from "hono";
import type { AppEnv } from "./router.ts";

/**
 * The metrics router.
 *
 * @example
 * ```ts
 * import { metricsRouter } from "./metrics.ts";
 * const router = metricsRouter();
 * ```
 */
export function metricsRouter(): Hono<AppEnv> {
  const router = new Hono<AppEnv>();
  router.get("/metrics", async (c) => {
    const { metrics } = c.get("broker");
    c.header("content-type", metrics.contentType);
    c.header("cache-control", "no-store");
    return c.body(await metrics.scrape());
  });
  return router;
}
