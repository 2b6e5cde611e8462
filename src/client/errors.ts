/**
 * Errors the SDK throws: the broker's problem details, or a network failure.
 *
 * @module
 */

/** A problem-details body as the broker sends it. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly [extension: string]: unknown;
}

/**
 * The broker answered with an error (a `application/problem+json` body).
 *
 * @example
 * ```ts
 * import { EscrowError } from "./errors.ts";
 * try {
 *   // await client.commit("tx-1");
 * } catch (error) {
 *   if (error instanceof EscrowError && error.status === 409) console.log(error.problem.state);
 * }
 * ```
 */
export class EscrowError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** The full problem body. */
  readonly problem: ProblemDetails;

  /** Wraps a problem body. */
  constructor(problem: ProblemDetails) {
    super(problem.detail || problem.title);
    this.name = "EscrowError";
    this.status = problem.status;
    this.problem = problem;
  }
}

/**
 * The broker could not be reached (after the retries allowed for the call).
 *
 * @example
 * ```ts
 * import { EscrowNetworkError } from "./errors.ts";
 * const error = new EscrowNetworkError("connection refused", new Error("x"));
 * console.log(error.name); // EscrowNetworkError
 * ```
 */
export class EscrowNetworkError extends Error {
  /** Creates the error with its cause. */
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = "EscrowNetworkError";
  }
}
