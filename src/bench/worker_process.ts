/**
 * A client process of the benchmark (`worker.ts` in one role) seen from the
 * orchestrator: started with its configuration as one JSON argument, it
 * prints JSON lines (`ready`, `done`, `result`, `error`) that this class
 * queues by type, and reads control lines (`go`, `expect`, `stop`) from its
 * stdin. Every wait has a deadline; disposal kills the process.
 *
 * @module
 */
import { signalQuietly } from "./broker_process.ts";
import { onInterrupt } from "./interrupt.ts";
import { forEachLine } from "./lines.ts";
import type { ControlLine, WorkerConfig, WorkerLine, WorkerResult } from "./protocol.ts";

const WORKER_PATH = new URL("./worker.ts", import.meta.url).pathname;
const KEPT_STDERR_CHARS = 4_000;

/** Someone waiting for a line of one type. */
interface Waiter {
  readonly resolve: (line: WorkerLine) => void;
  readonly reject: (error: Error) => void;
}

/**
 * One running client process.
 *
 * @example
 * ```ts ignore
 * import { WorkerProcess } from "./worker_process.ts";
 * declare const config: import("./protocol.ts").WorkerConfig;
 * await using worker = WorkerProcess.spawn("publisher-1", config);
 * await worker.next("ready", 30_000);
 * await worker.send({ type: "go" });
 * const result = await worker.result(60_000);
 * ```
 */
export class WorkerProcess implements AsyncDisposable {
  /** A name for error messages. */
  readonly name: string;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #queued = new Map<string, WorkerLine[]>();
  readonly #waiters = new Map<string, Waiter>();
  readonly #stderr = { text: "" };
  readonly #drained: Promise<unknown>;
  #exited = false;
  #failure: Error | undefined;

  private constructor(name: string, child: Deno.ChildProcess) {
    this.name = name;
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#drained = Promise.all([
      forEachLine(child.stdout, (line) => this.#receive(line)),
      forEachLine(child.stderr, (line) => {
        this.#stderr.text = (this.#stderr.text + line + "\n").slice(-KEPT_STDERR_CHARS);
      }),
    ]).catch(() => {});
    child.status.then(async (status) => {
      await this.#drained;
      this.#exited = true;
      this.#fail(
        new Error(
          `Cannot hear from ${name}: it exited with code ${status.code}\n${this.#stderr.text}`,
        ),
      );
    });
  }

  /** Starts `script` (default `worker.ts`; the NATS peer has its own) with `config`. */
  static spawn(name: string, config: WorkerConfig, script = WORKER_PATH): WorkerProcess {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script, JSON.stringify(config)],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const forget = onInterrupt(() => signalQuietly(child, "SIGKILL"));
    child.status.finally(forget);
    return new WorkerProcess(name, child);
  }

  /** Process id, for `/proc`. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Writes one control line to the process's stdin. */
  async send(line: ControlLine): Promise<void> {
    if (this.#exited) return;
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(line) + "\n")).catch(() => {});
  }

  /**
   * The next line of `type` (a queued one first); rejects after `timeoutMs`,
   * on an `error` line, or when the process exits first.
   */
  next<T extends WorkerLine["type"]>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<WorkerLine, { type: T }>> {
    const queued = this.#queued.get(type)?.shift();
    if (queued) return Promise.resolve(queued as Extract<WorkerLine, { type: T }>);
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#waiters.has(type)) {
      return Promise.reject(new TypeError(`Cannot wait twice for "${type}" from ${this.name}`));
    }
    const { promise, resolve, reject } = Promise.withResolvers<Extract<WorkerLine, { type: T }>>();
    const timer = setTimeout(() => {
      this.#waiters.delete(type);
      reject(new Error(`Cannot hear from ${this.name}: no "${type}" line in ${timeoutMs} ms`));
    }, timeoutMs);
    this.#waiters.set(type, {
      resolve: (line) => {
        clearTimeout(timer);
        resolve(line as Extract<WorkerLine, { type: T }>);
      },
      reject: (error) => {
        clearTimeout(timer);
        reject(error);
      },
    });
    return promise;
  }

  /** Waits for the process's result line. */
  async result(timeoutMs: number): Promise<WorkerResult> {
    return (await this.next("result", timeoutMs)).result;
  }

  /** Kills the process unless it has exited, and waits for it. */
  async kill(): Promise<void> {
    await this.#writer.close().catch(() => {});
    signalQuietly(this.#child, "SIGKILL");
    await this.#child.status;
    await this.#drained;
  }

  /** Same as {@linkcode kill}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }

  #receive(text: string): void {
    if (text.trim() === "") return;
    let line: WorkerLine;
    try {
      line = JSON.parse(text) as WorkerLine;
    } catch {
      return; // Not a protocol line (a stray log): ignore it.
    }
    if (line.type === "error") {
      this.#fail(new Error(`${this.name} failed: ${line.message}`));
      return;
    }
    const waiter = this.#waiters.get(line.type);
    if (waiter) {
      this.#waiters.delete(line.type);
      waiter.resolve(line);
    } else {
      this.#queued.set(line.type, [...(this.#queued.get(line.type) ?? []), line]);
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const waiter of waiters) waiter.reject(this.#failure);
  }
}
