/**
 * Message bodies on the wire and in storage. A body is either any JSON value
 * (`body`) or raw bytes (`bodyBase64`); either way it is stored once, as bytes.
 *
 * @module
 */
import { decodeBase64, encodeBase64 } from "@std/encoding/base64";
import type { BodyEncoding } from "./message.ts";
import { MAX_BODY_BYTES } from "./names.ts";
import { PayloadTooLargeError, ValidationError } from "./errors.ts";

/** A body ready to store. */
export interface EncodedBody {
  readonly encoding: BodyEncoding;
  readonly bytes: Uint8Array;
}

/** A body ready to send: exactly one of `body` or `bodyBase64` for a non-empty body. */
export interface WireBody {
  body?: unknown;
  bodyBase64?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Turns the wire fields into bytes, enforcing the size limit
 * ({@linkcode MAX_BODY_BYTES} once decoded: a JSON `body` counts as its
 * compact `JSON.stringify`, a `bodyBase64` as its decoded bytes).
 *
 * @example
 * ```ts
 * import { encodeBody } from "./body.ts";
 * encodeBody({ body: { amount: 100 } }).bytes.length; // 14
 * ```
 */
export function encodeBody(input: WireBody): EncodedBody {
  if (input.body !== undefined && input.bodyBase64 !== undefined) {
    throw new ValidationError("Cannot accept message: give either body or bodyBase64, not both");
  }
  let encoded: EncodedBody;
  if (input.bodyBase64 !== undefined) {
    let bytes: Uint8Array;
    try {
      bytes = decodeBase64(input.bodyBase64);
    } catch {
      throw new ValidationError("Cannot accept message: bodyBase64 is not valid base64");
    }
    encoded = { encoding: "bytes", bytes };
  } else if (input.body !== undefined) {
    encoded = { encoding: "json", bytes: encoder.encode(JSON.stringify(input.body)) };
  } else {
    encoded = { encoding: "none", bytes: new Uint8Array() };
  }
  if (encoded.bytes.length > MAX_BODY_BYTES) {
    const field = encoded.encoding === "bytes" ? "bodyBase64" : "body";
    throw new PayloadTooLargeError(
      `Cannot accept message: ${field} is ${encoded.bytes.length} bytes once decoded, the limit is ${MAX_BODY_BYTES}`,
      { field, size: encoded.bytes.length, limit: MAX_BODY_BYTES },
    );
  }
  return encoded;
}

/**
 * Turns stored bytes back into the wire fields.
 *
 * @example
 * ```ts
 * import { decodeBody, encodeBody } from "./body.ts";
 * const { encoding, bytes } = encodeBody({ body: [1, 2] });
 * decodeBody(encoding, bytes); // { body: [1, 2] }
 * ```
 */
export function decodeBody(encoding: BodyEncoding, bytes: Uint8Array): WireBody {
  switch (encoding) {
    case "json":
      return { body: JSON.parse(decoder.decode(bytes)) };
    case "bytes":
      return { bodyBase64: encodeBase64(bytes) };
    case "none":
      return {};
    default: {
      const never: never = encoding;
      throw new TypeError(`Cannot decode body: unknown encoding ${never}`);
    }
  }
}
