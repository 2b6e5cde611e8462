/**
 * Group commit: concurrent changes share one `kv.atomic()`, up to Deno KV's
 * limits (1,000 mutations, 100 checks, 800 KiB), because a commit of many
 * values costs little more than a commit of one. While commits are in
 * flight (at most two) the next changes queue; they all go in the next one.
 *
 * A change joins a batch only if it does not touch what another change in
 * the batch checks or writes, so each change's optimistic checks mean what
 * they meant alone. If a batch fails its checks, its changes are committed
 * one by one to tell which one lost; that one reports `false`. If a batch
 * throws (a value or key over Deno KV's limits, a value that cannot be
 * stored), its changes are likewise committed one by one, so only the change
 * at fault fails, with its own error (see {@linkcode storeRefusal}).
 *
 * Each commit writes, per topic, one topic-log entry holding every message
 * its changes made visible, keyed by the commit's versionstamp. What a change
 * asked to do after its commit (`WriteSet.onCommitted`: a warning, an alert)
 * runs only once it committed.
 *
 * @module
 */
import { commit } from "./commit.ts";
import { keys } from "./keys.ts";
import { estimateSize, SumMerger, type VisibleEntry, type WriteSet } from "./write_set.ts";
import type { LogEntry } from "../domain/message.ts";
import { PayloadTooLargeError, ValidationError } from "../domain/errors.ts";

/** Commits in flight at once. */
const MAX_IN_FLIGHT = 2;

/** Budget of one commit, kept below Deno KV's hard limits. */
const LIMITS = { mutations: 900, checks: 90, bytes: 700 * 1024, logBytes: 56 * 1024 } as const;

interface Pending {
  readonly writes: WriteSet;
  readonly resolve: (ok: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/** Answers a change and, when it committed, runs what it asked to do after its commit. */
function settle(pending: Pending, ok: boolean): void {
  if (ok) {
    for (const fn of pending.writes.afterCommit) {
      try {
        fn();
      } catch (error) {
        console.error("after-commit step failed", error);
      }
    }
  }
  pending.resolve(ok);
}

/**
 * What Deno KV's refusal of one change means to its caller: a value, a
 * commit or a key over KV's limits is the request's fault (413 or 400), not
 * the broker's; anything else (a closed database) stays as it is.
 *
 * @example
 * ```ts
 * import { storeRefusal } from "./group_commit.ts";
 * const error = storeRefusal(new TypeError("Value too large (max 65536 bytes)"));
 * console.log((error as { status: number }).status); // 413
 * ```
 */
export function storeRefusal(error: unknown): unknown {
  if (!(error instanceof TypeError)) return error;
  const reason = error.message;
  if (/^(Value|Total mutation size) too large|^Too many mutations/.test(reason)) {
    return new PayloadTooLargeError(`Cannot store the change: ${reason}`, { reason });
  }
  if (/^Key too large|could not be cloned|^Invalid key/i.test(reason)) {
    return new ValidationError(`Cannot store the change: ${reason}`, { reason });
  }
  return error;
}

/**
 * Commits write sets in shared batches.
 *
 * @example
 * ```ts
 * import { GroupCommitter } from "./group_commit.ts";
 * import { WriteSet } from "./write_set.ts";
 * using kv = await Deno.openKv(":memory:");
 * const committer = new GroupCommitter(kv);
 * const results = await Promise.all([1, 2, 3].map((n) => committer.commit(new WriteSet().set(["n", n], n))));
 * console.log(results); // [true, true, true]
 * ```
 */
export class GroupCommitter {
  readonly #kv: Deno.Kv;
  #queue: Pending[] = [];
  #lanes = 0;
  /** Commits made and changes carried, for tests and benchmarks. */
  readonly stats = { commits: 0, changes: 0 };

  /** Creates a committer for one KV handle. */
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Commits `writes`, alone or with others; false when its checks failed. */
  commit(writes: WriteSet): Promise<boolean> {
    const promise = this.#enqueue(writes);
    if (this.#lanes === 0) this.#drain();
    return promise;
  }

  /**
   * Commits each of `changes` as {@linkcode commit} does, all queued before
   * the first commit is taken, so a batch shares as few commits as the
   * limits allow (calling `commit` in a loop would send the first alone).
   */
  commitAll(changes: readonly WriteSet[]): Promise<boolean>[] {
    const promises = changes.map((writes) => this.#enqueue(writes));
    if (this.#lanes === 0 && this.#queue.length > 0) this.#drain();
    return promises;
  }

  #enqueue(writes: WriteSet): Promise<boolean> {
    if (writes.mutations + writes.visible.length === 0 && writes.checks === 0) {
      settle({ writes, resolve: () => {}, reject: () => {} }, true);
      return Promise.resolve(true);
    }
    const { promise, resolve, reject } = Promise.withResolvers<boolean>();
    this.#queue.push({ writes, resolve, reject });
    return promise;
  }

  async #drain(): Promise<void> {
    this.#lanes++;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#takeBatch();
        // While this batch commits, a second lane may take the next one, so that
        // SQLite's writer is not idle while JavaScript prepares the next commit.
        if (this.#queue.length > 0 && this.#lanes < MAX_IN_FLIGHT) this.#drain();
        let committed: boolean;
        try {
          committed = await this.#commitBatch(batch.map((p) => p.writes));
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(storeRefusal(error));
            continue;
          }
          committed = false;
        }
        if (committed) {
          batch.forEach((p) => settle(p, true));
          continue;
        }
        // A failed check or a change KV refused: each change commits alone, so only
        // the one at fault fails (false for a lost check, its own error for a refusal).
        for (const pending of batch) {
          try {
            settle(pending, batch.length > 1 && await this.#commitBatch([pending.writes]));
          } catch (alone) {
            pending.reject(storeRefusal(alone));
          }
        }
      }
    } finally {
      this.#lanes--;
    }
  }

  /** Takes queued changes that fit together, leaving the rest in order. */
  #takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const checked = new Set<string>();
    const written = new Set<string>();
    const logBytes = new Map<string, number>();
    const tags = new Set<string>();
    let mutations = 0;
    let checks = 0;
    let bytes = 0;
    let full = false;
    for (const pending of this.#queue) {
      if (full) {
        rest.push(pending);
        continue;
      }
      const w = pending.writes;
      const topics = new Map<string, number>();
      const newTags = new Set<string>();
      for (const v of w.visible) {
        topics.set(v.topic, (topics.get(v.topic) ?? 0) + estimateSize(v.entry));
        const tagKey = `${v.topic}\u0000${v.entry.tag ?? ""}`;
        if (!tags.has(tagKey)) newTags.add(tagKey);
      }
      const newTopics = [...topics.keys()].filter((t) => !logBytes.has(t)).length;
      // Per topic: its log entry, head and published count; per tag: its count.
      const added = newTopics * 3 + newTags.size;
      const fits = batch.length === 0 || (
        mutations + w.mutations + added <= LIMITS.mutations &&
        checks + w.checks <= LIMITS.checks &&
        bytes + w.bytes <= LIMITS.bytes &&
        [...topics].every(([t, b]) => (logBytes.get(t) ?? 0) + b <= LIMITS.logBytes)
      );
      if (!fits) {
        full = true;
        rest.push(pending);
        continue;
      }
      const myChecks = w.checkedKeys();
      const myWrites = w.writtenKeys();
      // A change may not read (check) what another writes, nor write what another
      // reads; two changes that only check one key mean the same by it.
      const clashes = myChecks.some((k) => written.has(k)) ||
        myWrites.some((k) => checked.has(k));
      if (clashes && batch.length > 0) {
        rest.push(pending);
        continue;
      }
      batch.push(pending);
      myChecks.forEach((k) => checked.add(k));
      myWrites.forEach((k) => written.add(k));
      mutations += w.mutations + added;
      newTags.forEach((t) => tags.add(t));
      checks += w.checks;
      bytes += w.bytes;
      for (const [t, b] of topics) logBytes.set(t, (logBytes.get(t) ?? 0) + b);
    }
    this.#queue = rest;
    return batch;
  }

  async #commitBatch(batch: readonly WriteSet[]): Promise<boolean> {
    const op = this.#kv.atomic();
    const byTopic = new Map<string, LogEntry[]>();
    const sums = new SumMerger();
    for (const writes of batch) {
      writes.applyTo(op, sums);
      for (const { topic, entry } of writes.visible as VisibleEntry[]) {
        const list = byTopic.get(topic) ?? [];
        list.push(entry);
        byTopic.set(topic, list);
      }
    }
    for (const [topic, entries] of byTopic) {
      op.set([...keys.topicLog(topic), this.#kv.commitVersionstamp()], entries);
      sums.add(keys.topicHead(topic), 1n);
      sums.add(keys.counter(topic, "published"), BigInt(entries.length));
      const perTag = new Map<string, number>();
      for (const entry of entries) {
        perTag.set(entry.tag ?? "", (perTag.get(entry.tag ?? "") ?? 0) + 1);
      }
      for (const [tag, n] of perTag) sums.add(keys.tagCount(topic, tag), BigInt(n));
    }
    sums.applyTo(op);
    const result = await commit(op);
    if (result.ok) {
      this.stats.commits++;
      this.stats.changes += batch.length;
    }
    return result.ok;
  }
}
