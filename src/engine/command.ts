/**
 * The one command handler every stream is written through, as Emmett's
 * `handleCommand`: load the stream's state, let the machine decide, append
 * the events at the expected version together with everything they trigger
 * (timers, indexes, counters) in one commit, and on a version conflict load
 * again and decide again, a bounded number of times, then give up with a
 * 503 {@linkcode ContentionError}.
 *
 * What "load" means is the caller's: a transaction reads its stream (or a
 * cached copy that the append's check will prove current); a delivery starts
 * from the head a signed receipt handle or a stored record states and, after
 * a conflict, reads the stream itself. Either way only a checked append
 * writes an event.
 *
 * @module
 */
import { ContentionError } from "../domain/errors.ts";
import type { GroupCommitter } from "../store/group_commit.ts";
import type { WriteSet } from "../store/write_set.ts";
import { MAX_WRITE_ATTEMPTS } from "./deps.ts";

/** What a command decided, given the loaded state. */
export type CommandOutcome<R> =
  /** Commit these writes (an append at the expected version and its effects); then answer `result`. */
  | { readonly write: WriteSet; readonly result: R }
  /** Nothing to write: answer `result` now. */
  | { readonly done: R }
  /** The loaded state may be stale and cannot decide: load again, fresh. */
  | { readonly reload: true };

/** The steps of one command. */
export interface Command<L, R> {
  /** What the command is, for the 503 when it keeps losing: "change transaction t1". */
  readonly what: string;
  /** Loads the state; `fresh` is true after a conflict or a reload (no cache may answer). */
  load(fresh: boolean): Promise<L>;
  /** Decides from the loaded state (throws a BrokerError to refuse). */
  decide(loaded: L): Promise<CommandOutcome<R>> | CommandOutcome<R>;
  /** Called after the writes committed. */
  committed?(loaded: L, result: R): void;
  /** Called when the commit lost to another writer, before loading again. */
  conflicted?(loaded: L): void;
}

/**
 * Runs a command to its end: committed, answered without a write, refused
 * (the decide step threw), or a {@linkcode ContentionError} after
 * `MAX_WRITE_ATTEMPTS` conflicts.
 *
 * @example
 * ```ts
 * import { handleCommand } from "./command.ts";
 * import { GroupCommitter } from "../store/group_commit.ts";
 * import { WriteSet } from "../store/write_set.ts";
 * using kv = await Deno.openKv(":memory:");
 * const committer = new GroupCommitter(kv);
 * const result = await handleCommand(committer, {
 *   what: "count",
 *   load: async () => await kv.get<number>(["n"]),
 *   decide: (entry) => ({
 *     write: new WriteSet().check(entry).set(["n"], (entry.value ?? 0) + 1),
 *     result: (entry.value ?? 0) + 1,
 *   }),
 * });
 * console.log(result); // 1
 * ```
 */
export async function handleCommand<L, R>(
  committer: GroupCommitter,
  command: Command<L, R>,
): Promise<R> {
  let fresh = false;
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    const loaded = await command.load(fresh);
    const outcome = await command.decide(loaded);
    if ("done" in outcome) return outcome.done;
    if ("reload" in outcome) {
      if (fresh) throw new TypeError(`Cannot ${command.what}: a fresh load asked to reload`);
      fresh = true;
      continue;
    }
    if (await committer.commit(outcome.write)) {
      command.committed?.(loaded, outcome.result);
      return outcome.result;
    }
    command.conflicted?.(loaded);
    fresh = true;
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * attempt));
  }
  throw new ContentionError(`Cannot ${command.what}: too much contention, try again`);
}
