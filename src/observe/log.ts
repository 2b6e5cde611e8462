/**
 * Structured logs: one line per event, JSON (`ESCROW_LOG_FORMAT=json`: time,
 * level, event name, message and fields) or readable (the message alone), at
 * or above a level (`ESCROW_LOG_LEVEL`). Every JSON line names its event, so
 * a log search finds all dead letters or all failed check-backs; its fields
 * are ids, counts and error texts the caller chose, and the message says the
 * same in words. Fields whose
 * name says token, secret, password, authorization or body are written as
 * `[redacted]`: a line never carries a credential or a message body, even
 * by mistake.
 *
 * @module
 */

/** How much is logged, from the most to the least. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** How a line is written. */
export type LogFormat = "json" | "text";

/** Every level, least severe first. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Values a line's fields may take. */
export type LogValue = string | number | boolean | undefined;

/** The fields of one line besides its event and message. */
export type LogFields = Readonly<Record<string, LogValue>>;

/** Where finished lines go; `level` lets a sink split stdout from stderr. */
export type LogSink = (line: string, level: LogLevel) => void;

/** Options of {@linkcode Logger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped. @default {"info"} */
  readonly level?: LogLevel;
  /** JSON objects or readable text. @default {"text"} */
  readonly format?: LogFormat;
  /** Where lines go. @default {`console.log` for info and debug, `console.warn`, `console.error`} */
  readonly sink?: LogSink;
  /** Current time in epoch ms, for the JSON `time` field. @default {Date.now} */
  readonly clock?: () => number;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };
const SECRET_FIELD = /token|secret|password|authorization|body/i;
const MAX_VALUE_LENGTH = 2048;

/** Through the console method of the level: info and debug to stdout, the rest to stderr. */
const consoleSink: LogSink = (line, level) => {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

/**
 * A field's value as written: redacted when its name could hold a secret or
 * a body, on one line and bounded, so a long error text cannot flood the log.
 */
function clean(name: string, value: LogValue): LogValue {
  if (value === undefined) return undefined;
  if (SECRET_FIELD.test(name)) return "[redacted]";
  if (typeof value !== "string") return value;
  const line = value.replace(/\s+/g, " ");
  return line.length > MAX_VALUE_LENGTH ? `${line.slice(0, MAX_VALUE_LENGTH - 1)}…` : line;
}

/**
 * Tells whether `value` names a level.
 *
 * @example
 * ```ts
 * import { isLogLevel } from "./log.ts";
 * isLogLevel("warn"); // true
 * isLogLevel("loud"); // false
 * ```
 */
export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * Writes structured lines.
 *
 * @example Capture lines in a test
 * ```ts
 * import { Logger } from "./log.ts";
 * const lines: string[] = [];
 * const log = new Logger({ format: "json", sink: (line) => lines.push(line) });
 * log.warn("delivery.deadLettered", "dead-lettered message m1", { group: "ops", attempts: 17 });
 * JSON.parse(lines[0]!).event; // "delivery.deadLettered"
 * ```
 */
export class Logger {
  readonly #level: LogLevel;
  readonly #format: LogFormat;
  readonly #sink: LogSink;
  readonly #clock: () => number;

  /** Creates a logger; see {@linkcode LoggerOptions} for the defaults. */
  constructor(options: LoggerOptions = {}) {
    this.#level = options.level ?? "info";
    this.#format = options.format ?? "text";
    this.#sink = options.sink ?? consoleSink;
    this.#clock = options.clock ?? Date.now;
  }

  /** The lowest level written. */
  get level(): LogLevel {
    return this.#level;
  }

  /** Whether a line at `level` would be written (to skip building a costly one). */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.#level];
  }

  /** Writes a debug line. */
  debug(event: string, message: string, fields: LogFields = {}): void {
    this.write("debug", event, message, fields);
  }

  /** Writes an info line. */
  info(event: string, message: string, fields: LogFields = {}): void {
    this.write("info", event, message, fields);
  }

  /** Writes a warning line. */
  warn(event: string, message: string, fields: LogFields = {}): void {
    this.write("warn", event, message, fields);
  }

  /** Writes an error line. */
  error(event: string, message: string, fields: LogFields = {}): void {
    this.write("error", event, message, fields);
  }

  /**
   * Writes one line at `level` when the logger's level lets it through. A
   * sink that throws is ignored: logging never fails the work it describes.
   */
  write(level: LogLevel, event: string, message: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    const cleaned: [string, LogValue][] = [];
    for (const [name, value] of Object.entries(fields)) {
      const kept = clean(name, value);
      if (kept !== undefined) cleaned.push([name, kept]);
    }
    const msg = String(clean("msg", message));
    let line: string;
    if (this.#format === "json") {
      line = JSON.stringify({
        time: new Date(this.#clock()).toISOString(),
        level,
        event,
        msg,
        ...Object.fromEntries(cleaned),
      });
    } else {
      // A readable line is its message, which names what matters (ids, counts, the error);
      // the stream says the level (stdout for info, stderr for warnings and errors) and the
      // fields are for machines, in JSON.
      line = msg;
    }
    try {
      this.#sink(line, level);
    } catch {
      // Nowhere left to report it.
    }
  }
}

/**
 * A thrown value as one short line for a log field.
 *
 * @example
 * ```ts
 * import { errorText } from "./log.ts";
 * errorText(new TypeError("bad")); // "TypeError: bad"
 * ```
 */
export function errorText(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return "a value that cannot be shown";
  }
}
