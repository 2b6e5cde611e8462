/**
 * Permissions a token holds, as the strings `ESCROW_TOKENS` lists:
 * `admin` (everything), `read` (every GET), `publish:<topic|*>` (publish and
 * prepare on a topic), `decide:<producerGroup|*>` (commit or roll back a
 * producer group's transactions) and `consume:<group|*>` (receive, ack,
 * nack, visibility, dead letters and redrive of a consumer group). One
 * pure function decides whether what a token holds grants what a route needs.
 *
 * @module
 */
import { NAME_PATTERN } from "../../domain/names.ts";

/** A permission as written in the configuration, e.g. `"publish:Trade"`. */
export type Permission = string;

/** The kinds of permission that name a resource (a topic, a producer group, a group). */
export const SCOPED_KINDS = ["publish", "decide", "consume"] as const;

/** A kind of {@linkcode SCOPED_KINDS}. */
export type ScopedKind = typeof SCOPED_KINDS[number];

/** What a configuration may list, as the error message of a wrong one says it. */
export const PERMISSION_FORMS =
  "admin, read, publish:<topic|*>, decide:<producerGroup|*>, consume:<group|*>";

/**
 * Whether `text` is a permission: `admin`, `read`, or a scoped kind, a colon
 * and `*` or a name (`^[A-Za-z0-9_-]{1,64}$`).
 *
 * @example
 * ```ts
 * import { isPermission } from "./permission.ts";
 * console.log(isPermission("publish:Trade"), isPermission("publish:")); // true false
 * ```
 */
export function isPermission(text: string): boolean {
  if (text === "admin" || text === "read") return true;
  const colon = text.indexOf(":");
  const kind = text.slice(0, colon);
  const target = text.slice(colon + 1);
  return colon > 0 && (SCOPED_KINDS as readonly string[]).includes(kind) &&
    (target === "*" || NAME_PATTERN.test(target));
}

/**
 * The permission of `kind` on one resource, e.g. `scoped("consume", "audit")`.
 *
 * @example
 * ```ts
 * import { scoped } from "./permission.ts";
 * console.log(scoped("consume", "audit")); // "consume:audit"
 * ```
 */
export function scoped(kind: ScopedKind, name: string): Permission {
  return `${kind}:${name}`;
}

/**
 * Whether the permissions `held` grant `needed`: `admin` grants everything,
 * `<kind>:*` grants `<kind>:<any name>`, anything else only itself. A
 * needed `<kind>:*` (a transaction without a producer group) is granted
 * only by `<kind>:*` or `admin`.
 *
 * @example
 * ```ts
 * import { grants } from "./permission.ts";
 * console.log(grants(["consume:*"], "consume:audit")); // true
 * console.log(grants(["consume:audit"], "consume:billing")); // false
 * ```
 */
export function grants(held: Iterable<Permission>, needed: Permission): boolean {
  const colon = needed.indexOf(":");
  const wildcard = colon > 0 ? `${needed.slice(0, colon)}:*` : undefined;
  for (const permission of held) {
    if (permission === "admin" || permission === needed || permission === wildcard) return true;
  }
  return false;
}
