/**
 * Signatures of pushed messages: `Escrow-Signature: v1=<hex HMAC-SHA256 of
 * "${timestamp}.${rawBody}">`, with the group's secret. The same functions
 * sign on the broker and verify in the SDK.
 *
 * @module
 */
import { encodeHex } from "@std/encoding/hex";

const encoder = new TextEncoder();

async function hmac(secret: string, payload: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(payload)));
}

/**
 * The `Escrow-Signature` header value for a body sent at `timestamp`.
 *
 * @example
 * ```ts
 * import { sign } from "./signature.ts";
 * const header = await sign("s3cret", "1767225600", '{"messageId":"m1"}');
 * header.startsWith("v1="); // true
 * ```
 */
export async function sign(secret: string, timestamp: string, rawBody: string): Promise<string> {
  return `v1=${encodeHex(await hmac(secret, `${timestamp}.${rawBody}`))}`;
}

/**
 * Whether `header` carries a valid v1 signature of `rawBody` at `timestamp`,
 * compared in constant time.
 *
 * @example
 * ```ts
 * import { sign, verify } from "./signature.ts";
 * const header = await sign("s3cret", "1767225600", "{}");
 * await verify("s3cret", "1767225600", "{}", header); // true
 * ```
 */
export async function verify(
  secret: string,
  timestamp: string,
  rawBody: string,
  header: string,
): Promise<boolean> {
  const expected = await sign(secret, timestamp, rawBody);
  const candidates = header.split(",").map((part) => part.trim()).filter((p) =>
    p.startsWith("v1=")
  );
  let ok = false;
  for (const candidate of candidates) {
    if (candidate.length !== expected.length) continue;
    let diff = 0;
    for (let i = 0; i < expected.length; i++) {
      diff |= candidate.charCodeAt(i) ^ expected.charCodeAt(i);
    }
    ok ||= diff === 0;
  }
  return ok;
}

/**
 * A JSON POST the broker sends out (a push, an alert), with
 * `Escrow-Timestamp` and, given a secret, `Escrow-Signature` over the exact
 * body sent; redirects are not followed.
 *
 * @example
 * ```ts
 * import { signedPost } from "./signature.ts";
 * const request = await signedPost("http://127.0.0.1:9000/hook", { id: 1 }, {
 *   "escrow-message-id": "m1",
 * }, "s3cret", Date.now());
 * request.headers.has("escrow-signature"); // true
 * ```
 */
export async function signedPost(
  url: string,
  json: unknown,
  extraHeaders: Readonly<Record<string, string>>,
  secret: string | undefined,
  now: number,
): Promise<Request> {
  const body = JSON.stringify(json);
  const timestamp = String(Math.floor(now / 1000));
  const headers = new Headers({
    "content-type": "application/json",
    ...extraHeaders,
    "escrow-timestamp": timestamp,
  });
  if (secret !== undefined) headers.set("escrow-signature", await sign(secret, timestamp, body));
  return new Request(url, { method: "POST", headers, body, redirect: "manual" });
}
