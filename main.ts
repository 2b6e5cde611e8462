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
  const kv = await openKv(config.kvPath);
  const broker = await Broker.open(kv);
  await broker.start();
  // On Deno Deploy an idle app is stopped and its timers with it: a cron wakes it every
  // minute to run due jobs (check-backs, visibility timeouts). Harmless where timers live on.
  Deno.cron("escrow-due-jobs", "* * * * *", async () => {
    await broker.scheduler.runDue();
  });
  const app = createApp(
    broker,
    config.apiToken ? { auth: bearerAuth({ token: config.apiToken }) } : {},
  );
  const server = Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: ({ hostname, port }) => {
      const host = hostname === "0.0.0.0" ? "localhost" : hostname;
      console.log(
        `Escrow listening on http://${host}:${port}/ (KV: ${
          config.kvPath ?? "platform default"
        }, jobs: ${broker.scheduler.mode})`,
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
  ]);
  shutdown.listen();
}
