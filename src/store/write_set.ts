/**
 * A recorded set of KV writes: the checks, mutations and enqueues of one
 * change, kept as data so that several changes can share one commit (group
 * commit) and so their keys can be compared to keep conflicting changes
 * apart. It has the subset of `Deno.AtomicOperation`'s API the engine uses.
 * Messages made visible are kept aside: each commit writes one topic-log
 * entry per topic, keyed by its versionstamp, for all the changes it carries.
 *
 * @module
 */
import type { LogEntry } from "../domain/message.ts";

/** The part of `Deno.AtomicOperation` the engine writes through. */
export interface Writes {
  check(...checks: Deno.AtomicCheck[]): this;
  set(key: Deno.KvKey, value: unknown, options?: { expireIn?: number }): this;
  delete(key: Deno.KvKey): this;
  sum(key: Deno.KvKey, n: bigint): this;
  enqueue(value: unknown, options?: { delay?: number }): this;
}

type Step =
  | { readonly kind: "check"; readonly check: Deno.AtomicCheck }
  | {
    readonly kind: "set";
    readonly key: Deno.KvKey;
    readonly value: unknown;
    readonly options?: { expireIn?: number };
  }
  | { readonly kind: "delete"; readonly key: Deno.KvKey }
  | { readonly kind: "sum"; readonly key: Deno.KvKey; n: bigint }
  | { readonly kind: "enqueue"; readonly value: unknown; readonly options?: { delay?: number } };

/** A message made visible on a topic by a change. */
export interface VisibleEntry {
  readonly topic: string;
  readonly entry: LogEntry;
}

const U64 = 1n << 64n;

/**
 * Merges counter updates by key (modulo 2^64, as Deno KV sums wrap), so many
 * changes bumping one counter cost one mutation.
 *
 * @example
 * ```ts
 * import { SumMerger } from "./write_set.ts";
 * using kv = await Deno.openKv(":memory:");
 * const sums = new SumMerger();
 * sums.add(["n"], 2n);
 * sums.add(["n"], 3n);
 * const op = kv.atomic();
 * console.log(sums.applyTo(op)); // 1 mutation
 * await op.commit();
 * ```
 */
export class SumMerger {
  readonly #sums = new Map<string, { key: Deno.KvKey; n: bigint }>();

  /** Adds `n` to the update of `key`. */
  add(key: Deno.KvKey, n: bigint): void {
    const id = keyText(key);
    const known = this.#sums.get(id);
    if (known) known.n = (known.n + n) % U64;
    else this.#sums.set(id, { key, n: n % U64 });
  }

  /** Adds the merged updates to `op`; returns how many mutations that is. */
  applyTo(op: Deno.AtomicOperation): number {
    let count = 0;
    for (const { key, n } of this.#sums.values()) {
      if (n === 0n) continue;
      op.sum(key, n);
      count++;
    }
    return count;
  }
}

/** Size of a key or value for the commit-size budget (an upper estimate). */
export function estimateSize(value: unknown, depth = 0): number {
  if (value === null || value === undefined) return 1;
  switch (typeof value) {
    case "string":
      return 2 * value.length + 4;
    case "number":
    case "bigint":
    case "boolean":
      return 9;
    case "object": {
      if (value instanceof Uint8Array) return value.byteLength + 4;
      if (depth > 8) return 64;
      let total = 4;
      if (Array.isArray(value)) {
        for (const item of value) total += estimateSize(item, depth + 1);
      } else {
        const record = value as Record<string, unknown>;
        for (const k in record) {
          if (Object.hasOwn(record, k)) total += 2 * k.length + estimateSize(record[k], depth + 1);
        }
      }
      return total;
    }
    default:
      return 16;
  }
}

/** A stable text form of a key, to compare keys across changes. */
export function keyText(key: Deno.KvKey): string {
  let text = "";
  for (let i = 0; i < key.length; i++) {
    const part = key[i];
    if (i > 0) text += "\u0000";
    text += part instanceof Uint8Array ? `u8:${part.join(",")}` : `${typeof part}:${String(part)}`;
  }
  return text;
}

/**
 * The writes of one change.
 *
 * @example
 * ```ts
 * import { WriteSet } from "./write_set.ts";
 * using kv = await Deno.openKv(":memory:");
 * const writes = new WriteSet().set(["a"], 1).sum(["n"], 1n);
 * const op = kv.atomic();
 * writes.applyTo(op);
 * await op.commit();
 * ```
 */
export class WriteSet implements Writes {
  readonly #steps: Step[] = [];
  readonly #sums = new Map<string, { kind: "sum"; key: Deno.KvKey; n: bigint }>();
  readonly #checked = new Set<string>();
  readonly visible: VisibleEntry[] = [];
  /** What to do once this change committed (log lines, alerts): never before. */
  readonly afterCommit: (() => void)[] = [];
  /** Mutations and enqueues (Deno KV allows 1,000 per commit). */
  mutations = 0;
  /** Checks (Deno KV allows 100 per commit). */
  checks = 0;
  /** Estimated bytes of keys and values. */
  bytes = 0;

  /** Adds checks. */
  check(...checks: Deno.AtomicCheck[]): this {
    for (const check of checks) {
      this.#steps.push({
        kind: "check",
        check: { key: check.key, versionstamp: check.versionstamp },
      });
      this.checks++;
      this.#checked.add(keyText(check.key));
      this.bytes += estimateSize(check.key);
    }
    return this;
  }

  /** Adds a set. */
  set(key: Deno.KvKey, value: unknown, options?: { expireIn?: number }): this {
    this.#steps.push({ kind: "set", key, value, ...(options ? { options } : {}) });
    this.mutations++;
    this.bytes += estimateSize(key) + estimateSize(value);
    return this;
  }

  /** Adds a delete. */
  delete(key: Deno.KvKey): this {
    this.#steps.push({ kind: "delete", key });
    this.mutations++;
    this.bytes += estimateSize(key);
    return this;
  }

  /** Adds a sum (a conflict-free counter update); sums of one key merge into one mutation. */
  sum(key: Deno.KvKey, n: bigint): this {
    const id = keyText(key);
    const known = this.#sums.get(id);
    if (known) {
      known.n = (known.n + n) % U64;
      return this;
    }
    const step = { kind: "sum" as const, key, n: n % U64 };
    this.#sums.set(id, step);
    this.#steps.push(step);
    this.mutations++;
    this.bytes += estimateSize(key) + 8;
    return this;
  }

  /** Adds an enqueue. */
  enqueue(value: unknown, options?: { delay?: number }): this {
    this.#steps.push({ kind: "enqueue", value, ...(options ? { options } : {}) });
    this.mutations++;
    this.bytes += estimateSize(value);
    return this;
  }

  /** Adds something to do once this change has committed (and only then). */
  onCommitted(fn: () => void): this {
    this.afterCommit.push(fn);
    return this;
  }

  /** Records a message made visible on its topic. */
  makeVisible(topic: string, entry: LogEntry): this {
    this.visible.push({ topic, entry });
    this.bytes += estimateSize(entry);
    return this;
  }

  /** Whether this change checks `key`. */
  isChecked(key: Deno.KvKey): boolean {
    return this.#checked.has(keyText(key));
  }

  /** Keys this change checks (what it read and relies on). */
  checkedKeys(): string[] {
    return this.#steps.flatMap((s) => s.kind === "check" ? [keyText(s.check.key)] : []);
  }

  /** Keys this change sets or deletes. */
  writtenKeys(): string[] {
    return this.#steps.flatMap((s) =>
      s.kind === "set" || s.kind === "delete" ? [keyText(s.key)] : []
    );
  }

  /**
   * Adds every step to a real atomic operation (visible entries are the
   * committer's). With `sums`, counter updates are added there instead, so a
   * batch can merge the updates of one counter into a single mutation.
   */
  applyTo(op: Deno.AtomicOperation, sums?: SumMerger): void {
    for (const step of this.#steps) {
      switch (step.kind) {
        case "check":
          op.check(step.check);
          break;
        case "set":
          op.set(step.key, step.value, step.options);
          break;
        case "delete":
          op.delete(step.key);
          break;
        case "sum":
          if (sums) sums.add(step.key, step.n);
          else if (step.n !== 0n) op.sum(step.key, step.n);
          break;
        case "enqueue":
          op.enqueue(step.value, step.options);
          break;
        default: {
          const never: never = step;
          throw new TypeError(`Cannot apply step ${JSON.stringify(never)}`);
        }
      }
    }
  }
}
