/**
 * A set of client processes driven together: spawned at once, started with
 * one `go` once all are ready, their results gathered with one deadline,
 * and all killed when the set is disposed, whatever happened.
 *
 * @module
 */
import type { ControlLine, WorkerConfig, WorkerResult } from "./protocol.ts";
import { WorkerProcess } from "./worker_process.ts";

/** How long a client process may take to start and open its connections. */
const READY_TIMEOUT_MS = 60_000;

/**
 * Client processes of one phase.
 *
 * @example
 * ```ts ignore
 * import { Crew } from "./crew.ts";
 * declare const configs: import("./protocol.ts").WorkerConfig[];
 * await using crew = new Crew();
 * const publishers = crew.spawn("publisher", configs);
 * await crew.ready();
 * await crew.send(publishers, { type: "go" });
 * const results = await crew.results(publishers, 60_000);
 * ```
 */
export class Crew implements AsyncDisposable {
  readonly #workers: WorkerProcess[] = [];

  /** Starts one process per configuration, named `${role}-${i}`, running `script` if given. */
  spawn(role: string, configs: readonly WorkerConfig[], script?: string): WorkerProcess[] {
    const spawned = configs.map((config, i) =>
      WorkerProcess.spawn(`${role}-${i + 1}`, config, script)
    );
    this.#workers.push(...spawned);
    return spawned;
  }

  /** Waits until every process spawned so far has printed `ready`. */
  async ready(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.next("ready", READY_TIMEOUT_MS)));
  }

  /** Sends `line` to each of `workers`. */
  async send(workers: readonly WorkerProcess[], line: ControlLine): Promise<void> {
    await Promise.all(workers.map((worker) => worker.send(line)));
  }

  /** Waits for the `done` line of each of `workers` until `timeoutMs`. */
  async done(workers: readonly WorkerProcess[], timeoutMs: number): Promise<void> {
    await Promise.all(workers.map((worker) => worker.next("done", timeoutMs)));
  }

  /** Gathers the results of `workers`, in their order. */
  async results<T extends WorkerResult>(
    workers: readonly WorkerProcess[],
    timeoutMs: number,
  ): Promise<T[]> {
    return await Promise.all(workers.map((worker) => worker.result(timeoutMs) as Promise<T>));
  }

  /** Kills every process. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.kill()));
  }
}
