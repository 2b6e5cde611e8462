/**
 * Configuration from the environment, read once at start-up.
 *
 * @module
 */
import { type OverloadLimits, readLimits } from "./http/limits/limits.ts";
import { readTokens, type ReadTokensOptions } from "./http/auth/token_config.ts";
import type { TokenSet } from "./http/auth/token_set.ts";
import { isLogLevel, LOG_LEVELS, type LogFormat, type LogLevel } from "./observe/log.ts";
import { parseAllowList } from "./outbound/policy.ts";

/** The service's settings. */
export interface Config {
  /** TCP port of the HTTP API. */
  readonly port: number;
  /** Hostname to listen on. */
  readonly hostname: string;
  /**
   * Path handed to `Deno.openKv`: a file, `:memory:`, a KV Connect URL, or
   * undefined for the platform's default database (Deno Deploy).
   */
  readonly kvPath: string | undefined;
  /** `ESCROW_API_TOKEN`, when set: one admin token, also in {@linkcode Config.tokens}. */
  readonly apiToken: string | undefined;
  /**
   * The tokens and their permissions: `ESCROW_TOKENS`, the file
   * `ESCROW_TOKENS_FILE` names and `ESCROW_API_TOKEN` (admin), all of them;
   * empty when none is set (the broker is open).
   */
  readonly tokens: TokenSet;
  /** The Stately inspector UI that `/inspect` opens (the viewer's browser loads it). */
  readonly inspectorUrl: string;
  /** Lowest level of the lines logged (`ESCROW_LOG_LEVEL`). */
  readonly logLevel: LogLevel;
  /** JSON lines or readable ones (`ESCROW_LOG_FORMAT`). */
  readonly logFormat: LogFormat;
  /**
   * Overload limits, per process: `ESCROW_MAX_CONCURRENT_REQUESTS` (4096),
   * `ESCROW_MAX_CONCURRENT_REQUESTS_PER_TOKEN` (1024), `ESCROW_MAX_LONG_POLLS`
   * (3072), `ESCROW_MAX_LONG_POLLS_PER_TOKEN` (512), `ESCROW_RATE_PER_TOKEN`
   * (1000 requests/s) and `ESCROW_BURST_PER_TOKEN` (2000); 0 = unlimited.
   */
  readonly limits: OverloadLimits;
  /**
   * `ESCROW_OUTBOUND_ALLOW`: comma-separated hosts, IPs and CIDRs that
   * check-back, push and alert URLs may reach; unset, only the rules that
   * always hold restrict them (see `src/outbound/policy.ts`).
   */
  readonly outboundAllow: string | undefined;
  /**
   * The RocketMQ gRPC front (`src/grpc/`): `ESCROW_GRPC_PORT` (8081; `off`
   * disables it: `port` undefined), `ESCROW_GRPC_TLS_CERT` and
   * `ESCROW_GRPC_TLS_KEY` (PEM files; both or neither, else a self-signed
   * certificate kept in the data directory), `ESCROW_GRPC_AUTO_CREATE_GROUPS`
   * (true; false answers CONSUMER_GROUP_NOT_FOUND for a group Escrow lacks)
   * and `ESCROW_GRPC_PRODUCER_GROUP` (the producer group of transactions
   * prepared over gRPC, whose checkUrl serves them when no producer is connected).
   */
  readonly grpc: GrpcConfig;
}

/** Settings of the gRPC front, {@linkcode Config.grpc}. */
export interface GrpcConfig {
  readonly port: number | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly autoCreateGroups: boolean;
  readonly producerGroup: string | undefined;
}

/** Default port of the gRPC front (the RocketMQ proxy's). */
export const DEFAULT_GRPC_PORT = 8081;

/** Default KV file, relative to the working directory. */
export const DEFAULT_KV_PATH = "./data/escrow.kv";

/** The hosted Stately inspector UI. */
export const DEFAULT_INSPECTOR_URL = "https://stately.ai/inspect";

/**
 * Reads the configuration: `PORT` (8000), `HOSTNAME` (0.0.0.0),
 * `ESCROW_KV_PATH` (`./data/escrow.kv`; on Deno Deploy an unset path means
 * the platform's KV), `ESCROW_TOKENS`, `ESCROW_TOKENS_FILE` and
 * `ESCROW_API_TOKEN` (the tokens, {@linkcode Config.tokens}; no authentication
 * when none is set; `options.readTextFile` reads the file) and
 * `ESCROW_INSPECTOR_URL` (`https://stately.ai/inspect`, an http(s) URL),
 * `ESCROW_LOG_LEVEL` (`info`; `debug`, `info`, `warn` or `error`) and
 * `ESCROW_LOG_FORMAT` (`text`; `json` for one JSON object per line), and
 * the overload limits ({@linkcode Config.limits}, read by `readLimits`), and
 * `ESCROW_OUTBOUND_ALLOW` (unset: outbound calls restricted only by the
 * rules that always hold).
 *
 * @example
 * ```ts
 * import { readConfig } from "./config.ts";
 * const config = readConfig({ PORT: "9000" });
 * console.log(config.port); // 9000
 * ```
 */
export function readConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: ReadTokensOptions = {},
): Config {
  const port = Number(env.PORT ?? 8000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot read PORT: current value is ${env.PORT}`);
  }
  const onDeploy = env.DENO_DEPLOYMENT_ID !== undefined;
  const kvPath = env.ESCROW_KV_PATH || (onDeploy ? undefined : DEFAULT_KV_PATH);
  const inspectorUrl = env.ESCROW_INSPECTOR_URL || DEFAULT_INSPECTOR_URL;
  if (!URL.canParse(inspectorUrl) || !/^https?:$/.test(new URL(inspectorUrl).protocol)) {
    throw new RangeError(
      `Cannot read ESCROW_INSPECTOR_URL: current value is ${inspectorUrl} (an http or https URL)`,
    );
  }
  const logLevel = (env.ESCROW_LOG_LEVEL || "info").toLowerCase();
  if (!isLogLevel(logLevel)) {
    throw new RangeError(
      `Cannot read ESCROW_LOG_LEVEL: current value is ${env.ESCROW_LOG_LEVEL} (one of ${
        LOG_LEVELS.join(", ")
      })`,
    );
  }
  const logFormat = (env.ESCROW_LOG_FORMAT || "text").toLowerCase();
  if (logFormat !== "json" && logFormat !== "text") {
    throw new RangeError(
      `Cannot read ESCROW_LOG_FORMAT: current value is ${env.ESCROW_LOG_FORMAT} (json or text)`,
    );
  }
  return {
    logLevel,
    logFormat,
    port,
    hostname: env.HOSTNAME ?? "0.0.0.0",
    kvPath,
    apiToken: env.ESCROW_API_TOKEN || undefined,
    tokens: readTokens(env, options),
    inspectorUrl,
    limits: readLimits(env),
    outboundAllow: readOutboundAllow(env.ESCROW_OUTBOUND_ALLOW),
    grpc: readGrpc(env),
  };
}

/** The `ESCROW_GRPC_*` settings, checked now so that a typo stops start-up. */
function readGrpc(env: Readonly<Record<string, string | undefined>>): GrpcConfig {
  const text = (env.ESCROW_GRPC_PORT ?? "").trim().toLowerCase();
  // Deno Deploy serves HTTP only: there the front is off unless a port is named.
  let port: number | undefined = env.DENO_DEPLOYMENT_ID !== undefined
    ? undefined
    : DEFAULT_GRPC_PORT;
  if (text === "off") port = undefined;
  else if (text !== "") {
    port = Number(text);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(
        `Cannot read ESCROW_GRPC_PORT: current value is ${env.ESCROW_GRPC_PORT} (a port or off)`,
      );
    }
  }
  const tlsCert = env.ESCROW_GRPC_TLS_CERT || undefined;
  const tlsKey = env.ESCROW_GRPC_TLS_KEY || undefined;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new RangeError(
      "Cannot read ESCROW_GRPC_TLS_CERT and ESCROW_GRPC_TLS_KEY: set both or neither",
    );
  }
  const auto = (env.ESCROW_GRPC_AUTO_CREATE_GROUPS ?? "true").trim().toLowerCase();
  if (auto !== "true" && auto !== "false") {
    throw new RangeError(
      `Cannot read ESCROW_GRPC_AUTO_CREATE_GROUPS: current value is ${env.ESCROW_GRPC_AUTO_CREATE_GROUPS} (true or false)`,
    );
  }
  return {
    port,
    tlsCert,
    tlsKey,
    autoCreateGroups: auto === "true",
    producerGroup: env.ESCROW_GRPC_PRODUCER_GROUP || undefined,
  };
}

/** `ESCROW_OUTBOUND_ALLOW`, checked now so that a typo stops start-up, not a call later. */
function readOutboundAllow(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  parseAllowList(value); // throws a RangeError naming the entry
  return value;
}
