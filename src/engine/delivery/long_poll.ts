/**
 * Long polls: waiting until work may be ready for a consumer group, woken by
 * a change of one of its wake-up keys (per subscription, the count of each
 * tag its tag expression names, bumped by every commit that adds entries
 * with that tag to the topic's log, or for `*` and SQL92 filters the topic's
 * head, bumped by every commit that adds to the log; and the group's signal,
 * bumped when retries, redrives or due entries are written), by the earliest
 * due entry's time, or by the deadline. Nothing sleeps in a loop. A publish
 * of a tag a group does not take wakes none of its long polls: its cursor
 * passes such entries on its next receive, or when one it takes arrives.
 *
 * A group has dozens of wake-up keys but `kv.watch()` takes at most 10, and
 * thousands of long polls may wait on the same keys. So the watches belong
 * to one {@linkcode WakeHub} per KV handle, shared by every waiter in the
 * process and counted by reference: the first waiter on a key opens its
 * watch, the last one to leave cancels it, so nothing is watched while
 * nobody waits, and 2,000 long polls on one group open one watch per key of
 * the group, not 2,000.
 *
 * The hub opens one watch per key rather than chunks of 10. Waiters come
 * and go with different key sets (groups share topics), and a chunk is fixed
 * when it is opened: a chunked hub would have to re-open chunks whenever a
 * key joins or leaves (cancelling watches other waiters still rely on) or
 * keep watching keys nobody waits on. A watch per key opens and closes on its
 * own, and the number open is bounded by the distinct keys waited on: one
 * signal per waiting group plus, per topic those groups subscribe, its head
 * or the counts of the tags they name.
 *
 * A shared watch may lag behind a waiter: the last versionstamp it saw can be
 * older than the waiter's baseline, read just before. So a key counts as
 * changed only when its versionstamp is newer than the baseline's
 * (versionstamps grow with every commit) or when it appeared or disappeared;
 * each waiter is told the latest value when it joins, so a commit between
 * its baseline and its joining still wakes it.
 *
 * @module
 */
import { keys } from "../../store/keys.ts";
import type { CompiledGroup } from "../groups/groups.ts";

/** Most keys one `kv.getMany()` reads. */
const GET_MANY_LIMIT = 10;

/**
 * What a {@linkcode WakeHub} tells a listener: a key's versionstamp (`null`
 * when the key does not exist), or that the watch ended (the KV was closed),
 * after which nothing more comes.
 */
export type WatchNews = { readonly versionstamp: string | null } | { readonly ended: true };

/** Counts of a {@linkcode WakeHub}, for tests and diagnostics. */
export interface WakeHubCounts {
  /** Watches open now: one per key somebody waits on. */
  readonly watches: number;
  /** Listeners subscribed now, over all keys. */
  readonly listeners: number;
}

interface Watch {
  readonly listeners: Set<(news: WatchNews) => void>;
  readonly reader: ReadableStreamDefaultReader<Deno.KvEntryMaybe<unknown>[]>;
  /** The last versionstamp the watch saw; `undefined` until its first read. */
  latest: string | null | undefined;
}

const hubs = new WeakMap<Deno.Kv, WakeHub>();

/**
 * The process's watches of one KV handle, shared by every waiter and open
 * only while somebody listens (see the module doc for the design).
 *
 * @example
 * ```ts
 * import { WakeHub } from "./long_poll.ts";
 * using kv = await Deno.openKv(":memory:");
 * const hub = WakeHub.of(kv);
 * const release = hub.subscribe(["topic_head", "Orders"], (news) => console.log(news));
 * console.log(hub.counts.watches); // 1
 * await release();
 * console.log(hub.counts.watches); // 0
 * ```
 */
export class WakeHub {
  readonly #kv: Deno.Kv;
  readonly #watches = new Map<string, Watch>();

  private constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /**
   * The hub of `kv`, created on first use.
   *
   * @param kv The KV handle whose keys are watched.
   * @returns The same hub for every call with the same handle.
   */
  static of(kv: Deno.Kv): WakeHub {
    let hub = hubs.get(kv);
    if (!hub) {
      hub = new WakeHub(kv);
      hubs.set(kv, hub);
    }
    return hub;
  }

  /** How many watches and listeners are active now. */
  get counts(): WakeHubCounts {
    let listeners = 0;
    for (const watch of this.#watches.values()) listeners += watch.listeners.size;
    return { watches: this.#watches.size, listeners };
  }

  /**
   * Calls `listener` with every versionstamp the watch of `key` sees,
   * starting with the latest one already seen (at once, when the watch was
   * open before), until the returned release is called.
   *
   * @param key The key to watch.
   * @param listener Told each versionstamp seen, or that the watch ended.
   * @returns Releases the subscription; resolves once a watch nobody needs
   * any more is cancelled.
   */
  subscribe(key: Deno.KvKey, listener: (news: WatchNews) => void): () => Promise<void> {
    const id = keyId(key);
    let watch = this.#watches.get(id);
    if (!watch) {
      watch = this.#open(id, key);
      this.#watches.set(id, watch);
    }
    // A wrapper of its own, so one function subscribed twice is also released twice.
    const entry = (news: WatchNews) => listener(news);
    watch.listeners.add(entry);
    if (watch.latest !== undefined) entry({ versionstamp: watch.latest });
    const opened = watch;
    return async () => {
      if (!opened.listeners.delete(entry)) return;
      if (opened.listeners.size > 0 || this.#watches.get(id) !== opened) return;
      this.#watches.delete(id);
      await opened.reader.cancel().catch(() => {});
    };
  }

  #open(id: string, key: Deno.KvKey): Watch {
    const watch: Watch = {
      listeners: new Set(),
      reader: this.#kv.watch([key]).getReader(),
      latest: undefined,
    };
    (async () => {
      try {
        for (;;) {
          const next = await watch.reader.read();
          if (next.done) break;
          watch.latest = next.value[0]?.versionstamp ?? null;
          for (const listener of [...watch.listeners]) listener({ versionstamp: watch.latest });
        }
      } catch {
        // The KV was closed under the watch: its listeners are told it ended, below.
      }
      // Still listed means the watch ended by itself, not by the last release.
      if (this.#watches.get(id) !== watch) return;
      this.#watches.delete(id);
      for (const listener of [...watch.listeners]) listener({ ended: true });
    })();
    return watch;
  }
}

/** A map key for a KV key: its parts tagged with their types, so 1 and "1" differ. */
function keyId(key: Deno.KvKey): string {
  return JSON.stringify(
    key.map((part) =>
      part instanceof Uint8Array ? ["bytes", [...part]] : [typeof part, String(part)]
    ),
  );
}

/**
 * The keys whose change means work may be ready for the group: its signal,
 * then per subscription the count of each tag it names (its
 * `wakeTags`), or the head of its topic when it takes `*`, many tags or an
 * SQL92 filter (possibly more keys than one `kv.watch()` takes:
 * {@linkcode WakeHub} watches them).
 *
 * @example
 * ```ts
 * import { wakeKeys } from "./long_poll.ts";
 * declare const group: import("../groups/groups.ts").CompiledGroup;
 * wakeKeys(group)[0]; // the group's signal
 * ```
 *
 * @param group The group waited for.
 * @returns The group signal first, then the tag counts or topic head of each subscription.
 */
export function wakeKeys(group: CompiledGroup): Deno.KvKey[] {
  return [
    keys.groupSignal(group.record.id),
    ...group.subscriptions.flatMap((s) =>
      s.wakeTags ? s.wakeTags.map((tag) => keys.tagCount(s.topic, tag)) : [keys.topicHead(s.topic)]
    ),
  ];
}

/**
 * The versionstamps of all the group's wake-up keys, as one string for
 * {@linkcode waitForWork}: read it before looking for work, so that work
 * committed meanwhile counts as a change.
 *
 * @example
 * ```ts
 * import { wakeState } from "./long_poll.ts";
 * declare const kv: Deno.Kv;
 * declare const group: import("../groups/groups.ts").CompiledGroup;
 * const baseline = await wakeState(kv, group);
 * ```
 *
 * @param kv The KV handle.
 * @param group The group about to look for work.
 * @returns The versionstamps in {@linkcode wakeKeys} order, comma-separated, empty for a missing key.
 */
export async function wakeState(kv: Deno.Kv, group: CompiledGroup): Promise<string> {
  const all = wakeKeys(group);
  const chunks: Deno.KvKey[][] = [];
  for (let i = 0; i < all.length; i += GET_MANY_LIMIT) {
    chunks.push(all.slice(i, i + GET_MANY_LIMIT));
  }
  const entries = (await Promise.all(chunks.map((chunk) => kv.getMany(chunk)))).flat();
  return entries.map((entry) => entry.versionstamp ?? "").join(",");
}

/**
 * Resolves when one of the group's wake-up keys differs from `baseline`
 * (what {@linkcode wakeState} read for the same group), when the group's
 * earliest due entry falls due, at `deadline`, or when `signal` aborts. A
 * baseline that does not fit the group's keys resolves at once: looking for
 * work again is always safe. Every listener, timer and watch it took is
 * released before it resolves.
 *
 * @example
 * ```ts
 * import { waitForWork, wakeState } from "./long_poll.ts";
 * declare const kv: Deno.Kv;
 * declare const group: import("../groups/groups.ts").CompiledGroup;
 * const baseline = await wakeState(kv, group);
 * await waitForWork(kv, Date.now, group, { deadline: Date.now() + 1_000, baseline });
 * ```
 *
 * @param kv The KV handle.
 * @param clock Current time in epoch ms.
 * @param group The group waited for.
 * @param options `deadline` in epoch ms, the `baseline` from {@linkcode wakeState}, an optional `signal`.
 */
export async function waitForWork(
  kv: Deno.Kv,
  clock: () => number,
  group: CompiledGroup,
  options: { deadline: number; baseline: string; signal?: AbortSignal },
): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return;
  let until = options.deadline;
  for await (const entry of kv.list({ prefix: keys.dues(group.record.id) }, { limit: 1 })) {
    until = Math.min(until, entry.key[2] as number);
  }
  const watched = wakeKeys(group);
  const baseline = options.baseline.split(",");
  if (baseline.length !== watched.length) return;
  const woken = Promise.withResolvers<void>();
  const wake = () => woken.resolve();
  const releases: (() => Promise<void>)[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  signal?.addEventListener("abort", wake, { once: true });
  try {
    if (signal?.aborted) return;
    timer = setTimeout(wake, Math.max(0, until - clock()));
    watched.forEach((key, i) => {
      const seen = baseline[i] || null;
      releases.push(
        WakeHub.of(kv).subscribe(key, (news) => {
          if ("ended" in news || isNewer(news.versionstamp, seen)) wake();
        }),
      );
    });
    await woken.promise;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", wake);
    await Promise.all(releases.map((release) => release()));
  }
}

/**
 * Whether `current` is a change from `baseline`: newer (a stale value of a
 * shared watch is older, not a change), or the key appeared or disappeared.
 */
function isNewer(current: string | null, baseline: string | null): boolean {
  if (current === baseline) return false;
  if (current === null || baseline === null) return true;
  // Versionstamps are fixed-width hex, so text order is commit order.
  return current > baseline;
}
