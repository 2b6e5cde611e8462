/**
 * Configuration from the environment, read once at start-up.
 *
 * @module
 */
import { isLogLevel, LOG_LEVELS, type LogFormat, type LogLevel } from "./observe/log.ts";

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
  /** When set, every `/v1` request must carry `Authorization: Bearer <token>`. */
  readonly apiToken: string | undefined;
  /** The Stately inspector UI that `/inspect` opens (the viewer's browser loads it). */
  readonly inspectorUrl: string;
  /** Lowest level of the lines logged (`ESCROW_LOG_LEVEL`). */
  readonly logLevel: LogLevel;
  /** JSON lines or readable ones (`ESCROW_LOG_FORMAT`). */
  readonly logFormat: LogFormat;
}

/** Default KV file, relative to the working directory. */
export const DEFAULT_KV_PATH = "./data/escrow.kv";

/** The hosted Stately inspector UI. */
export const DEFAULT_INSPECTOR_URL = "https://stately.ai/inspect";

/**
 * Reads the configuration: `PORT` (8000), `HOSTNAME` (0.0.0.0),
 * `ESCROW_KV_PATH` (`./data/escrow.kv`; on Deno Deploy an unset path means
 * the platform's KV), `ESCROW_API_TOKEN` (no authentication when unset) and
 * `ESCROW_INSPECTOR_URL` (`https://stately.ai/inspect`, an http(s) URL),
 * `ESCROW_LOG_LEVEL` (`info`; `debug`, `info`, `warn` or `error`) and
 * `ESCROW_LOG_FORMAT` (`text`; `json` for one JSON object per line).
 *
 * @example
 * ```ts
 * import { readConfig } from "./config.ts";
 * const config = readConfig({ PORT: "9000" });
 * console.log(config.port); // 9000
 * ```
 */
export function readConfig(env: Readonly<Record<string, string | undefined>>): Config {
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
    inspectorUrl,
  };
}
