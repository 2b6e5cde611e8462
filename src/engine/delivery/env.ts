/**
 * What the delivery modules share: the engine's collaborators, the groups,
 * and the receipt-handle signer.
 *
 * @module
 */
import type { EngineDeps } from "../deps.ts";
import type { Groups } from "../groups/mod.ts";
import type { ReceiptKeys } from "./receipt_keys.ts";

/** The collaborators of every delivery use case. */
export interface DeliveryEnv {
  readonly deps: EngineDeps;
  readonly groups: Groups;
  readonly receiptKeys: ReceiptKeys;
}

/** Most optimistic checks one commit may carry (Deno KV allows 100). */
export const MAX_CHECKS = 90;
/** Most handles settled in one commit (each needs one check, plus order locks). */
export const SETTLE_CHUNK = 40;
