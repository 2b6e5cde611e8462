/**
 * Checking that a request came from the broker: its `Escrow-Timestamp` is
 * recent and its `Escrow-Signature` is the HMAC of `${timestamp}.${rawBody}`
 * under one of the secrets given. A list of secrets is how a secret is
 * rotated: add the new one to every receiver, then change the broker's, then
 * drop the old one.
 *
 * @module
 */
import { verify } from "../domain/signature.ts";

/** Options of {@linkcode checkSignature}. */
export interface SignatureCheckOptions {
  /** Oldest accepted `Escrow-Timestamp`, in seconds from now (either way). @default {300} */
  readonly toleranceSeconds?: number;
  /** Current time in ms. @default {Date.now} */
  readonly clock?: () => number;
}

/**
 * The secrets a receiver accepts, from a `secret` and/or a `secrets` list;
 * empty when neither is set (nothing is checked then).
 *
 * @example
 * ```ts
 * import { secretsOf } from "./signed_request.ts";
 * secretsOf({ secret: "old", secrets: ["new"] }); // ["old", "new"]
 * ```
 */
export function secretsOf(
  options: { readonly secret?: string; readonly secrets?: readonly string[] },
): string[] {
  const all = [...(options.secret !== undefined ? [options.secret] : []), ...options.secrets ?? []];
  if (all.some((s) => s === "")) throw new TypeError("Cannot check signatures: a secret is empty");
  return all;
}

/**
 * Why a signed request is refused (a stale or missing timestamp, no or a bad
 * signature), or undefined when one of `secrets` signed it.
 *
 * @example
 * ```ts
 * import { checkSignature } from "./signed_request.ts";
 * const headers = new Headers({ "escrow-timestamp": "0", "escrow-signature": "v1=00" });
 * await checkSignature(headers, "{}", ["s3cret"]); // "stale or missing timestamp"
 * ```
 */
export async function checkSignature(
  headers: Headers,
  rawBody: string,
  secrets: readonly string[],
  options: SignatureCheckOptions = {},
): Promise<string | undefined> {
  const tolerance = (options.toleranceSeconds ?? 300) * 1000;
  const now = (options.clock ?? Date.now)();
  const timestamp = headers.get("escrow-timestamp") ?? "";
  const signature = headers.get("escrow-signature") ?? "";
  const sentAt = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) * 1000 : NaN;
  if (!Number.isFinite(sentAt) || Math.abs(now - sentAt) > tolerance) {
    return "stale or missing timestamp";
  }
  if (signature === "") return "missing signature";
  // Every secret is tried (no early exit), so timing does not tell which one matched.
  let ok = false;
  for (const secret of secrets) ok = (await verify(secret, timestamp, rawBody, signature)) || ok;
  return ok ? undefined : "bad signature";
}
