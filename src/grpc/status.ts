/**
 * RocketMQ's status codes (`apache.rocketmq.v2.Code`) and the mapping of
 * Escrow's typed errors onto them: the one place a broker error becomes a
 * protocol answer, as `src/http/problem.ts` is for HTTP.
 *
 * @module
 */
import {
  BrokerError,
  ConflictError,
  ContentionError,
  NotFoundError,
  OverloadedError,
  PayloadTooLargeError,
  TooManyRequestsError,
  ValidationError,
} from "../domain/errors.ts";

/** The codes Escrow answers with (names of `apache.rocketmq.v2.Code`). */
export type Code =
  | "OK"
  | "BAD_REQUEST"
  | "ILLEGAL_TOPIC"
  | "ILLEGAL_CONSUMER_GROUP"
  | "ILLEGAL_MESSAGE_TAG"
  | "ILLEGAL_MESSAGE_KEY"
  | "ILLEGAL_MESSAGE_GROUP"
  | "ILLEGAL_MESSAGE_PROPERTY_KEY"
  | "ILLEGAL_MESSAGE_ID"
  | "INVALID_TRANSACTION_ID"
  | "ILLEGAL_FILTER_EXPRESSION"
  | "ILLEGAL_INVISIBLE_TIME"
  | "ILLEGAL_DELIVERY_TIME"
  | "INVALID_RECEIPT_HANDLE"
  | "CLIENT_ID_REQUIRED"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "MESSAGE_NOT_FOUND"
  | "TOPIC_NOT_FOUND"
  | "CONSUMER_GROUP_NOT_FOUND"
  | "MESSAGE_BODY_TOO_LARGE"
  | "MESSAGE_PROPERTIES_TOO_LARGE"
  | "PRECONDITION_FAILED"
  | "TOO_MANY_REQUESTS"
  | "INTERNAL_ERROR"
  | "UNSUPPORTED";

/** A `Status` message. */
export interface Status {
  readonly code: Code;
  readonly message: string;
}

/**
 * A status.
 *
 * @example
 * ```ts
 * import { status } from "./status.ts";
 * status("OK"); // { code: "OK", message: "OK" }
 * ```
 */
export function status(code: Code, message: string = code): Status {
  return { code, message };
}

/** A failure to answer with a status (thrown by handlers, caught by the service). */
export class StatusError extends Error {
  /** The protocol code. */
  readonly code: Code;
  /** Creates the error. */
  constructor(code: Code, message: string) {
    super(message);
    this.name = "StatusError";
    this.code = code;
  }
}

/**
 * The status of an error: a {@linkcode StatusError} as it is, a broker error
 * by its kind (a missing topic is `TOPIC_NOT_FOUND`, a missing group
 * `CONSUMER_GROUP_NOT_FOUND`), anything else `INTERNAL_ERROR`.
 *
 * @example
 * ```ts
 * import { statusOf } from "./status.ts";
 * import { NotFoundError } from "../domain/errors.ts";
 * statusOf(new NotFoundError("Cannot find topic: T", { topic: "T" })).code; // "TOPIC_NOT_FOUND"
 * ```
 */
export function statusOf(error: unknown): Status {
  if (error instanceof StatusError) return status(error.code, error.message);
  if (!(error instanceof BrokerError)) {
    return status("INTERNAL_ERROR", `Internal error: ${(error as Error)?.message ?? error}`);
  }
  const details = error.extensions;
  if (error instanceof NotFoundError) {
    if ("topic" in details) return status("TOPIC_NOT_FOUND", error.message);
    if ("group" in details) return status("CONSUMER_GROUP_NOT_FOUND", error.message);
    if ("transactionId" in details) return status("INVALID_TRANSACTION_ID", error.message);
    return status("NOT_FOUND", error.message);
  }
  if (error instanceof PayloadTooLargeError) return status("MESSAGE_BODY_TOO_LARGE", error.message);
  if (error instanceof ValidationError) return status("BAD_REQUEST", error.message);
  if (error instanceof ConflictError) return status("PRECONDITION_FAILED", error.message);
  if (error instanceof TooManyRequestsError || error instanceof OverloadedError) {
    return status("TOO_MANY_REQUESTS", error.message);
  }
  if (error instanceof ContentionError) return status("TOO_MANY_REQUESTS", error.message);
  return status("INTERNAL_ERROR", error.message);
}
