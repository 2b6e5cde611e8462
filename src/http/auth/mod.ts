/**
 * Tokens and permissions: who may call which route. `token_set.ts` keeps the
 * tokens (as SHA-256 digests) and reads their configuration,
 * `permission.ts` says what a permission grants, `route_permissions.ts`
 * what each route needs, `middleware.ts` checks a request before its body
 * is read.
 *
 * @example
 * ```ts
 * import { apiAuth, TokenSet } from "./mod.ts";
 * const auth = apiAuth(TokenSet.of([{ name: "ops", token: "ops-secret", permissions: ["admin"] }]));
 * ```
 *
 * @module
 */
export * from "./permission.ts";
export * from "./token_set.ts";
export * from "./route_permissions.ts";
export * from "./middleware.ts";
export * from "./token_config.ts";
