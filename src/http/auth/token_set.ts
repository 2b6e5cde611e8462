/**
 * The broker's tokens: each a name, the SHA-256 of its secret and the
 * permissions it grants. Secrets are kept only as digests; a presented
 * token is hashed and compared with every digest in constant time, so
 * neither a match nor its position shows in the answer's timing. The
 * configuration (`ESCROW_TOKENS`, `ESCROW_TOKENS_FILE`) is checked in full
 * when it is read: a wrong entry stops the start-up with a message naming it.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { decodeHex } from "@std/encoding/hex";
import { NAME_PATTERN } from "../../domain/names.ts";
import { isPermission, type Permission, PERMISSION_FORMS } from "./permission.ts";

/** Who made a request: the name of its token and what it may do. */
export interface Principal {
  /** The token's name (`ESCROW_TOKENS[].name`); `"anonymous"` on an open broker. */
  readonly name: string;
  /** What the token grants, e.g. `["publish:Trade", "decide:wallet"]`. */
  readonly permissions: readonly Permission[];
}

/** The principal of every request when the broker has no tokens: it may do everything. */
export const ANONYMOUS: Principal = Object.freeze({
  name: "anonymous",
  permissions: Object.freeze(["admin"]),
});

/** One token as the broker keeps it. */
export interface TokenGrant extends Principal {
  /** SHA-256 of the token, 32 bytes. */
  readonly sha256: Uint8Array;
}

/**
 * The token itself of a grant configured as `token` (not `tokenSha256`),
 * held apart from the grant (never serialized, logged or listed): RocketMQ
 * clients sign with it (`MQv2-HMAC-SHA1`), and an HMAC cannot be checked
 * against a digest.
 */
const hmacSecrets = new WeakMap<TokenGrant, string>();

/** The name `ESCROW_API_TOKEN`'s single admin token goes by. */
export const API_TOKEN_NAME = "ESCROW_API_TOKEN";

/**
 * What a bearer token may contain (RFC 6750 `b64token`), at most 1,024
 * characters: a token outside it could not be sent in the header.
 */
export const TOKEN_PATTERN: RegExp = /^[A-Za-z0-9._~+/-]{1,1024}=*$/;

const ENTRY_KEYS = new Set(["name", "token", "tokenSha256", "permissions"]);

const digestOf = (token: string): Uint8Array => sha256(new TextEncoder().encode(token));

/**
 * Reads a token list (the JSON of `ESCROW_TOKENS` or of the file
 * `ESCROW_TOKENS_FILE` names): an array of `{ name, token | tokenSha256,
 * permissions }`. Throws a `RangeError` naming `source`, the entry and the
 * rule it breaks, for bad JSON, an unknown key, a name outside
 * `^[A-Za-z0-9_-]{1,64}$`, a token outside {@linkcode TOKEN_PATTERN}, a
 * `tokenSha256` that is not 64 hex digits, both or neither of `token` and
 * `tokenSha256`, an empty or unknown permission, or a name or token given twice.
 *
 * @param text The JSON text.
 * @param source What to name in an error, e.g. `"ESCROW_TOKENS"`.
 * @returns The tokens, secrets replaced by their digests.
 *
 * @example Read two tokens
 * ```ts
 * import { parseTokens } from "./token_set.ts";
 * const grants = parseTokens(
 *   '[{ "name": "wallet", "token": "w-secret", "permissions": ["publish:Trade"] }]',
 *   "ESCROW_TOKENS",
 * );
 * console.log(grants[0]?.name); // "wallet"
 * ```
 */
export function parseTokens(text: string, source: string): TokenGrant[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RangeError(`Cannot read ${source}: not JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(value)) {
    throw new RangeError(
      `Cannot read ${source}: current value is not a JSON array of { name, token, permissions }`,
    );
  }
  const grants = value.map((entry, index) => readEntry(entry, `${source}[${index}]`));
  checkUnique(grants, source);
  return grants;
}

function readEntry(entry: unknown, where: string): TokenGrant {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    throw new RangeError(`Cannot read ${where}: not an object { name, token, permissions }`);
  }
  const fields = entry as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!ENTRY_KEYS.has(key)) {
      throw new RangeError(
        `Cannot read ${where}: unknown key "${key}" (name, token, tokenSha256, permissions)`,
      );
    }
  }
  const { name, token, tokenSha256, permissions } = fields;
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw new RangeError(`Cannot read ${where}.name: must match ${NAME_PATTERN.source}`);
  }
  const named = `${where} ("${name}")`;
  if ((token === undefined) === (tokenSha256 === undefined)) {
    throw new RangeError(`Cannot read ${named}: give exactly one of token and tokenSha256`);
  }
  let digest: Uint8Array;
  if (token !== undefined) {
    if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) {
      throw new RangeError(
        `Cannot read ${named}.token: must match ${TOKEN_PATTERN.source} (what a bearer header can carry)`,
      );
    }
    digest = digestOf(token);
  } else {
    if (typeof tokenSha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(tokenSha256)) {
      throw new RangeError(`Cannot read ${named}.tokenSha256: must be 64 hex digits`);
    }
    digest = decodeHex(tokenSha256.toLowerCase());
  }
  if (!Array.isArray(permissions) || permissions.length === 0) {
    throw new RangeError(
      `Cannot read ${named}.permissions: must be a non-empty array of ${PERMISSION_FORMS}`,
    );
  }
  for (const permission of permissions) {
    if (typeof permission !== "string" || !isPermission(permission)) {
      throw new RangeError(
        `Cannot read ${named}.permissions: unknown permission ${
          JSON.stringify(permission)
        } (one of ${PERMISSION_FORMS})`,
      );
    }
  }
  const grant: TokenGrant = {
    name,
    sha256: digest,
    permissions: Object.freeze([...new Set(permissions as string[])]),
  };
  if (typeof token === "string") hmacSecrets.set(grant, token);
  return grant;
}

function checkUnique(grants: readonly TokenGrant[], source: string): void {
  const names = new Set<string>();
  const digests = new Map<string, string>();
  for (const grant of grants) {
    if (names.has(grant.name)) {
      throw new RangeError(`Cannot read ${source}: the name "${grant.name}" is given twice`);
    }
    names.add(grant.name);
    const hex = Array.from(grant.sha256, (byte) => byte.toString(16).padStart(2, "0")).join("");
    const other = digests.get(hex);
    if (other !== undefined) {
      throw new RangeError(
        `Cannot read ${source}: "${other}" and "${grant.name}" have the same token`,
      );
    }
    digests.set(hex, grant.name);
  }
}

/**
 * The tokens a broker accepts. Empty means an open broker: every request
 * is {@linkcode ANONYMOUS}.
 *
 * @example Identify a request's token
 * ```ts
 * import { TokenSet } from "./token_set.ts";
 * const tokens = TokenSet.of([{ name: "ops", token: "ops-secret", permissions: ["admin"] }]);
 * console.log(tokens.identify("ops-secret")?.name); // "ops"
 * console.log(tokens.identify("guess")); // undefined
 * ```
 */
export class TokenSet {
  readonly #grants: readonly TokenGrant[];

  /**
   * @param grants Tokens with their digests (from {@linkcode parseTokens}).
   * @throws {RangeError} When two share a name or a token.
   */
  constructor(grants: readonly TokenGrant[] = []) {
    checkUnique(grants, "the tokens");
    this.#grants = Object.freeze([...grants]);
  }

  /**
   * Tokens given in code, secrets in clear (tests, the SDK's examples).
   *
   * @example
   * ```ts
   * import { TokenSet } from "./token_set.ts";
   * const tokens = TokenSet.of([{ name: "reader", token: "r-secret", permissions: ["read"] }]);
   * ```
   */
  static of(
    entries: ReadonlyArray<{ name: string; token: string; permissions: readonly Permission[] }>,
  ): TokenSet {
    return new TokenSet(parseTokens(JSON.stringify(entries), "the tokens"));
  }

  /**
   * One admin token, as `ESCROW_API_TOKEN` gives it.
   *
   * @example
   * ```ts
   * import { TokenSet } from "./token_set.ts";
   * const tokens = TokenSet.admin("s3cret");
   * console.log(tokens.identify("s3cret")?.permissions); // ["admin"]
   * ```
   */
  static admin(token: string, name: string = API_TOKEN_NAME): TokenSet {
    return TokenSet.of([{ name, token, permissions: ["admin"] }]);
  }

  /** How many tokens there are; 0 is an open broker. */
  get size(): number {
    return this.#grants.length;
  }

  /** The tokens' names (never their secrets), for the start-up log. */
  get names(): string[] {
    return this.#grants.map((grant) => grant.name);
  }

  /** These tokens and `others` (a name or a token in both is a `RangeError`). */
  with(others: TokenSet): TokenSet {
    return new TokenSet([...this.#grants, ...others.#grants]);
  }

  /**
   * The principal whose token `token` is, or undefined. Every stored digest
   * is compared, each in constant time.
   */
  identify(token: string): Principal | undefined {
    const digest = digestOf(token);
    let found: TokenGrant | undefined;
    for (const grant of this.#grants) {
      if (timingSafeEqual(grant.sha256, digest)) found ??= grant;
    }
    return found && { name: found.name, permissions: found.permissions };
  }

  /**
   * The principal named `name` when `signatureHex` is the HMAC-SHA1 of
   * `data` under its token (RocketMQ's `MQv2-HMAC-SHA1`: access key = token
   * name, secret = token), compared in constant time; undefined otherwise,
   * and for a token configured only by its `tokenSha256`.
   *
   * @example Check a RocketMQ client's signature
   * ```ts
   * import { createHmac } from "node:crypto";
   * import { TokenSet } from "./token_set.ts";
   * const tokens = TokenSet.of([{ name: "wallet", token: "w-secret", permissions: ["admin"] }]);
   * const signature = createHmac("sha1", "w-secret").update("20261201T000000Z").digest("hex");
   * tokens.verifyHmacSha1("wallet", "20261201T000000Z", signature)?.name; // "wallet"
   * ```
   */
  verifyHmacSha1(name: string, data: string, signatureHex: string): Principal | undefined {
    const grant = this.#grants.find((candidate) => candidate.name === name);
    const secret = grant && hmacSecrets.get(grant);
    const expected = createHmac("sha1", secret ?? "").update(data).digest();
    const given = /^[0-9a-fA-F]{40}$/.test(signatureHex)
      ? decodeHex(signatureHex.toLowerCase())
      : new Uint8Array(expected.length);
    const equal = timingSafeEqual(expected, given);
    if (!grant || secret === undefined || !equal) return undefined;
    return { name: grant.name, permissions: grant.permissions };
  }
}
