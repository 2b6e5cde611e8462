/**
 * Safe outbound calls: the policy that decides which check-back, push and
 * alert URLs the broker may call (`ESCROW_OUTBOUND_ALLOW` and the rules that
 * always hold), and the one bounded, pinned, redirect-free way it calls them.
 * A newcomer reads `policy.ts` first, then `outbound.ts`.
 *
 * @example
 * ```ts
 * import { Outbound, OutboundPolicy } from "./mod.ts";
 * const outbound = new Outbound(new OutboundPolicy({ allow: "127.0.0.0/8,::1" }));
 * await outbound.check("http://127.0.0.1:9000/check", "checkUrl");
 * ```
 *
 * @module
 */
export * from "./address.ts";
export * from "./policy.ts";
export * from "./pinned_fetch.ts";
export * from "./outbound.ts";
export * from "./redact.ts";
