/**
 * Long polls: waiting until work may be ready for a consumer group, woken by
 * `kv.watch()` on the keys that change when it might be (a commit on one of
 * the group's topics, a due entry written for it), by the earliest due
 * entry's time, or by the deadline. Nothing sleeps in a loop.
 *
 * @module
 */
import { keys } from "../../store/keys.ts";
import type { CompiledGroup } from "../groups/groups.ts";

/**
 * The keys whose change means work may be ready for the group (Deno KV
 * watches at most 10).
 *
 * @example
 * ```ts
 * import { wakeKeys } from "./long_poll.ts";
 * declare const group: import("../groups/groups.ts").CompiledGroup;
 * wakeKeys(group).length <= 10; // true
 * ```
 */
export function wakeKeys(group: CompiledGroup): Deno.KvKey[] {
  return [
    keys.groupSignal(group.record.name),
    ...group.subscriptions.slice(0, 9).map((s) => keys.topicHead(s.topic)),
  ];
}

/**
 * The versionstamps of the wake-up keys, as one comparable string: read it
 * before looking for work, so that work committed meanwhile counts as a change.
 *
 * @example
 * ```ts
 * import { wakeState } from "./long_poll.ts";
 * declare const kv: Deno.Kv;
 * declare const group: import("../groups/groups.ts").CompiledGroup;
 * const baseline = await wakeState(kv, group);
 * ```
 */
export async function wakeState(kv: Deno.Kv, group: CompiledGroup): Promise<string> {
  const entries = await kv.getMany(wakeKeys(group));
  return entries.map((e) => e.versionstamp).join();
}

/**
 * Resolves when the wake-up keys differ from `baseline`, when the group's
 * earliest due entry falls due, at `deadline`, or when `signal` aborts.
 *
 * @example
 * ```ts
 * import { waitForWork, wakeState } from "./long_poll.ts";
 * declare const kv: Deno.Kv;
 * declare const group: import("../groups/groups.ts").CompiledGroup;
 * const baseline = await wakeState(kv, group);
 * await waitForWork(kv, Date.now, group, { deadline: Date.now() + 1_000, baseline });
 * ```
 */
export async function waitForWork(
  kv: Deno.Kv,
  clock: () => number,
  group: CompiledGroup,
  options: { deadline: number; baseline: string; signal?: AbortSignal },
): Promise<void> {
  const { signal, baseline } = options;
  let until = options.deadline;
  for await (const entry of kv.list({ prefix: keys.dues(group.record.name) }, { limit: 1 })) {
    until = Math.min(until, entry.key[2] as number);
  }
  const reader = kv.watch(wakeKeys(group)).getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    if (signal?.aborted) return;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, until - clock()));
    });
    const changed = (async () => {
      for (;;) {
        const next = await reader.read();
        if (next.done) return;
        if (next.value.map((e) => e.versionstamp).join() !== baseline) return;
      }
    })();
    await Promise.race([timeout, changed]);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => {});
  }
}
