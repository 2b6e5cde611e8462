/**
 * The client process's side of the protocol: control lines read from stdin
 * (`go`, `expect`, `stop`; end of input counts as `stop`) and protocol lines
 * written to stdout.
 *
 * @module
 */
import { forEachLine } from "./lines.ts";
import type { ControlLine, WorkerLine } from "./protocol.ts";

/**
 * The orchestrator's commands as promises and a callback.
 *
 * @example
 * ```ts ignore
 * import { WorkerControl } from "./worker_control.ts";
 * const control = WorkerControl.listen();
 * control.emit({ type: "ready" });
 * await control.go;
 * ```
 */
export class WorkerControl {
  /** Resolves on `go`. */
  readonly go: Promise<void>;
  /** Resolves on `stop` or when stdin ends. */
  readonly stopped: Promise<void>;
  /** Whether `stop` has come. */
  isStopped = false;
  /** Called with the counts of each `expect` line. */
  onExpect: (counts: Readonly<Record<string, number>>) => void = () => {};

  private constructor(go: Promise<void>, stopped: Promise<void>) {
    this.go = go;
    this.stopped = stopped;
  }

  /** Starts reading stdin. */
  static listen(): WorkerControl {
    const go = Promise.withResolvers<void>();
    const stop = Promise.withResolvers<void>();
    const control = new WorkerControl(go.promise, stop.promise);
    const markStopped = () => {
      control.isStopped = true;
      stop.resolve();
    };
    forEachLine(Deno.stdin.readable, (text) => {
      if (text.trim() === "") return;
      const line = JSON.parse(text) as ControlLine;
      if (line.type === "go") go.resolve();
      else if (line.type === "expect") control.onExpect(line.counts);
      else if (line.type === "stop") markStopped();
    }).catch(() => {}).finally(markStopped);
    return control;
  }

  /** Prints one protocol line. */
  emit(line: WorkerLine): void {
    console.log(JSON.stringify(line));
  }
}
