/**
 * Idempotent consumers on Deno KV: the handler's writes and a "processed
 * messageId" marker commit together, so a redelivered message has no second
 * effect (the unique transaction id of a non-reentrant operation).
 *
 * @module
 */

/** Options of {@linkcode idempotent}. */
export interface IdempotentOptions {
  /** Key prefix of the markers. @default {["escrow_processed"]} */
  readonly prefix?: Deno.KvKey;
  /** How long markers are kept, in ms. @default {undefined} (forever) */
  readonly expireInMs?: number;
}

/** Most runs of a handler whose own checks keep failing (then it throws). */
const MAX_ATTEMPTS = 20;

/**
 * Wraps a handler whose effects are KV writes added to `op`. Returns a
 * function that resolves `true` when it applied the message, `false` when
 * the message had already been processed.
 *
 * @example
 * ```ts
 * import { idempotent } from "./idempotent.ts";
 * using kv = await Deno.openKv(":memory:");
 * const buy = idempotent(kv, (message: { messageId: string }, op) => {
 *   op.set(["orders", message.messageId], { fee: 0 });
 * });
 * await buy({ messageId: "m1" }); // true
 * await buy({ messageId: "m1" }); // false: no second effect
 * ```
 */
export function idempotent<M extends { messageId: string }>(
  kv: Deno.Kv,
  handler: (message: M, op: Deno.AtomicOperation) => void | Promise<void>,
  options: IdempotentOptions = {},
): (message: M) => Promise<boolean> {
  const prefix = options.prefix ?? ["escrow_processed"];
  return async (message) => {
    const marker = [...prefix, message.messageId];
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const op = kv.atomic().check({ key: marker, versionstamp: null });
      op.set(marker, Date.now(), options.expireInMs ? { expireIn: options.expireInMs } : {});
      await handler(message, op);
      const result = await op.commit();
      if (result.ok) return true;
      if ((await kv.get(marker)).versionstamp !== null) return false;
      // A check the handler added failed: run it again on fresh state.
    }
    throw new Error(
      `Cannot process message ${message.messageId}: its handler's checks failed ${MAX_ATTEMPTS} times`,
    );
  };
}
