/**
 * The errors callers of the broker handle. Each carries the HTTP status it maps
 * to, so the HTTP edge turns any of them into one problem-details response
 * without knowing the individual classes.
 *
 * @module
 */

/** Extra fields copied into the problem-details body. */
export type ProblemExtensions = Record<string, unknown>;

/**
 * Base class of every error a caller of the broker is expected to handle.
 *
 * @example
 * ```ts
 * import { BrokerError, NotFoundError } from "./errors.ts";
 * const error: BrokerError = new NotFoundError("Cannot find topic: Trade");
 * console.log(error.status); // 404
 * ```
 */
export abstract class BrokerError extends Error {
  /** HTTP status code this error maps to. */
  abstract readonly status: number;
  /** Short, stable, human-readable summary of the problem type. */
  abstract readonly title: string;
  /** Machine-readable details added to the problem response. */
  readonly extensions: ProblemExtensions;

  /** Creates the error with a message and optional problem extensions. */
  constructor(message: string, extensions: ProblemExtensions = {}) {
    super(message);
    this.name = new.target.name;
    this.extensions = extensions;
  }
}

/**
 * The request was malformed or violated a documented limit.
 *
 * @example
 * ```ts
 * import { ValidationError } from "./errors.ts";
 * throw new ValidationError("Cannot publish: tag is empty");
 * ```
 */
export class ValidationError extends BrokerError {
  /** Always 400. */
  readonly status = 400;
  /** Always "Invalid request". */
  readonly title = "Invalid request";
}

/**
 * The named resource does not exist.
 *
 * @example
 * ```ts
 * import { NotFoundError } from "./errors.ts";
 * throw new NotFoundError("Cannot find topic: Trade", { topic: "Trade" });
 * ```
 */
export class NotFoundError extends BrokerError {
  /** Always 404. */
  readonly status = 404;
  /** Always "Not found". */
  readonly title = "Not found";
}

/**
 * The request contradicts the current state, e.g. committing a rolled-back
 * transaction or reusing a transaction id with other content.
 *
 * @example
 * ```ts
 * import { ConflictError } from "./errors.ts";
 * throw new ConflictError("Cannot commit: current state is rolledBack", { state: "rolledBack" });
 * ```
 */
export class ConflictError extends BrokerError {
  /** Always 409. */
  readonly status = 409;
  /** Always "Conflict". */
  readonly title = "Conflict";
}

/**
 * A message body exceeds the broker's size limit.
 *
 * @example
 * ```ts
 * import { PayloadTooLargeError } from "./errors.ts";
 * throw new PayloadTooLargeError("Cannot publish: body is 300000 bytes, the limit is 262144");
 * ```
 */
export class PayloadTooLargeError extends BrokerError {
  /** Always 413. */
  readonly status = 413;
  /** Always "Payload too large". */
  readonly title = "Payload too large";
}

/**
 * Concurrent writers kept changing the same stream; the caller may retry.
 *
 * @example
 * ```ts
 * import { ContentionError } from "./errors.ts";
 * throw new ContentionError("Cannot append to tx/1: still conflicting after 20 attempts");
 * ```
 */
export class ContentionError extends BrokerError {
  /** Always 503. */
  readonly status = 503;
  /** Always "Busy". */
  readonly title = "Busy";
}

/**
 * An outbound URL (a check-back, push or alert URL) that the outbound policy
 * refuses; `extensions` name the field and the rule.
 *
 * @example
 * ```ts
 * import { OutboundRefusedError } from "./errors.ts";
 * throw new OutboundRefusedError(
 *   "Cannot call http://169.254.169.254/: link-local addresses are always refused",
 *   { field: "checkUrl", rule: "link-local" },
 * );
 * ```
 */
export class OutboundRefusedError extends ValidationError {
  /** The rule that refused the URL, e.g. `"link-local"` or `"not-allowed"`. */
  get rule(): string {
    return String(this.extensions.rule);
  }
}

/**
 * A limit on the caller was reached: its request rate, or how many requests
 * or long polls it has in progress. It may try again after
 * `retryAfterSeconds` (sent as `Retry-After`).
 *
 * @example
 * ```ts
 * import { TooManyRequestsError } from "./errors.ts";
 * throw new TooManyRequestsError("Cannot accept request: token wallet is over 1000 requests/s", 1);
 * ```
 */
export class TooManyRequestsError extends BrokerError {
  /** Always 429. */
  readonly status = 429;
  /** Always "Too many requests". */
  readonly title = "Too many requests";
  /** Seconds to wait before trying again (whole, at least 1). */
  readonly retryAfterSeconds: number;

  /** Creates the error; `extensions` may name the limit. */
  constructor(message: string, retryAfterSeconds: number, extensions: ProblemExtensions = {}) {
    super(message, { ...extensions, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)) });
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/**
 * The broker as a whole has as many requests in progress as it takes; the
 * caller may try again after `retryAfterSeconds` (sent as `Retry-After`).
 *
 * @example
 * ```ts
 * import { OverloadedError } from "./errors.ts";
 * throw new OverloadedError("Cannot accept request: 4096 requests are in progress", 1);
 * ```
 */
export class OverloadedError extends BrokerError {
  /** Always 503. */
  readonly status = 503;
  /** Always "Overloaded". */
  readonly title = "Overloaded";
  /** Seconds to wait before trying again (whole, at least 1). */
  readonly retryAfterSeconds: number;

  /** Creates the error; `extensions` may name the limit. */
  constructor(message: string, retryAfterSeconds: number, extensions: ProblemExtensions = {}) {
    super(message, { ...extensions, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)) });
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}
