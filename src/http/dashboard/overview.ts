/**
 * What the dashboard's overview shows, read through the broker's own read
 * APIs: topics with their counts and publish rates, groups with their
 * delivery counts and lag, open transactions by state, and dead letters.
 *
 * @module
 */
import { NotFoundError } from "../../domain/errors.ts";
import type { Broker } from "../../engine/broker.ts";
import type { DeadLetterRecord } from "../../engine/delivery/mod.ts";
import type { GroupStats } from "../../engine/groups/mod.ts";
import type { TopicCounter } from "../../engine/publishing/topics.ts";
import type { TransactionView } from "../../engine/transactions/transactions.ts";
import { type AlertStatus, alertStatus } from "./alert_status.ts";
import type { RateMeter } from "./rate_meter.ts";

/** How many open transactions of one state, and dead letters of one group, are listed. */
export const LIST_LIMIT = 25;

/** A topic row. */
export interface TopicRow {
  readonly name: string;
  readonly counts: Record<TopicCounter, number>;
  /** Messages made visible per second, undefined until there are two samples. */
  readonly rate?: number;
}

/** A group row. */
export interface GroupRow {
  readonly name: string;
  readonly mode: "pull" | "push";
  readonly topics: readonly string[];
  readonly stats: GroupStats;
  /** How long the oldest message the group has not taken yet has waited (ms); 0 when none. */
  readonly lagMs: number;
}

/** Open transactions of one state, the first {@linkcode LIST_LIMIT}. */
export interface OpenTransactions {
  readonly state: "prepared" | "executing" | "checking";
  readonly transactions: readonly TransactionView[];
  /** More exist than are listed. */
  readonly more: boolean;
}

/** A group's dead letters, the first {@linkcode LIST_LIMIT}. */
export interface GroupDeadLetters {
  readonly group: string;
  readonly messages: readonly DeadLetterRecord[];
  readonly more: boolean;
  /** Per message, where its alert stands; only for a group with an `alertUrl`. */
  readonly alerts?: Readonly<Record<string, AlertStatus>>;
}

/**
 * Alerts already sent, by `messageId:seq` of the dead letter: a sent alert
 * stays sent, so a live page reads each one's history once.
 */
export type SentAlerts = Map<string, AlertStatus>;

/** Everything on the overview at one moment. */
export interface Overview {
  readonly at: number;
  readonly topics: readonly TopicRow[];
  readonly groups: readonly GroupRow[];
  readonly open: readonly OpenTransactions[];
  readonly committed: number;
  readonly rolledBack: number;
  /** Prepared and not decided yet, across topics. */
  readonly undecided: number;
  readonly deadLetters: readonly GroupDeadLetters[];
}

/**
 * Reads the overview; with a `meter`, samples the topics' counters into it
 * and fills in their rates; `sentAlerts` remembers alerts known to be sent.
 *
 * @example
 * ```ts
 * import { readOverview } from "./overview.ts";
 * import { Broker } from "../../engine/broker.ts";
 * using kv = await Deno.openKv(":memory:");
 * const overview = await readOverview(await Broker.open(kv), Date.now());
 * console.log(overview.topics.length); // 0
 * ```
 */
export async function readOverview(
  broker: Broker,
  now: number,
  meter?: RateMeter,
  sentAlerts: SentAlerts = new Map(),
): Promise<Overview> {
  const [topics, groups, open, deadLetters] = await Promise.all([
    Promise.all((await broker.topics.list()).map((t) => broker.topics.view(t.name))),
    readGroups(broker, now),
    Promise.all((["prepared", "executing", "checking"] as const).map(async (state) => {
      const transactions = await broker.transactions.list({ state, limit: LIST_LIMIT + 1 });
      return {
        state,
        transactions: transactions.slice(0, LIST_LIMIT),
        more: transactions.length > LIST_LIMIT,
      };
    })),
    readDeadLetters(broker, sentAlerts),
  ]);
  meter?.observe(now, Object.fromEntries(topics.map((t) => [t.name, t.counts.published])));
  const sum = (counter: TopicCounter) => topics.reduce((n, t) => n + t.counts[counter], 0);
  const committed = sum("committed");
  const rolledBack = sum("rolledBack");
  return {
    at: now,
    topics: topics.map((t) => {
      const rate = meter?.rate(t.name);
      return { name: t.name, counts: t.counts, ...(rate !== undefined ? { rate } : {}) };
    }),
    groups,
    open,
    committed,
    rolledBack,
    undecided: Math.max(0, sum("prepared") - committed - rolledBack),
    deadLetters,
  };
}

async function readGroups(broker: Broker, now: number): Promise<GroupRow[]> {
  const records = await broker.groups.list();
  const rows = await Promise.all(records.map(async (record): Promise<GroupRow | undefined> => {
    try {
      const [stats, compiled] = await Promise.all([
        broker.groups.stats(record.name),
        broker.groups.compiled(record.name),
      ]);
      let oldest = Infinity;
      for (const subscription of compiled.subscriptions) {
        const cursor = await broker.groups.cursor(record.id, subscription.topic);
        for await (const { entry } of broker.groups.readLog(subscription.topic, cursor)) {
          if (!subscription.matches(entry.tag, entry.properties)) continue;
          oldest = Math.min(oldest, entry.publishedAt);
          break; // the log is in publishing order: the first match is the oldest
        }
      }
      return {
        name: record.name,
        mode: record.delivery.mode,
        topics: compiled.subscriptions.map((s) => s.topic),
        stats,
        lagMs: oldest === Infinity ? 0 : Math.max(0, now - oldest),
      };
    } catch (error) {
      if (error instanceof NotFoundError) return undefined; // deleted while we read it
      throw error;
    }
  }));
  return rows.filter((row): row is GroupRow => row !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function readDeadLetters(
  broker: Broker,
  sentAlerts: SentAlerts,
): Promise<GroupDeadLetters[]> {
  const groups = await broker.groups.list();
  const lists = await Promise.all(groups.map(async (group): Promise<GroupDeadLetters> => {
    try {
      const { messages, cursor } = await broker.deliveries.deadLetters(group.name, {
        limit: LIST_LIMIT,
      });
      const list = { group: group.name, messages, more: cursor !== undefined };
      if (group.alertUrl === undefined || !messages.length) return list;
      const alerts: Record<string, AlertStatus> = {};
      await Promise.all(messages.map(async (m) => {
        const key = `${group.id}:${m.messageId}:${m.seq}`;
        const known = sentAlerts.get(key);
        if (known) {
          alerts[m.messageId] = known;
          return;
        }
        const view = await broker.messages.get(m.messageId);
        const history = view.deliveries.find((d) => d.group === group.name)?.history ?? [];
        const status = alertStatus(history) ?? { state: "pending" };
        if (status.state === "sent") sentAlerts.set(key, status);
        alerts[m.messageId] = status;
      }));
      return { ...list, alerts };
    } catch (error) {
      if (error instanceof NotFoundError) return { group: group.name, messages: [], more: false };
      throw error;
    }
  }));
  return lists.filter((list) => list.messages.length > 0)
    .sort((a, b) => a.group.localeCompare(b.group));
}
