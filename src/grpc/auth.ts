/**
 * Authentication of RocketMQ clients: with tokens configured, every call
 * carries `authorization: MQv2-HMAC-SHA1 Credential=<name>,
 * SignedHeaders=x-mq-date-time, Signature=<hex>` (the HMAC-SHA1 of the
 * `x-mq-date-time` header under the token), as the RocketMQ proxy requires.
 * The principal then meets the same permissions as over HTTP.
 *
 * @module
 */
import type * as grpc from "@grpc/grpc-js";
import { ANONYMOUS, type Principal, type TokenSet } from "../http/auth/token_set.ts";
import { grants, type Permission } from "../http/auth/permission.ts";
import { StatusError } from "./status.ts";

const HEADER =
  /^MQv2-HMAC-SHA1\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9A-Fa-f]+)$/;

/** One metadata value as a string. */
function header(metadata: grpc.Metadata, name: string): string | undefined {
  const value = metadata.get(name)[0];
  return value === undefined ? undefined : String(value);
}

/**
 * Who made a call: {@linkcode ANONYMOUS} on an open broker (no tokens),
 * else the token whose name and signature the `authorization` metadata
 * carries; throws `UNAUTHORIZED` when it is missing or does not verify.
 *
 * @param metadata The call's metadata.
 * @param tokens The broker's tokens.
 * @returns The principal.
 *
 * @example
 * ```ts
 * import * as grpc from "@grpc/grpc-js";
 * import { authenticate } from "./auth.ts";
 * import { TokenSet } from "../http/auth/token_set.ts";
 * authenticate(new grpc.Metadata(), new TokenSet()).name; // "anonymous"
 * ```
 */
export function authenticate(metadata: grpc.Metadata, tokens: TokenSet): Principal {
  if (tokens.size === 0) return ANONYMOUS;
  const authorization = header(metadata, "authorization");
  if (authorization === undefined) {
    throw new StatusError(
      "UNAUTHORIZED",
      "Cannot authenticate: no authorization metadata (configure the client's sessionCredentials: accessKey = token name, accessSecret = token)",
    );
  }
  const match = HEADER.exec(authorization.trim());
  if (!match) {
    throw new StatusError(
      "UNAUTHORIZED",
      "Cannot authenticate: authorization is not MQv2-HMAC-SHA1 Credential=..., SignedHeaders=x-mq-date-time, Signature=...",
    );
  }
  const [, name, signed, signature] = match;
  const dateTime = header(metadata, "x-mq-date-time");
  if (signed!.toLowerCase() !== "x-mq-date-time" || dateTime === undefined) {
    throw new StatusError("UNAUTHORIZED", "Cannot authenticate: x-mq-date-time is not signed");
  }
  const principal = tokens.verifyHmacSha1(name!, dateTime, signature!);
  if (!principal) {
    throw new StatusError(
      "UNAUTHORIZED",
      `Cannot authenticate ${name}: the signature does not match (or the token is configured only as tokenSha256)`,
    );
  }
  return principal;
}

/**
 * Throws `FORBIDDEN` unless `principal` holds `needed`.
 *
 * @example
 * ```ts
 * import { requirePermission } from "./auth.ts";
 * import { ANONYMOUS } from "../http/auth/token_set.ts";
 * requirePermission(ANONYMOUS, "publish:Trade");
 * ```
 */
export function requirePermission(principal: Principal, needed: Permission): void {
  if (!grants(principal.permissions, needed)) {
    throw new StatusError(
      "FORBIDDEN",
      `Cannot proceed: token ${principal.name} lacks the permission ${needed}`,
    );
  }
}
