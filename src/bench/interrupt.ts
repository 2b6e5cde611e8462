/**
 * Cleaning up when the benchmark is interrupted: processes and temporary
 * folders register a synchronous cleanup while they exist, and on SIGINT or
 * SIGTERM every registered cleanup runs before the orchestrator exits, so no
 * broker or client process outlives it.
 *
 * @module
 */

const cleanups = new Set<() => void>();

/**
 * Registers `cleanup` to run on interruption; returns the function that
 * unregisters it.
 *
 * @example
 * ```ts
 * import { onInterrupt } from "./interrupt.ts";
 * const forget = onInterrupt(() => console.log("interrupted"));
 * forget();
 * ```
 */
export function onInterrupt(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/**
 * Makes SIGINT and SIGTERM run every registered cleanup and exit with 130.
 *
 * @example
 * ```ts ignore
 * import { installInterruptHandlers } from "./interrupt.ts";
 * installInterruptHandlers();
 * ```
 */
export function installInterruptHandlers(): void {
  const handler = () => {
    for (const cleanup of cleanups) {
      try {
        cleanup();
      } catch {
        // Best effort: the others must still run.
      }
    }
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", handler);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", handler);
}
