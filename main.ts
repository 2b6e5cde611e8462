/**
 * Escrow's only wiring: read the configuration, open Deno KV, build the
 * broker, serve the HTTP API and run durable jobs until SIGINT or SIGTERM,
 * then shut down within 2 s (src/shutdown.ts).
 *
 * @module
 */
import { dirname } from "@std/path";
import { type Config, readConfig } from "./src/config.ts";
import { Broker } from "./src/engine/broker.ts";
import { GrpcFront, loadCertificate } from "./src/grpc/mod.ts";
import { createApp } from "./src/http/app.ts";
import { Overload } from "./src/http/limits/mod.ts";
import { Logger } from "./src/observe/log.ts";
import { OutboundPolicy } from "./src/outbound/mod.ts";
import { GracefulShutdown } from "./src/shutdown.ts";

/** Opens KV at `path`, creating the folder of a file path first. */
async function openKv(path: string | undefined): Promise<Deno.Kv> {
  if (path && path !== ":memory:" && !/^https?:\/\//.test(path)) {
    await Deno.mkdir(dirname(path), { recursive: true });
  }
  return await Deno.openKv(path);
}

/** Where the gRPC port's self-signed certificate is kept: next to a KV file, else `./data`. */
function grpcDataDir(kvPath: string | undefined): string {
  return kvPath && kvPath !== ":memory:" && !/^https?:\/\//.test(kvPath)
    ? dirname(kvPath)
    : "./data";
}

if (import.meta.main) {
  let config: Config;
  try {
    config = readConfig(Deno.env.toObject());
  } catch (error) {
    // A wrong setting (a token list that does not parse, an unknown permission) stops here.
    console.error(`Escrow cannot start: ${(error as Error).message}`);
    Deno.exit(1);
  }
  const logger = new Logger({ level: config.logLevel, format: config.logFormat });
  if (config.tokens.size === 0) {
    logger.warn(
      "startup.open",
      "No tokens (ESCROW_TOKENS, ESCROW_TOKENS_FILE, ESCROW_API_TOKEN): the broker is OPEN; " +
        "anyone who reaches it may publish, consume, decide transactions and delete groups",
    );
  }
  // The broker's own address is refused as a call target (a check URL aimed at its own API);
  // the port is set again once known (PORT=0).
  const outbound = new OutboundPolicy({
    allow: config.outboundAllow,
    self: { hostname: config.hostname, port: config.port },
  });
  if (!outbound.restricted) {
    logger.warn(
      "startup.outbound",
      "ESCROW_OUTBOUND_ALLOW is not set: check-back, push and alert URLs may reach any host " +
        "(loopback and private networks included) but link-local, cloud metadata, unspecified " +
        "addresses and the broker itself; set it in production, e.g. ESCROW_OUTBOUND_ALLOW=10.20.0.0/16",
    );
  }
  const kv = await openKv(config.kvPath);
  const broker = await Broker.open(kv, { logger, outbound });
  await broker.start();
  // On Deno Deploy an idle app is stopped and its timers with it: a cron wakes it every
  // minute to run due jobs (check-backs, visibility timeouts). Harmless where timers live on.
  Deno.cron("escrow-due-jobs", "* * * * *", async () => {
    await broker.scheduler.runDue();
  });
  const app = createApp(broker, {
    inspectorUrl: config.inspectorUrl,
    overload: new Overload(config.limits),
    tokens: config.tokens,
  });
  // The RocketMQ gRPC front (off with ESCROW_GRPC_PORT=off); its self-signed certificate,
  // when none is configured, is kept next to the KV file.
  const grpcConfig = config.grpc;
  const grpc = grpcConfig.port === undefined ? undefined : await GrpcFront.start(broker, kv, {
    port: grpcConfig.port,
    hostname: config.hostname,
    tokens: config.tokens,
    autoCreateGroups: grpcConfig.autoCreateGroups,
    ...(grpcConfig.producerGroup !== undefined ? { producerGroup: grpcConfig.producerGroup } : {}),
    // Configured files are read now (a wrong path stops start-up); a self-signed pair is read
    // or made on the first TLS connection.
    tls: grpcConfig.tlsCert !== undefined || grpcConfig.tlsKey !== undefined
      ? await loadCertificate({
        ...(grpcConfig.tlsCert !== undefined ? { certFile: grpcConfig.tlsCert } : {}),
        ...(grpcConfig.tlsKey !== undefined ? { keyFile: grpcConfig.tlsKey } : {}),
      })
      : () =>
        loadCertificate({ dataDir: grpcDataDir(config.kvPath) }).catch((error) => {
          logger.error("grpc.tls", `Cannot make the gRPC port's certificate: ${error}`);
          throw error;
        }),
  }).catch((error) => {
    // A port taken (another broker on this machine) leaves the HTTP API serving, loudly.
    if ((error as { code?: string }).code !== "EADDRINUSE") throw error;
    logger.error(
      "startup.grpc",
      `Cannot serve gRPC on port ${grpcConfig.port}: it is in use; the RocketMQ front is OFF ` +
        "(set ESCROW_GRPC_PORT to a free port, or off)",
      { port: grpcConfig.port },
    );
    return undefined;
  });
  if (grpc) {
    const host = config.hostname === "0.0.0.0" ? "localhost" : config.hostname;
    logger.info(
      "startup.grpc",
      `RocketMQ gRPC endpoint: ${host}:${grpc.port} (plaintext and TLS, apache.rocketmq.v2)`,
      { hostname: config.hostname, port: grpc.port, autoCreateGroups: grpcConfig.autoCreateGroups },
    );
  }
  const server = Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: ({ hostname, port }) => {
      outbound.listeningOn({ hostname, port });
      const host = hostname === "0.0.0.0" ? "localhost" : hostname;
      const kvPath = config.kvPath ?? "platform default";
      const auth = config.tokens.size > 0 ? "on" : "off";
      const principals = config.tokens.names.join(","); // names only, never a secret
      logger.info(
        "startup",
        `Escrow listening on http://${host}:${port}/ (KV: ${kvPath}, jobs: ${broker.scheduler.mode}, auth: ${auth})`,
        {
          hostname,
          port,
          kvPath,
          jobs: broker.scheduler.mode,
          auth,
          principals,
          logLevel: logger.level,
        },
      );
    },
  }, app.fetch);
  // Long polls answer first, so the server's wait for open requests is short; the broker
  // then finishes its jobs and pushes; all of it bounded by the grace period (src/shutdown.ts).
  const shutdown = new GracefulShutdown([
    { waitsFor: "open long polls", run: () => broker.beginShutdown() },
    { waitsFor: "open HTTP requests", run: () => server.shutdown() },
    { waitsFor: "gRPC streams", run: () => grpc?.close() ?? Promise.resolve() },
    { waitsFor: "jobs, pushes and commits in flight", run: () => broker.stop() },
    { waitsFor: "the KV database", run: () => kv.close() },
  ], {
    log: (line) => logger.info("shutdown", line),
    error: (line) => logger.error("shutdown.problem", line),
  });
  shutdown.listen();
}
