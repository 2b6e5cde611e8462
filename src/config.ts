/**
 * Configuration from the environment, read once at start-up.
 *
 * @module
 */

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
}

/** Default KV file, relative to the working directory. */
export const DEFAULT_KV_PATH = "./data/escrow.kv";

/**
 * Reads the configuration: `PORT` (8000), `HOSTNAME` (0.0.0.0),
 * `ESCROW_KV_PATH` (`./data/escrow.kv`; on Deno Deploy an unset path means
 * the platform's KV) and `ESCROW_API_TOKEN` (no authentication when unset).
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
  return {
    port,
    hostname: env.HOSTNAME ?? "0.0.0.0",
    kvPath,
    apiToken: env.ESCROW_API_TOKEN || undefined,
  };
}
