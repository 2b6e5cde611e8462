/**
 * Escrow's only wiring: read the configuration, open Deno KV, build the
 * broker, serve the HTTP API and run durable jobs until SIGINT or SIGTERM,
 * then shut down within 2 s (src/shutdown.ts).
 *
 * @module
 */
import { dirname } from "@std/path";
import { bearerAuth } from "hono/bearer-auth";
import { readConfig } from "./src/config.ts";
import { Broker } from "./src/engine/broker.ts";
import { createApp } from "./src/http/app.ts";
import { browserAuth } from "./src/http/browser_auth.ts";
import { Logger } from "./src/observe/log.ts";
import { GracefulShutdown } from "./src/shutdown.ts";

/** Opens KV at `path`, creating the folder of a file path first. */
async function openKv(path: string | undefined): Promise<Deno.Kv> {
  if (path && path !== ":memory:" && !/^https?:\/\//.test(path)) {
    await Deno.mkdir(dirname(path), { recursive: true });
  }
  return await Deno.openKv(path);
}

if (import.meta.main) {
  const config = readConfig(Deno.env.toObject());
  const logger = new Logger({ level: config.logLevel, format: config.logFormat });
  const kv = await openKv(config.kvPath);
  const broker = await Broker.open(kv, { logger });
  await broker.start();
  // On Deno Deploy an idle app is stopped and its timers with it: a cron wakes it every
  // minute to run due jobs (check-backs, visibility timeouts). Harmless where timers live on.
  Deno.cron("escrow-due-jobs", "* * * * *", async () => {
    await broker.scheduler.runDue();
  });
  const app = createApp(broker, {
    inspectorUrl: config.inspectorUrl,
    ...(config.apiToken
      ? { auth: bearerAuth({ token: config.apiToken }), browserAuth: browserAuth(config.apiToken) }
      : {}),
  });
  const server = Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: ({ hostname, port }) => {
      const host = hostname === "0.0.0.0" ? "localhost" : hostname;
      const kvPath = config.kvPath ?? "platform default";
      const auth = config.apiToken ? "on" : "off";
      logger.info(
        "startup",
        `Escrow listening on http://${host}:${port}/ (KV: ${kvPath}, jobs: ${broker.scheduler.mode}, auth: ${auth})`,
        { hostname, port, kvPath, jobs: broker.scheduler.mode, auth, logLevel: logger.level },
      );
    },
  }, app.fetch);
  // Long polls answer first, so the server's wait for open requests is short; the broker
  // then finishes its jobs and pushes; all of it bounded by the grace period (src/shutdown.ts).
  const shutdown = new GracefulShutdown([
    { waitsFor: "open long polls", run: () => broker.beginShutdown() },
    { waitsFor: "open HTTP requests", run: () => server.shutdown() },
    { waitsFor: "jobs, pushes and commits in flight", run: () => broker.stop() },
    { waitsFor: "the KV database", run: () => kv.close() },
  ], {
    log: (line) => logger.info("shutdown", line),
    error: (line) => logger.error("shutdown.problem", line),
  });
  shutdown.listen();
}
