/**
 * Keeps the broker's own log lines out of the demo's story. The demo runs the
 * broker in the same process, and the broker logs however its logger does
 * (console methods today, maybe direct writes to stdout or stderr tomorrow),
 * so while a capture is on every console method and every write to
 * `Deno.stdout`/`Deno.stderr` lands in a buffer instead; the narrator alone
 * writes through {@linkcode LogCapture.write}, which goes to the real stdout.
 * Disposing the capture puts everything back as it was.
 *
 * @module
 */

/** One line the capture kept. */
export interface CapturedLine {
  /** Where it would have gone. */
  readonly stream: "stdout" | "stderr";
  /** How it was written: the console method, or `write` for a direct write. */
  readonly via: ConsoleMethod | "write";
  readonly text: string;
}

const CONSOLE_METHODS = ["log", "info", "debug", "trace", "warn", "error"] as const;
type ConsoleMethod = typeof CONSOLE_METHODS[number];
const STDERR_METHODS: ReadonlySet<ConsoleMethod> = new Set(["warn", "error"]);

type Writer = { write(p: Uint8Array): Promise<number>; writeSync(p: Uint8Array): number };

/**
 * A running capture of console output and stdout/stderr writes.
 *
 * @example
 * ```ts
 * import { LogCapture } from "./log_capture.ts";
 * {
 *   using capture = LogCapture.start();
 *   console.warn("dead-lettered message 01J...");
 *   capture.write("the story goes on\n");
 *   console.assert(capture.lines.length === 1);
 * }
 * ```
 */
export class LogCapture implements Disposable {
  /** What was captured, in order. */
  readonly lines: CapturedLine[] = [];
  readonly #restore: (() => void)[] = [];
  readonly #pending = { stdout: "", stderr: "" };
  readonly #decoder = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  readonly #stdoutWriteSync: (p: Uint8Array) => number;
  #stopped = false;

  private constructor() {
    this.#stdoutWriteSync = Deno.stdout.writeSync.bind(Deno.stdout);
  }

  /** Starts capturing; dispose (or {@linkcode LogCapture.stop}) to end it. */
  static start(): LogCapture {
    const capture = new LogCapture();
    capture.#patchConsole();
    capture.#patchWriter("stdout", Deno.stdout);
    capture.#patchWriter("stderr", Deno.stderr);
    return capture;
  }

  /** Writes `text` to the real stdout, past the capture. */
  write = (text: string): void => {
    const bytes = new TextEncoder().encode(text);
    // writeSync may write less than asked; the loop ends because each call writes something.
    for (let done = 0; done < bytes.length;) {
      done += this.#stdoutWriteSync(bytes.subarray(done));
    }
  };

  /** Ends the capture: console and the writers are as they were before. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const restore of this.#restore.reverse()) restore();
    for (const stream of ["stdout", "stderr"] as const) {
      const rest = this.#pending[stream] + this.#decoder[stream].decode();
      if (rest !== "") this.lines.push({ stream, via: "write", text: rest });
      this.#pending[stream] = "";
    }
  }

  [Symbol.dispose](): void {
    this.stop();
  }

  #patchConsole(): void {
    for (const method of CONSOLE_METHODS) {
      const original = console[method];
      const stream = STDERR_METHODS.has(method) ? "stderr" : "stdout";
      console[method] = (...args: unknown[]) => {
        const text = args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" ");
        for (const line of text.split("\n")) this.lines.push({ stream, via: method, text: line });
      };
      this.#restore.push(() => {
        console[method] = original;
      });
    }
  }

  #patchWriter(stream: "stdout" | "stderr", writer: Writer): void {
    // Own properties shadow the prototype's methods; deleting them restores the originals.
    const had = {
      write: Object.getOwnPropertyDescriptor(writer, "write"),
      writeSync: Object.getOwnPropertyDescriptor(writer, "writeSync"),
    };
    writer.writeSync = (p: Uint8Array) => {
      this.#take(stream, p);
      return p.length;
    };
    writer.write = (p: Uint8Array) => {
      this.#take(stream, p);
      return Promise.resolve(p.length);
    };
    this.#restore.push(() => {
      for (const name of ["write", "writeSync"] as const) {
        const descriptor = had[name];
        if (descriptor) Object.defineProperty(writer, name, descriptor);
        else delete (writer as Partial<Writer>)[name];
      }
    });
  }

  #take(stream: "stdout" | "stderr", bytes: Uint8Array): void {
    const text = this.#pending[stream] + this.#decoder[stream].decode(bytes, { stream: true });
    const parts = text.split("\n");
    this.#pending[stream] = parts.pop()!;
    for (const line of parts) this.lines.push({ stream, via: "write", text: line });
  }
}

/**
 * A captured line's level and event, read loosely: a JSON line's `level` and
 * `event`, else a leading level word and an `event=` field, else the console
 * method it came through. Only for the summary; nothing depends on it.
 */
function classify(line: CapturedLine): { level: string; event?: string } {
  const fallback = line.via === "warn" ? "warn" : line.via === "error" ? "error" : "info";
  try {
    const parsed: unknown = JSON.parse(line.text);
    if (parsed !== null && typeof parsed === "object") {
      const { level, event } = parsed as { level?: unknown; event?: unknown };
      return {
        level: typeof level === "string" ? level.toLowerCase() : fallback,
        ...(typeof event === "string" ? { event } : {}),
      };
    }
  } catch {
    // not JSON: read it as text
  }
  const word = /^\s*\[?(debug|info|warn|warning|error)\b/i.exec(line.text)?.[1]?.toLowerCase();
  const event = /\bevent=(\S+)/.exec(line.text)?.[1];
  return {
    level: word === "warning" ? "warn" : word ?? fallback,
    ...(event ? { event } : {}),
  };
}

/**
 * Says in one phrase how many lines a capture kept and of which levels and
 * events, without repeating them.
 *
 * @example
 * ```ts
 * import { summarizeCapture } from "./log_capture.ts";
 * summarizeCapture([{ stream: "stderr", via: "error", text: "WARN lost event=delivery.deadLettered" }]);
 * // "1 line (warn delivery.deadLettered)"
 * ```
 */
export function summarizeCapture(lines: readonly CapturedLine[]): string {
  const kept = lines.filter((line) => line.text.trim() !== "");
  if (kept.length === 0) return "no lines";
  const counts = new Map<string, number>();
  for (const line of kept) {
    const { level, event } = classify(line);
    const key = event ? `${level} ${event}` : level;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const kinds = [...counts].map(([key, n]) => n === 1 ? key : `${key} ×${n}`);
  return `${kept.length} ${kept.length === 1 ? "line" : "lines"} (${kinds.join(", ")})`;
}
