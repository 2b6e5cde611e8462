/**
 * Receipt handles: the proof of one delivery attempt that a consumer settles
 * with. A handle is the broker's signed statement "delivery D of group G
 * stood at the head `seq` of its event stream, in flight on attempt A until
 * T". Signed (HMAC-SHA256 with a secret only the broker holds), it cannot be
 * edited, truncated or rebuilt from what `GET /v1/messages/{id}` shows;
 * bound to the group's incarnation, it settles nothing in another group or
 * in a group deleted and created again; bound to the exact stream head, it
 * settles at most once: the append at `seq + 1` is checked, so once anything
 * happened to the delivery (settled, expired, a new handle issued) an old
 * handle is refused.
 *
 * Text form: `payload "." keyId "." base64url(mac)`, where the payload is
 * the fields joined by `~` (names, ids and numbers as they are, the message
 * group percent-encoded) and the mac covers `keyId "." payload`.
 *
 * @module
 */
import { equalBytes, HmacSha256 } from "./hmac_sha256.ts";

/** What a handle states about one delivery. */
export interface ReceiptHandle {
  /** Consumer group name. */
  readonly group: string;
  /** The group's incarnation: a group deleted and created again has a new one. */
  readonly groupId: string;
  readonly messageId: string;
  readonly topic: string;
  /** Seq of the delivery event the handle was issued at (the stream head). */
  readonly seq: number;
  /** Attempt number (1-based). */
  readonly attempt: number;
  /** End of the visibility timeout, epoch ms. */
  readonly visibleUntil: number;
  /** Message group, for ordered groups. */
  readonly messageGroup?: string;
}

/** A signing secret and its id. */
export interface HandleKey {
  /** Short id carried in every handle it signs. */
  readonly id: string;
  /** The secret bytes (32 random bytes). */
  readonly secret: Uint8Array;
}

/** Why a handle text was refused before anything was read. */
export type HandleRefusal =
  | "malformed"
  | "unknown key"
  | "bad signature";

/** The result of reading a handle text. */
export type HandleReading =
  | { readonly ok: true; readonly handle: ReceiptHandle }
  | { readonly ok: false; readonly reason: HandleRefusal };

/** The MAC's text form: base64url without padding (the platform's own codec, Uint8Array.toBase64). */
const BASE64URL = { alphabet: "base64url", omitPadding: true } as const;

/** HMAC-SHA256 keyed once per secret (`./hmac_sha256.ts`: its pads are hashed once). */
const keyed = new WeakMap<Uint8Array, HmacSha256>();

function mac(key: HandleKey, payload: string): Uint8Array {
  let signer = keyed.get(key.secret);
  if (!signer) {
    signer = new HmacSha256(key.secret);
    keyed.set(key.secret, signer);
  }
  return signer.sign(`${key.id}.${payload}`);
}

/**
 * Signs a handle with `key` into its opaque text form.
 *
 * @example
 * ```ts
 * import { signReceiptHandle, readReceiptHandle } from "./receipt_handle.ts";
 * const key = { id: "k1", secret: crypto.getRandomValues(new Uint8Array(32)) };
 * const text = signReceiptHandle(key, { group: "ops", groupId: "g1", messageId: "m1",
 *   topic: "T", seq: 1, attempt: 1, visibleUntil: 30_000 });
 * readReceiptHandle(text, () => key).ok; // true
 * ```
 */
export function signReceiptHandle(key: HandleKey, handle: ReceiptHandle): string {
  const parts = [
    handle.group,
    handle.groupId,
    handle.messageId,
    handle.topic,
    handle.seq,
    handle.attempt,
    handle.visibleUntil,
    ...(handle.messageGroup !== undefined ? [escapePart(handle.messageGroup)] : []),
  ];
  const payload = parts.join("~");
  return `${payload}.${key.id}.${mac(key, payload).toBase64(BASE64URL)}`;
}

/**
 * A free-form part (a message group) in the payload's alphabet: percent-encoded, with the
 * payload's and the text's separators (`~`, `.`) and the other marks encoded too.
 */
function escapePart(text: string): string {
  return encodeURIComponent(text).replace(
    /[.!~*'()]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * Reads a handle text: checks its form and its signature with the key its
 * key id names (`keyFor` returns undefined for an unknown or retired id).
 *
 * @example
 * ```ts
 * import { readReceiptHandle } from "./receipt_handle.ts";
 * readReceiptHandle("garbage", () => undefined); // { ok: false, reason: "malformed" }
 * ```
 */
export function readReceiptHandle(
  text: string,
  keyFor: (id: string) => HandleKey | undefined,
): HandleReading {
  const [payload, keyId, signature, extra] = text.split(".");
  if (!payload || !keyId || !signature || extra !== undefined) {
    return { ok: false, reason: "malformed" };
  }
  const key = keyFor(keyId);
  if (!key) return { ok: false, reason: "unknown key" };
  let given: Uint8Array;
  try {
    given = Uint8Array.fromBase64(signature, { alphabet: "base64url" });
  } catch {
    return { ok: false, reason: "malformed" };
  }
  const expected = mac(key, payload);
  if (!equalBytes(given, expected)) {
    return { ok: false, reason: "bad signature" };
  }
  const handle = parsePayload(payload);
  return handle ? { ok: true, handle } : { ok: false, reason: "malformed" };
}

/** A decimal field of a payload: digits only, at most 16. */
const INTEGER = /^\d{1,16}$/;

/** Decodes a signed payload; undefined when it is not one (only the broker signs, so rare). */
function parsePayload(payload: string): ReceiptHandle | undefined {
  const parts = payload.split("~");
  if (parts.length < 7 || parts.length > 8) return undefined;
  const [group, groupId, messageId, topic, seq, attempt, visibleUntil, messageGroup] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  if (
    !group || !groupId || !messageId || !topic || !INTEGER.test(seq) || !INTEGER.test(attempt) ||
    !INTEGER.test(visibleUntil)
  ) return undefined;
  try {
    return {
      group,
      groupId,
      messageId,
      topic,
      seq: Number(seq),
      attempt: Number(attempt),
      visibleUntil: Number(visibleUntil),
      ...(messageGroup !== undefined ? { messageGroup: decodeURIComponent(messageGroup) } : {}),
    };
  } catch {
    return undefined;
  }
}
