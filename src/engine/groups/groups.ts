/**
 * Consumer groups: their configuration, their position in each subscribed
 * topic's log, and their delivery counts. A new group (or a topic newly added
 * to a group) starts at the end of the topic's log: it receives what is
 * committed after it subscribed. Updating a group keeps its position.
 *
 * @module
 */
import { monotonicUlid } from "@std/ulid";
import { ContentionError, NotFoundError, ValidationError } from "../../domain/errors.ts";
import type { LogEntry } from "../../domain/message.ts";
import {
  DEFAULT_MAX_RETRIES,
  DEFAULT_RETRY_DELAYS_SECONDS,
  type RetryPolicy,
} from "../../domain/retry_policy.ts";
import {
  compileSubscription,
  type Subscription,
  type SubscriptionSpec,
} from "../../domain/subscription.ts";
import { commit } from "../../store/commit.ts";
import { counterValue } from "../../store/counters.ts";
import { keys } from "../../store/keys.ts";
import { type EngineDeps, MAX_WRITE_ATTEMPTS } from "../deps.ts";
import type { Topics } from "../publishing/topics.ts";

/** How a group gets its messages. */
export type DeliveryConfig =
  | { readonly mode: "pull" }
  | {
    readonly mode: "push";
    readonly url: string;
    readonly secret?: string;
    readonly timeoutSeconds: number;
    readonly maxConcurrency: number;
  };

/** What a client sets on a group (defaults filled in). */
export interface GroupConfig extends RetryPolicy {
  readonly subscriptions: readonly SubscriptionSpec[];
  readonly delivery: DeliveryConfig;
  readonly visibilityTimeoutSeconds: number;
  readonly ordered: boolean;
  /** Receives a signed POST for every message the group dead-letters. */
  readonly alertUrl?: string;
  /** Signs the alerts; without it they are signed with the push secret, if any. */
  readonly alertSecret?: string;
}

/** A group as stored. */
export interface GroupRecord extends GroupConfig {
  readonly name: string;
  /**
   * The incarnation: every per-group key and delivery stream is under it, so a
   * group deleted and created again under its name starts clean. Groups stored
   * before incarnations existed use their name.
   */
  readonly id: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What a client sends; every field but subscriptions has a default. */
export interface GroupInput {
  readonly subscriptions: readonly SubscriptionSpec[];
  readonly delivery?:
    | { readonly mode: "pull" }
    | {
      readonly mode: "push";
      readonly url: string;
      readonly secret?: string;
      readonly timeoutSeconds?: number;
      readonly maxConcurrency?: number;
    };
  readonly maxRetries?: number;
  readonly retryDelaysSeconds?: readonly number[];
  readonly visibilityTimeoutSeconds?: number;
  readonly ordered?: boolean;
  readonly alertUrl?: string;
  readonly alertSecret?: string;
}

/** A group's position in one topic's log: every entry before it is routed. */
export interface Cursor {
  /** Versionstamp of the log batch it points into ("" before the first). */
  readonly vs: string;
  /** Index of the next entry in that batch. */
  readonly index: number;
  /**
   * Per tag ("" for none), the topic's {@linkcode keys.tagCount} at this
   * position: the entries with that tag before it. The group's backlog in
   * the log is then the counts now minus these. Absent on a cursor made
   * before the counts were kept; its backlog is counted by reading the log.
   */
  readonly seen?: Readonly<Record<string, number>>;
}

/** Tags whose counts one read takes; a topic with more counts its backlogs by reading the log. */
export const MAX_COUNTED_TAGS = 500;

/**
 * The per-tag counts of a topic's log, read at once (one snapshot), with the
 * versionstamp of the last commit that appended to it; undefined when the
 * topic has more than {@linkcode MAX_COUNTED_TAGS} tags.
 */
export async function readTagCounts(
  kv: Deno.Kv,
  topic: string,
): Promise<{ counts: Record<string, number>; lastVs: string } | undefined> {
  const entries = await Array.fromAsync(
    kv.list<Deno.KvU64>({ prefix: keys.tagCounts(topic) }, {
      limit: MAX_COUNTED_TAGS + 1,
      batchSize: MAX_COUNTED_TAGS + 1,
    }),
  );
  if (entries.length > MAX_COUNTED_TAGS) return undefined;
  const counts: Record<string, number> = {};
  let lastVs = "";
  for (const entry of entries) {
    counts[entry.key[2] as string] = Number(entry.value.value);
    // Every log commit adds to the count of each tag it appends: the newest count's
    // versionstamp is the newest log entry's key.
    if (entry.versionstamp > lastVs) lastVs = entry.versionstamp;
  }
  return { counts, lastVs };
}

/** Delivery counts of a group. */
export interface GroupStats {
  readonly backlog: number;
  readonly inFlight: number;
  readonly retrying: number;
  readonly deadLettered: number;
  readonly acked: number;
}

/** Counters kept per group (backlog is computed). */
export const GROUP_COUNTERS = ["inFlight", "retrying", "deadLettered", "acked"] as const;

/** One of {@linkcode GROUP_COUNTERS}. */
export type GroupCounter = typeof GROUP_COUNTERS[number];

/** A group ready to route: its record and compiled subscriptions. */
export interface CompiledGroup {
  readonly record: GroupRecord;
  readonly subscriptions: readonly Subscription[];
}

/** Visibility timeout when a group sets none (RocketMQ HTTP consumers: 30 s). */
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30;

/**
 * Fills in a group's defaults and checks its subscriptions compile.
 *
 * @example
 * ```ts
 * import { normalizeGroup } from "./groups.ts";
 * normalizeGroup({ subscriptions: [{ topic: "Accompaniment", tags: "Ops" }] }).maxRetries; // 16
 * ```
 */
export function normalizeGroup(input: GroupInput): GroupConfig {
  const topics = input.subscriptions.map((s) => s.topic);
  if (new Set(topics).size !== topics.length) {
    throw new ValidationError("Cannot save group: a topic appears in two subscriptions");
  }
  input.subscriptions.forEach(compileSubscription);
  if (input.alertSecret !== undefined && input.alertUrl === undefined) {
    throw new ValidationError("Cannot save group: alertSecret is set but alertUrl is not");
  }
  const delivery: DeliveryConfig = input.delivery?.mode === "push"
    ? {
      mode: "push",
      url: input.delivery.url,
      timeoutSeconds: input.delivery.timeoutSeconds ?? 10,
      maxConcurrency: input.delivery.maxConcurrency ?? 16,
      ...(input.delivery.secret !== undefined ? { secret: input.delivery.secret } : {}),
    }
    : { mode: "pull" };
  return {
    subscriptions: input.subscriptions.map((s) => ({ ...s })),
    delivery,
    maxRetries: input.maxRetries ?? DEFAULT_MAX_RETRIES,
    retryDelaysSeconds: input.retryDelaysSeconds ?? DEFAULT_RETRY_DELAYS_SECONDS,
    visibilityTimeoutSeconds: input.visibilityTimeoutSeconds ??
      DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    ordered: input.ordered ?? false,
    ...(input.alertUrl !== undefined ? { alertUrl: input.alertUrl } : {}),
    ...(input.alertSecret !== undefined ? { alertSecret: input.alertSecret } : {}),
  };
}

/** A stored group with its incarnation id (a group stored before ids existed uses its name). */
function withId(record: GroupRecord): GroupRecord {
  return record.id === undefined ? { ...record, id: record.name } : record;
}

/**
 * Creating, reading, updating and deleting consumer groups.
 *
 * @example
 * ```ts
 * import { Groups } from "./groups.ts";
 * declare const groups: Groups;
 * await groups.put("ops", { subscriptions: [{ topic: "Accompaniment", tags: "Ops" }] });
 * ```
 */
export class Groups {
  readonly #deps: EngineDeps;
  readonly #topics: Topics;
  readonly #compiled = new Map<string, { updatedAt: number; group: CompiledGroup }>();

  /** Creates the use cases over the engine's collaborators. */
  constructor(deps: EngineDeps, topics: Topics) {
    this.#deps = deps;
    this.#topics = topics;
  }

  /** Creates or updates a group; tells whether it was new. */
  async put(name: string, input: GroupInput): Promise<{ group: GroupRecord; created: boolean }> {
    const { kv, clock, outbound } = this.#deps;
    const config = normalizeGroup(input);
    for (const { topic } of config.subscriptions) await this.#topics.require(topic);
    if (config.delivery.mode === "push") await outbound.check(config.delivery.url, "delivery.url");
    if (config.alertUrl !== undefined) await outbound.check(config.alertUrl, "alertUrl");
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const previous = await kv.get<GroupRecord>(keys.group(name));
      const now = clock();
      const old = previous.value ? withId(previous.value) : undefined;
      const group: GroupRecord = {
        ...config,
        name,
        id: old?.id ?? monotonicUlid(),
        createdAt: old?.createdAt ?? now,
        updatedAt: now,
      };
      const op = kv.atomic().check(previous).set(keys.group(name), group);
      op.sum(keys.groupsVersion(), 1n);
      const known = new Set(old?.subscriptions.map((s) => s.topic) ?? []);
      const wanted = new Set(config.subscriptions.map((s) => s.topic));
      for (const topic of wanted) {
        if (known.has(topic)) continue;
        const cursorKey = keys.cursor(group.id, topic);
        const existing = await kv.get(cursorKey);
        op.check(existing).set(cursorKey, await this.#endOfLog(topic));
      }
      for (const topic of known) if (!wanted.has(topic)) op.delete(keys.cursor(group.id, topic));
      if ((await commit(op)).ok) return { group, created: previous.versionstamp === null };
    }
    throw new ContentionError(`Cannot save group ${name}: it keeps changing, try again`);
  }

  /** Reads a group or throws {@linkcode NotFoundError}. */
  async require(name: string): Promise<GroupRecord> {
    const entry = await this.#deps.kv.get<GroupRecord>(keys.group(name));
    if (!entry.value) throw new NotFoundError(`Cannot find group: ${name}`, { group: name });
    return withId(entry.value);
  }

  /** Reads a group with its subscriptions compiled (cached per version). */
  async compiled(name: string): Promise<CompiledGroup> {
    const record = await this.require(name);
    const cached = this.#compiled.get(name);
    if (cached && cached.updatedAt === record.updatedAt && cached.group.record.id === record.id) {
      return cached.group;
    }
    const group = { record, subscriptions: record.subscriptions.map(compileSubscription) };
    this.#compiled.set(name, { updatedAt: record.updatedAt, group });
    return group;
  }

  /** Lists every group. */
  async list(): Promise<GroupRecord[]> {
    const groups: GroupRecord[] = [];
    for await (const entry of this.#deps.kv.list<GroupRecord>({ prefix: keys.groups() })) {
      groups.push(withId(entry.value));
    }
    return groups;
  }

  /**
   * Deletes a group in one commit: its record goes, and with it every key
   * under its incarnation id (positions, deliveries in progress, dead
   * letters, counters) is unreachable at once; a group created again under
   * the name gets a new id and starts clean, and the old group's receipt
   * handles settle nothing. A `groupCleanup` job collects the old keys. The
   * delivery streams stay as audit history, shown under no group.
   */
  async delete(name: string): Promise<void> {
    const { kv, scheduler, clock } = this.#deps;
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const entry = await kv.get<GroupRecord>(keys.group(name));
      if (!entry.value) throw new NotFoundError(`Cannot find group: ${name}`, { group: name });
      const { id } = withId(entry.value);
      const op = kv.atomic().check(entry).delete(keys.group(name)).sum(keys.groupsVersion(), 1n);
      scheduler.schedule(op, { kind: "groupCleanup", groupId: id }, clock());
      if ((await commit(op)).ok) {
        this.#compiled.delete(name);
        return;
      }
    }
    throw new ContentionError(`Cannot delete group ${name}: it keeps changing, try again`);
  }

  /**
   * Deletes up to `budget` keys left under a deleted group's incarnation id;
   * returns true when nothing is left.
   */
  async collect(groupId: string, budget = 2_000): Promise<boolean> {
    const { kv } = this.#deps;
    const prefixes = [
      keys.cursors(groupId),
      keys.leases(groupId),
      keys.acks(groupId),
      keys.attemptsOf(groupId),
      keys.dues(groupId),
      keys.deadLetters(groupId),
      keys.orderLocks(groupId),
      keys.orderWaits(groupId),
      keys.groupCounters(groupId),
    ];
    let deleted = 0;
    for (const prefix of prefixes) {
      let op = kv.atomic();
      let n = 0;
      for await (const entry of kv.list({ prefix }, { limit: budget - deleted + 1 })) {
        if (deleted >= budget) {
          await commit(op);
          return false;
        }
        op.delete(entry.key);
        deleted++;
        if (++n % 500 === 0) {
          await commit(op);
          op = kv.atomic();
        }
      }
      await commit(op);
    }
    await commit(kv.atomic().delete(keys.groupSignal(groupId)));
    return true;
  }

  /** Delivery counts of a group; the backlog is counted from its positions. */
  async stats(name: string): Promise<GroupStats> {
    const { kv } = this.#deps;
    const group = await this.compiled(name);
    const id = group.record.id;
    const counters = await kv.getMany<Deno.KvU64[]>(
      GROUP_COUNTERS.map((counter) => keys.groupCounter(id, counter)),
    );
    const [inFlight, retrying, deadLettered, acked] = counters.map((c) => counterValue(c.value));
    let backlog = 0;
    for await (const entry of kv.list<{ retry: boolean }>({ prefix: keys.dues(id) })) {
      if (!entry.value.retry) backlog++;
    }
    for await (const _ of kv.list({ prefix: keys.orderWaits(id) })) backlog++;
    for (const subscription of group.subscriptions) {
      backlog += await this.logBacklog(id, subscription);
    }
    return {
      backlog,
      inFlight: inFlight ?? 0,
      retrying: retrying ?? 0,
      deadLettered: deadLettered ?? 0,
      acked: acked ?? 0,
    };
  }

  /**
   * The entries of a subscription's topic log the group incarnation
   * `groupId` has not routed yet and will get: from the topic's per-tag
   * counts and the cursor's, without reading the log, for a tag
   * subscription whose cursor keeps counts; else by reading the log from
   * the cursor on (an SQL92 filter looks at properties).
   */
  async logBacklog(groupId: string, subscription: Subscription): Promise<number> {
    const cursor = await this.cursor(groupId, subscription.topic);
    if (subscription.byTag && cursor.seen) {
      const now = await readTagCounts(this.#deps.kv, subscription.topic);
      if (now) {
        let backlog = 0;
        for (const [tag, count] of Object.entries(now.counts)) {
          if (subscription.matches(tag === "" ? undefined : tag, {})) {
            backlog += count - (cursor.seen[tag] ?? 0);
          }
        }
        return backlog;
      }
    }
    let backlog = 0;
    for await (const { entry } of this.readLog(subscription.topic, cursor)) {
      if (subscription.matches(entry.tag, entry.properties)) backlog++;
    }
    return backlog;
  }

  /** The position of the group incarnation `groupId` in a topic's log. */
  async cursor(groupId: string, topic: string): Promise<Cursor> {
    const entry = await this.#deps.kv.get<Cursor>(keys.cursor(groupId, topic));
    return entry.value ?? { vs: "", index: 0 };
  }

  /**
   * Reads a topic's log from `cursor` on, entry by entry, with the position
   * of each entry and the position after it. A log value holds every message
   * of one commit, and Deno KV decodes each value a list fetches, read or
   * not: so the first fetch takes two values (what a receive near the head
   * of the log needs) and each next one four times as many, up to 100, for
   * a long scan.
   */
  async *readLog(
    topic: string,
    cursor: Cursor,
  ): AsyncGenerator<{ entry: LogEntry; at: Cursor; next: Cursor }> {
    const end = [...keys.topicLog(topic), "\uffff"];
    let start: Deno.KvKey = [...keys.topicLog(topic), cursor.vs];
    for (let fetch = 2;; fetch = Math.min(fetch * 4, 100)) {
      const batches = await Array.fromAsync(
        this.#deps.kv.list<LogEntry[]>({ start, end }, { limit: fetch, batchSize: fetch }),
      );
      for (const batch of batches) {
        const vs = batch.key[2] as string;
        const from = vs === cursor.vs ? cursor.index : 0;
        for (let index = from; index < batch.value.length; index++) {
          yield {
            entry: batch.value[index]!,
            at: { vs, index },
            next: { vs, index: index + 1 },
          };
        }
      }
      if (batches.length < fetch) return;
      start = [...keys.topicLog(topic), `${batches.at(-1)!.key[2] as string}\u0000`];
    }
  }

  /**
   * The end of a topic's log: after its last entry, with the topic's tag
   * counts there when it keeps them (read in one snapshot, so the position
   * and the counts agree without a check that concurrent publishes would
   * keep failing).
   */
  async #endOfLog(topic: string): Promise<Cursor> {
    const { kv } = this.#deps;
    const counted = await readTagCounts(kv, topic);
    if (counted && counted.lastVs !== "") {
      const last = await kv.get<LogEntry[]>([...keys.topicLog(topic), counted.lastVs]);
      if (last.value) {
        return { vs: counted.lastVs, index: last.value.length, seen: counted.counts };
      }
    }
    // An empty log with counts kept from now on: every entry to come is counted. A log
    // written before counts were kept gives a cursor without them.
    const last = await this.#lastOfLog(topic);
    return counted && last.vs === "" ? { ...last, seen: {} } : last;
  }

  /** After the last entry of a topic's log, without counts. */
  async #lastOfLog(topic: string): Promise<Cursor> {
    const iter = this.#deps.kv.list<LogEntry[]>({ prefix: keys.topicLog(topic) }, {
      reverse: true,
      limit: 1,
    });
    for await (const last of iter) return { vs: last.key[2] as string, index: last.value.length };
    return { vs: "", index: 0 };
  }
}
