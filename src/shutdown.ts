/**
 * Graceful shutdown of the process on SIGINT or SIGTERM, bounded in time.
 *
 * The first signal logs one line and runs the shutdown steps in order (in
 * `main.ts`: answer open long polls, stop the HTTP server, stop the broker's
 * jobs and pushes, close KV), then exits with 0. Each step waits for what it
 * closes, so an endpoint that never answers a push could hold the process
 * for as long as that push's timeout: after a grace period (2 s) one line
 * names the step still waiting and the process exits anyway, with 1.
 * Nothing committed is lost by that: work that had not committed is retried
 * after its visibility timeout or job lease. A second signal while shutting
 * down exits at once, with 128 + the signal's number (130 for SIGINT, 143 for
 * SIGTERM), as a shell reports a process killed by it.
 *
 * @module
 */

/** The signals that shut Escrow down. */
export type ShutdownSignal = "SIGINT" | "SIGTERM";

/** Exit codes of a second signal: 128 + the signal's number. */
const SIGNAL_EXIT_CODES: Readonly<Record<ShutdownSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

/** One step of the shutdown. */
export interface ShutdownStep {
  /** What the step waits for, named in the line logged when the grace period runs out. */
  readonly waitsFor: string;
  /** Closes it; the next step starts once it has resolved. */
  readonly run: () => void | Promise<void>;
}

/** Options of {@linkcode GracefulShutdown}. */
export interface GracefulShutdownOptions {
  /** Longest the steps may take before the process exits anyway. @default {2000} */
  readonly graceMs?: number;
  /** Writes the line announcing the shutdown. @default {console.log} */
  readonly log?: (line: string) => void;
  /** Writes the lines about a step that failed or did not finish in time. @default {console.error} */
  readonly error?: (line: string) => void;
  /** Ends the process with an exit code. @default {Deno.exit} */
  readonly exit?: (code: number) => void;
}

/**
 * Runs the shutdown steps on the first signal, bounded by a grace period,
 * and exits at once on a second one.
 *
 * @example Wire it to the process's signals
 * ```ts
 * import { GracefulShutdown } from "./shutdown.ts";
 * using kv = await Deno.openKv(":memory:");
 * const shutdown = new GracefulShutdown([
 *   { waitsFor: "the KV database", run: () => kv.close() },
 * ]);
 * using _listening = shutdown.listen();
 * ```
 */
export class GracefulShutdown {
  readonly #steps: readonly ShutdownStep[];
  readonly #graceMs: number;
  readonly #log: (line: string) => void;
  readonly #error: (line: string) => void;
  readonly #exit: (code: number) => void;
  #running: Promise<void> | undefined;
  #exited = false;

  /**
   * Prepares the shutdown; nothing runs before {@linkcode handle} is called.
   *
   * @param steps Run in order on the first signal.
   * @param options Grace period, output and exit.
   */
  constructor(steps: readonly ShutdownStep[], options: GracefulShutdownOptions = {}) {
    this.#steps = steps;
    this.#graceMs = options.graceMs ?? 2_000;
    this.#log = options.log ?? ((line) => console.log(line));
    this.#error = options.error ?? ((line) => console.error(line));
    this.#exit = options.exit ?? ((code) => Deno.exit(code));
  }

  /**
   * Handles one signal: the first starts the shutdown, any later one exits
   * at once.
   *
   * @param signal The signal received.
   * @returns Resolves once the shutdown has ended and exit was called.
   */
  handle(signal: ShutdownSignal): Promise<void> {
    if (this.#running) {
      this.#exitWith(SIGNAL_EXIT_CODES[signal]);
      return this.#running;
    }
    this.#log(
      `Escrow shutting down (${signal}): answering open long polls, finishing open requests ` +
        `and work in flight for at most ${this.#graceMs} ms; a second signal exits at once`,
    );
    this.#running = this.#run();
    return this.#running;
  }

  /**
   * Listens to SIGINT and (except on Windows, which has no SIGTERM) SIGTERM.
   *
   * @returns Stops listening when disposed.
   */
  listen(): Disposable {
    const signals: ShutdownSignal[] = Deno.build.os === "windows"
      ? ["SIGINT"]
      : ["SIGINT", "SIGTERM"];
    const listeners = signals.map((signal) => {
      const listener = () => void this.handle(signal);
      Deno.addSignalListener(signal, listener);
      return { signal, listener };
    });
    return {
      [Symbol.dispose]: () => {
        for (const { signal, listener } of listeners) Deno.removeSignalListener(signal, listener);
      },
    };
  }

  async #run(): Promise<void> {
    let current: ShutdownStep | undefined;
    let failed = false;
    const timer = setTimeout(() => {
      this.#error(
        `Escrow shutdown not done after ${this.#graceMs} ms: still waiting for ${
          current?.waitsFor ?? "nothing"
        }; exiting anyway (committed work is kept, the rest is retried after its ` +
          `visibility timeout or lease)`,
      );
      this.#exitWith(1);
    }, this.#graceMs);
    try {
      for (const step of this.#steps) {
        if (this.#exited) return;
        current = step;
        try {
          await step.run();
        } catch (error) {
          failed = true;
          this.#error(`Escrow shutdown: waiting for ${step.waitsFor} failed: ${describe(error)}`);
        }
      }
    } finally {
      clearTimeout(timer);
    }
    this.#exitWith(failed ? 1 : 0);
  }

  #exitWith(code: number): void {
    if (this.#exited) return;
    this.#exited = true;
    this.#exit(code);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
