/**
 * What the demo runs on: a real broker on a temporary KV file, served on
 * 127.0.0.1, a client for it, narration, and the checks that decide the
 * demo's exit code.
 *
 * @module
 */
import { join } from "@std/path";
import { EscrowClient } from "../client/mod.ts";
import { Broker } from "../engine/broker.ts";
import { createApp } from "../http/app.ts";

/** A running broker for the demo. */
export interface DemoBroker extends AsyncDisposable {
  readonly url: string;
  /** The port it serves on. */
  readonly port: number;
  readonly client: EscrowClient;
}

/** Options of {@linkcode startDemoBroker}. */
export interface DemoBrokerOptions {
  /** The port on 127.0.0.1; 0 lets the OS pick a free one. @default {0} */
  readonly port?: number;
}

/**
 * Starts a broker on a temporary KV file, served on 127.0.0.1. Throws
 * `Deno.errors.AddrInUse` when the port is taken, before anything is created;
 * disposing it stops the server and the broker and deletes the database.
 *
 * @example
 * ```ts
 * import { startDemoBroker } from "./harness.ts";
 * await using broker = await startDemoBroker();
 * await broker.client.createTopic("Trade");
 * ```
 */
export async function startDemoBroker(options: DemoBrokerOptions = {}): Promise<DemoBroker> {
  // Serve first, so a busy port fails before a database exists; until the broker is ready,
  // requests get a 503.
  type Fetch = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;
  let fetch: Fetch = () => new Response("the demo broker is starting", { status: 503 });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
    (request, info) => fetch(request, info),
  );
  let dir: string | undefined;
  try {
    dir = await Deno.makeTempDir({ prefix: "escrow-demo-" });
    const kv = await Deno.openKv(join(dir, "escrow.kv"));
    const broker = await Broker.open(kv);
    await broker.start();
    fetch = createApp(broker).fetch;
    const folder = dir;
    const port = server.addr.port;
    const url = `http://127.0.0.1:${port}`;
    return {
      url,
      port,
      client: new EscrowClient(url),
      async [Symbol.asyncDispose]() {
        // Long polls answer first; a browser's open stream (a dashboard left open after
        // --keep) must not hold the exit, so the server gets at most SHUTDOWN_GRACE_MS.
        broker.beginShutdown();
        await withDeadline(server.shutdown(), SHUTDOWN_GRACE_MS);
        await broker.stop();
        kv.close();
        await Deno.remove(folder, { recursive: true });
      },
    };
  } catch (error) {
    await server.shutdown();
    if (dir !== undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** How long disposing a demo broker waits for open HTTP requests. */
const SHUTDOWN_GRACE_MS = 2_000;

async function withDeadline(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
  try {
    await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Options of {@linkcode Narrator}. */
export interface NarratorOptions {
  /** Only collect the checks, print nothing. @default {false} */
  readonly quiet?: boolean;
  /**
   * Where the story goes: give it `LogCapture.write` to bypass a capture (src/demo/log_capture.ts).
   * @default {a write to stdout}
   */
  readonly write?: (text: string) => void;
}

/**
 * The narration and the checks of one run.
 *
 * @example
 * ```ts
 * import { Narrator } from "./harness.ts";
 * const narrator = new Narrator();
 * narrator.section("Scenario 1");
 * narrator.check(1 + 1 === 2, "arithmetic holds");
 * console.log(narrator.failures); // []
 * ```
 */
export class Narrator {
  readonly failures: string[] = [];
  readonly #quiet: boolean;
  readonly #write: (text: string) => void;

  /** Creates a narrator; a quiet one only collects the checks. */
  constructor(options: NarratorOptions = {}) {
    this.#quiet = options.quiet ?? false;
    this.#write = options.write ??
      ((text) => Deno.stdout.writeSync(new TextEncoder().encode(text)));
  }

  /** A heading. */
  section(title: string): void {
    this.#print(`\n== ${title} ==`);
  }

  /** A step that happened. */
  step(text: string): void {
    this.#print(wrap(text, "  → ", "    "));
  }

  /** Context for what follows: what a scenario is about, what it shortens, a link. */
  note(text: string): void {
    this.#print(wrap(text, "    ", "      "));
  }

  /** A check: printed with ✓ or ✗, and remembered when it fails. */
  check(ok: boolean, text: string): void {
    this.#print(wrap(text, `  ${ok ? "✓" : "✗"} `, "    "));
    if (!ok) this.failures.push(text);
  }

  /** A line of its own, unindented. */
  line(text: string): void {
    this.#print(wrap(text, "", ""));
  }

  /** A line as it is, indented but never wrapped (a log line, pasted elsewhere). */
  verbatim(text: string): void {
    this.#print(`    ${text}`);
  }

  #print(line: string): void {
    if (!this.#quiet) this.#write(`${line}\n`);
  }
}

/** The story's width: the terminal's, at most this. */
const MAX_WIDTH = 100;

function width(): number {
  try {
    return Math.max(
      40,
      Math.min(MAX_WIDTH, Deno.stdout.isTerminal() ? Deno.consoleSize().columns : MAX_WIDTH),
    );
  } catch {
    return MAX_WIDTH; // no terminal, or no permission to ask
  }
}

/**
 * Wraps `text` at spaces into lines of at most the story's width; a word longer than a line
 * (a link) stays whole so it can still be clicked or copied.
 */
function wrap(text: string, first: string, rest: string): string {
  const limit = width();
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(" ")) {
    if (!empty && line.length + 1 + word.length > limit) {
      lines.push(line);
      line = rest + word;
    } else {
      line += empty ? word : ` ${word}`;
    }
    empty = false;
  }
  lines.push(line);
  return lines.join("\n");
}

/**
 * Polls `probe` until it returns true or `timeoutMs` passes.
 *
 * @example
 * ```ts
 * import { until } from "./harness.ts";
 * await until(() => true, 1_000);
 * ```
 */
export async function until(
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return await probe();
}
