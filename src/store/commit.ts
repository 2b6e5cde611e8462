/**
 * Committing an atomic operation when other processes share the KV file.
 * SQLite answers "database is locked" while another process (or handle)
 * holds the write lock; that is not a conflict, so the same operation is
 * committed again after a short, jittered pause. A failed check still comes
 * back as `{ ok: false }` for the caller's own retry loop.
 *
 * @module
 */

/** Most tries of one commit while the database stays locked. */
export const MAX_LOCKED_RETRIES = 200;

function isLocked(error: unknown): boolean {
  return error instanceof Error && /database is locked|database is busy/i.test(error.message);
}

/**
 * Commits `op`, retrying while the database is locked by another writer.
 *
 * @example
 * ```ts
 * import { commit } from "./commit.ts";
 * using kv = await Deno.openKv(":memory:");
 * const result = await commit(kv.atomic().set(["a"], 1));
 * console.log(result.ok); // true
 * ```
 */
export async function commit(
  op: Deno.AtomicOperation,
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  for (let attempt = 0;; attempt++) {
    try {
      return await op.commit();
    } catch (error) {
      if (!isLocked(error) || attempt >= MAX_LOCKED_RETRIES) throw error;
      await new Promise((resolve) =>
        setTimeout(resolve, 1 + Math.random() * Math.min(20, attempt))
      );
    }
  }
}
