/**
 * What the end-to-end tests share: the broker as a child process (`main.ts`
 * on a KV file, killable with SIGKILL), a small client of its HTTP API, and
 * polling with a deadline so no test sleeps for a fixed time or waits
 * without bound. (The check-back endpoint they call is in
 * `_support/check_endpoint.ts`.)
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { delay } from "@std/async/delay";
import { fromFileUrl } from "@std/path/from-file-url";

/** The project folder, where `main.ts` and `deno.json` live. */
export const PROJECT_DIR: string = fromFileUrl(new URL("../", import.meta.url));

const LISTENING = /Escrow listening on (http:\/\/[^\s/]+:(\d+))\//;

// Polling --------------------------------------------------------------------

/** Options of {@linkcode waitFor}. */
export interface WaitOptions {
  /** Give up after this long. @default {10000} */
  timeoutMs?: number;
  /** Pause between probes. @default {50} */
  intervalMs?: number;
  /** What is awaited, for the error message. @default {"condition"} */
  what?: string;
}

/**
 * Probes until `done(value)` holds and returns that value; throws once
 * `timeoutMs` has passed, showing the last value probed.
 *
 * @example
 * ```ts
 * import { waitFor } from "./_process.ts";
 * let n = 0;
 * const value = await waitFor(() => Promise.resolve(++n), (v) => v >= 3, { timeoutMs: 1000 });
 * console.log(value); // 3
 * ```
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  done: (value: T) => boolean,
  options: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 50, what = "condition" } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() >= deadline) {
      throw new Error(
        `Cannot wait for ${what}: still unmet after ${timeoutMs} ms; last value is ${
          JSON.stringify(value)
        }`,
      );
    }
    await delay(intervalMs);
  }
}

// The broker as a child process --------------------------------------------------

/** Options of {@linkcode BrokerProcess.spawn}. */
export interface SpawnOptions {
  /** Give up when the listening line has not appeared by then. @default {20000} */
  startTimeoutMs?: number;
  /** More environment variables for `main.ts` (e.g. limits, tokens). @default {{}} */
  env?: Record<string, string>;
}

/**
 * `main.ts` running in a child process on `127.0.0.1`, a port the OS picks
 * and a KV file. Its stdout and stderr are always drained (so a full pipe
 * never blocks it) and kept for error messages. Disposing it kills it.
 *
 * @example
 * ```ts
 * import { BrokerProcess } from "./_process.ts";
 * const dir = await Deno.makeTempDir();
 * const broker = await BrokerProcess.spawn(`${dir}/escrow.kv`);
 * await fetch(`${broker.url}/healthz`).then((res) => res.body?.cancel());
 * const status = await broker.kill("SIGKILL");
 * console.log(status.signal); // "SIGKILL"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class BrokerProcess implements AsyncDisposable {
  /** Base URL of the HTTP API, without a trailing slash. */
  readonly url: string;
  readonly #child: Deno.ChildProcess;
  readonly #drained: Promise<unknown>;
  readonly #output: MainOutput;
  #status: Deno.CommandStatus | undefined;

  private constructor(
    url: string,
    child: Deno.ChildProcess,
    drained: Promise<unknown>,
    output: MainOutput,
  ) {
    this.url = url;
    this.#child = child;
    this.#drained = drained;
    this.#output = output;
    child.status.then((status) => this.#status = status);
  }

  /** Starts `main.ts` on the KV file `kvPath` and resolves once it listens. */
  static async spawn(kvPath: string, options: SpawnOptions = {}): Promise<BrokerProcess> {
    const { startTimeoutMs = 20_000, env = {} } = options;
    const listening = Promise.withResolvers<string>();
    const { child, output, drained } = spawnMain(kvPath, env, () => {
      const match = LISTENING.exec(output.stdout);
      if (match) listening.resolve(match[1]!);
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`Cannot start the broker: no listening line in ${startTimeoutMs} ms`)),
        startTimeoutMs,
      );
      child.status.then((status) =>
        reject(new Error(`Cannot start the broker: it exited with code ${status.code}`))
      );
    });
    try {
      const url = await Promise.race([listening.promise, failed]);
      return new BrokerProcess(url, child, drained, output);
    } catch (error) {
      killQuietly(child, "SIGKILL");
      await child.status;
      await drained;
      throw new Error(`${(error as Error).message}\n--- output ---\n${output.text}`);
    } finally {
      clearTimeout(timer);
      failed.catch(() => {});
    }
  }

  /** Everything the process wrote to stdout and stderr so far. */
  get output(): string {
    return this.#output.text;
  }

  /** What the process wrote to stdout so far. */
  get stdout(): string {
    return this.#output.stdout;
  }

  /** What the process wrote to stderr so far. */
  get stderr(): string {
    return this.#output.stderr;
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#status !== undefined;
  }

  /**
   * Sends `signal` unless the process has exited, waits for its exit and for
   * its output to be drained, and returns its status.
   */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus> {
    if (!this.exited) killQuietly(this.#child, signal);
    const status = await this.#child.status;
    await this.#drained;
    return status;
  }

  /** Sends `signal` unless the process has exited, without waiting for anything. */
  signal(signal: Deno.Signal): void {
    if (!this.exited) killQuietly(this.#child, signal);
  }

  /**
   * Waits for the process to exit by itself and for its output to be
   * drained, and returns its status; throws, showing the output, once
   * `timeoutMs` has passed (the process keeps running: dispose it).
   */
  async waitForExit(timeoutMs = 10_000): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `Cannot wait for the broker to exit: still running after ${timeoutMs} ms\n` +
                `--- output ---\n${this.output}`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      const status = await Promise.race([this.#child.status, hang]);
      await this.#drained;
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits until the output matches `pattern` and returns the match. */
  async waitForOutput(pattern: RegExp, options: WaitOptions = {}): Promise<RegExpExecArray> {
    try {
      const match = await waitFor(() => pattern.exec(this.output), (m) => m !== null, {
        what: `output matching ${pattern}`,
        ...options,
      });
      return match!;
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- output ---\n${this.output}`);
    }
  }

  /** Kills the process with SIGKILL if it still runs. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill("SIGKILL");
  }
}

/** What `main.ts` wrote: all of it in order, and each stream on its own. */
interface MainOutput {
  text: string;
  stdout: string;
  stderr: string;
}

/**
 * Starts `main.ts` on `kvPath` (HTTP and gRPC on ports the OS picks, on
 * 127.0.0.1) and drains its stdout and stderr into `output`, calling
 * `onStdout` after each piece of stdout.
 */
function spawnMain(kvPath: string, env: Record<string, string>, onStdout: () => void = () => {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts"],
    cwd: PROJECT_DIR,
    // The gRPC front on port 0 too: brokers run side by side would all want 8081.
    env: {
      PORT: "0",
      HOSTNAME: "127.0.0.1",
      ESCROW_KV_PATH: kvPath,
      ESCROW_GRPC_PORT: "0",
      NO_COLOR: "1",
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: MainOutput = { text: "", stdout: "", stderr: "" };
  const drained = Promise.all([
    drain(child.stdout, (text) => {
      output.text += text;
      output.stdout += text;
      onStdout();
    }),
    drain(child.stderr, (text) => {
      output.text += text;
      output.stderr += text;
    }),
  ]);
  return { child, output, drained };
}

/** How a run of {@linkcode runMain} ended. */
export interface MainRun {
  /** All the process wrote to stdout. */
  readonly out: string;
  /** All the process wrote to stderr. */
  readonly err: string;
  /** Its exit code (143 when it was still running and stopped with SIGTERM). */
  readonly code: number;
}

/**
 * Runs `main.ts` with `env` on a fresh KV file until its output matches
 * `until`, it exits by itself, or `timeoutMs` passes; then stops it with
 * SIGTERM if it still runs, and returns what it wrote and its exit code.
 *
 * @example
 * ```ts
 * import { runMain } from "./_process.ts";
 * const run = await runMain({ ESCROW_LOG_FORMAT: "json" }, /"event":"startup"/);
 * console.log(run.out.includes('"event":"startup"'));
 * ```
 */
export async function runMain(
  env: Record<string, string>,
  until: RegExp,
  { timeoutMs = 20_000 }: { timeoutMs?: number } = {},
): Promise<MainRun> {
  const dir = await Deno.makeTempDir();
  try {
    const { child, output, drained } = spawnMain(`${dir}/escrow.kv`, env);
    let status: Deno.CommandStatus | undefined;
    child.status.then((s) => status = s);
    const deadline = Date.now() + timeoutMs;
    while (!until.test(output.text) && status === undefined && Date.now() < deadline) {
      await delay(50);
    }
    if (status === undefined) killQuietly(child, "SIGTERM");
    const final = await child.status;
    await drained;
    return { out: output.stdout, err: output.stderr, code: final.code };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function drain(stream: ReadableStream<Uint8Array>, onText: (text: string) => void) {
  for await (const text of stream.pipeThrough(new TextDecoderStream())) onText(text);
}

function killQuietly(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch (error) {
    // The child exited before the signal: nothing left to kill.
    if (!(error instanceof TypeError)) throw error;
  }
}

// A client of the HTTP API ------------------------------------------------------------

/** States of a transaction. */
export type TransactionState = "prepared" | "executing" | "checking" | "committed" | "rolledBack";

/** An event as the API shows it. */
export interface EventJson {
  readonly type: string;
  readonly at: string;
  readonly data: unknown;
}

/** `GET /v1/transactions/{id}`. */
export interface TransactionJson {
  readonly transactionId: string;
  readonly messageId: string;
  readonly topic: string;
  readonly tag?: string;
  readonly producerGroup?: string;
  readonly state: TransactionState;
  readonly checks: number;
  readonly createdAt: string;
  readonly decidedAt?: string;
  readonly reason?: "producer" | "checkBack" | "checksExhausted";
  readonly history: readonly EventJson[];
}

/** The short form returned by prepare, commit and rollback. */
export interface TransactionResultJson {
  readonly transactionId: string;
  readonly messageId: string;
  readonly state: TransactionState;
}

/** `GET /v1/messages/{id}`. */
export interface MessageJson {
  readonly messageId: string;
  readonly topic: string;
  readonly tag?: string;
  readonly keys: readonly string[];
  readonly properties: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly storedAt: string;
  readonly publishedAt?: string;
  readonly transactionId?: string;
  readonly history: readonly EventJson[];
}

/** `GET /v1/topics/{topic}`. */
export interface TopicJson {
  readonly name: string;
  readonly counts: Readonly<Record<"published" | "prepared" | "committed" | "rolledBack", number>>;
}

/** A response: its status and its JSON body. */
export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
}

/**
 * A small client of Escrow's HTTP API over real `fetch`. Methods named after
 * a use case assert the status the use case must answer with.
 *
 * @example
 * ```ts
 * import { BrokerProcess, EscrowApi } from "./_process.ts";
 * const dir = await Deno.makeTempDir();
 * const broker = await BrokerProcess.spawn(`${dir}/escrow.kv`);
 * const api = new EscrowApi(broker.url);
 * await api.createTopic("Orders");
 * console.log((await api.topic("Orders")).counts.published); // 0
 * await broker.kill();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class EscrowApi {
  /** Base URL, without a trailing slash. */
  readonly baseUrl: string;

  /** Creates a client of the API at `baseUrl`. */
  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
  }

  /** Sends one request and reads its JSON body (problem details included). */
  async request<T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      ...(body !== undefined
        ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }
        : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
  }

  /** `PUT /v1/topics/{name}`: 201 or 200. */
  async createTopic(name: string): Promise<void> {
    const res = await this.request("PUT", `/v1/topics/${name}`);
    assert(res.status === 201 || res.status === 200, `PUT topic: ${JSON.stringify(res)}`);
  }

  /** `PUT /v1/producer-groups/{name}`: 201 or 200. */
  async setProducerGroup(name: string, checkUrl: string): Promise<void> {
    const res = await this.request("PUT", `/v1/producer-groups/${name}`, { checkUrl });
    assert(res.status === 201 || res.status === 200, `PUT producer group: ${JSON.stringify(res)}`);
  }

  /** `POST /v1/topics/{topic}/transactions`: 201. */
  async prepare(topic: string, input: Record<string, unknown>): Promise<TransactionResultJson> {
    const res = await this.request<TransactionResultJson>(
      "POST",
      `/v1/topics/${topic}/transactions`,
      input,
    );
    assert(res.status === 201, `prepare: ${JSON.stringify(res)}`);
    return res.body;
  }

  /** `POST /v1/transactions/{id}/commit|rollback`, any status. */
  async decide(
    transactionId: string,
    decision: "commit" | "rollback",
  ): Promise<ApiResponse<TransactionResultJson>> {
    return await this.request("POST", `/v1/transactions/${transactionId}/${decision}`);
  }

  /** `GET /v1/transactions/{id}`: 200. */
  async transaction(transactionId: string): Promise<TransactionJson> {
    const res = await this.request<TransactionJson>("GET", `/v1/transactions/${transactionId}`);
    assert(res.status === 200, `GET transaction: ${JSON.stringify(res)}`);
    return res.body;
  }

  /** `GET /v1/messages/{id}`: 200. */
  async message(messageId: string): Promise<MessageJson> {
    const res = await this.request<MessageJson>("GET", `/v1/messages/${messageId}`);
    assert(res.status === 200, `GET message: ${JSON.stringify(res)}`);
    return res.body;
  }

  /** `GET /v1/topics/{topic}/messages?key=`: the ids of the visible messages carrying `key`. */
  async idsByKey(topic: string, key: string): Promise<string[]> {
    const res = await this.request<{ messages: MessageJson[] }>(
      "GET",
      `/v1/topics/${topic}/messages?key=${encodeURIComponent(key)}`,
    );
    assert(res.status === 200, `GET by key: ${JSON.stringify(res)}`);
    return res.body.messages.map((message) => message.messageId);
  }

  /** `GET /v1/topics/{topic}`: 200. */
  async topic(name: string): Promise<TopicJson> {
    const res = await this.request<TopicJson>("GET", `/v1/topics/${name}`);
    assert(res.status === 200, `GET topic: ${JSON.stringify(res)}`);
    return res.body;
  }

  /** Polls a transaction until it is committed or rolled back. */
  async waitForDecision(transactionId: string, timeoutMs = 10_000): Promise<TransactionJson> {
    return await waitFor(
      () => this.transaction(transactionId),
      (tx) => tx.state === "committed" || tx.state === "rolledBack",
      { timeoutMs, what: `a decision on transaction ${transactionId}` },
    );
  }
}
