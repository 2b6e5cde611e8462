/**
 * Topics and producer groups: the named things messages are published to and
 * check-backs are sent for.
 *
 * @module
 */
import { ContentionError, NotFoundError } from "../../domain/errors.ts";
import { keys } from "../../store/keys.ts";
import type { Writes } from "../../store/write_set.ts";
import { type EngineDeps, MAX_WRITE_ATTEMPTS } from "../deps.ts";
import { commit } from "../../store/commit.ts";

/** A topic as stored. */
export interface TopicRecord {
  readonly name: string;
  readonly createdAt: number;
}

/** Counters kept per topic. */
export const TOPIC_COUNTERS = ["published", "prepared", "committed", "rolledBack"] as const;

/** One of {@linkcode TOPIC_COUNTERS}. */
export type TopicCounter = typeof TOPIC_COUNTERS[number];

/** A topic with its message counts. */
export interface TopicView extends TopicRecord {
  readonly counts: Record<TopicCounter, number>;
}

/** A producer group as stored. */
export interface ProducerGroupRecord {
  readonly name: string;
  /** Where check-backs go for its transactions that carry no `checkUrl` of their own. */
  readonly checkUrl?: string;
  /** Signs every check-back of its transactions (`Escrow-Signature`); never shown. */
  readonly secret?: string;
  readonly updatedAt: number;
}

/** What `PUT /v1/producer-groups/{group}` sets: the whole group, replaced. */
export interface ProducerGroupInput {
  readonly checkUrl?: string;
  readonly secret?: string;
}

/**
 * Adds `n` to a topic counter in `op` (a conflict-free KV sum).
 *
 * @example
 * ```ts
 * import { countIn } from "./topics.ts";
 * using kv = await Deno.openKv(":memory:");
 * await countIn(kv.atomic(), "Trade", "published").commit();
 * ```
 */
export function countIn<W extends Writes>(
  op: W,
  topic: string,
  counter: TopicCounter,
  n = 1,
): W {
  return op.sum(keys.counter(topic, counter), BigInt(n));
}

/**
 * Creating, reading and listing topics and producer groups.
 *
 * @example
 * ```ts
 * import { Topics } from "./topics.ts";
 * declare const topics: Topics;
 * const { created } = await topics.create("Trade");
 * ```
 */
export class Topics {
  readonly #deps: EngineDeps;
  readonly #known = new Map<string, TopicRecord>();

  /** Creates the use cases over the engine's collaborators. */
  constructor(deps: EngineDeps) {
    this.#deps = deps;
  }

  /** Creates a topic unless it exists; tells which happened. */
  async create(name: string): Promise<{ topic: TopicRecord; created: boolean }> {
    const { kv, clock } = this.#deps;
    const topic: TopicRecord = { name, createdAt: clock() };
    const result = await commit(
      kv.atomic().check({ key: keys.topic(name), versionstamp: null }).set(keys.topic(name), topic),
    );
    if (result.ok) return { topic, created: true };
    return { topic: await this.require(name), created: false };
  }

  /**
   * Reads a topic or throws {@linkcode NotFoundError}. Topics are never
   * deleted, so one found stays cached: publishing does not read it again.
   */
  async require(name: string): Promise<TopicRecord> {
    const cached = this.#known.get(name);
    if (cached) return cached;
    const entry = await this.#deps.kv.get<TopicRecord>(keys.topic(name));
    if (!entry.value) throw new NotFoundError(`Cannot find topic: ${name}`, { topic: name });
    this.#known.set(name, entry.value);
    return entry.value;
  }

  /** Reads a topic with its counts. */
  async view(name: string): Promise<TopicView> {
    const topic = await this.require(name);
    const entries = await this.#deps.kv.getMany<Deno.KvU64[]>(
      TOPIC_COUNTERS.map((counter) => keys.counter(name, counter)),
    );
    const counts = Object.fromEntries(
      TOPIC_COUNTERS.map((counter, i) => [counter, Number(entries[i]?.value?.value ?? 0n)]),
    ) as Record<TopicCounter, number>;
    return { ...topic, counts };
  }

  /** Lists every topic by name. */
  async list(): Promise<TopicRecord[]> {
    const topics: TopicRecord[] = [];
    for await (const entry of this.#deps.kv.list<TopicRecord>({ prefix: keys.topics() })) {
      topics.push(entry.value);
    }
    return topics;
  }

  /**
   * Sets a producer group (where its check-backs go, the secret that signs
   * them), replacing what it had; tells whether it was new. A `checkUrl` the
   * outbound policy refuses is a 400 and stores nothing.
   */
  async setProducerGroup(
    name: string,
    input: ProducerGroupInput,
  ): Promise<{ group: ProducerGroupRecord; created: boolean }> {
    const { kv, clock, outbound } = this.#deps;
    if (input.checkUrl !== undefined) await outbound.check(input.checkUrl, "checkUrl");
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const group: ProducerGroupRecord = {
        name,
        ...(input.checkUrl !== undefined ? { checkUrl: input.checkUrl } : {}),
        ...(input.secret !== undefined ? { secret: input.secret } : {}),
        updatedAt: clock(),
      };
      const previous = await kv.get(keys.producerGroup(name));
      // Checked: of two creating it at once, one is told "created" and the other "updated".
      const result = await commit(kv.atomic().check(previous).set(keys.producerGroup(name), group));
      if (result.ok) return { group, created: previous.versionstamp === null };
    }
    throw new ContentionError(`Cannot save producer group ${name}: it keeps changing, try again`);
  }

  /** Reads a producer group, or undefined. */
  async producerGroup(name: string): Promise<ProducerGroupRecord | undefined> {
    const entry = await this.#deps.kv.get<ProducerGroupRecord>(keys.producerGroup(name));
    return entry.value ?? undefined;
  }
}
