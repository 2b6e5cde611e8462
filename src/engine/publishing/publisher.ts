/**
 * Publishing: storing a message and making messages visible on their topic.
 * A message is visible once its entry is in the topic log; a half message is
 * stored but has no log entry until its transaction commits, so consumers can
 * never see a half, rolled-back or abandoned message.
 *
 * @module
 */
import { monotonicUlid } from "@std/ulid";
import { encodeBody } from "../../domain/body.ts";
import type { MessagePublished } from "../../domain/events.ts";
import type { MessageInput, MessageRecord } from "../../domain/message.ts";
import { DEDUP_WINDOW_MS, MAX_BATCH_MESSAGES } from "../../domain/names.ts";
import { keys } from "../../store/keys.ts";
import type { EncodedBody } from "../../domain/body.ts";
import {
  type MessageFields,
  needsStaging,
  type StagedBody,
  writeMessage,
} from "../../store/message_store.ts";
import { WriteSet } from "../../store/write_set.ts";
import { ContentionError } from "../../domain/errors.ts";
import { type EngineDeps, MAX_WRITE_ATTEMPTS } from "../deps.ts";
import { BodyUploads } from "./body_upload.ts";
import type { Topics } from "./topics.ts";

/** What publishing a normal message returns. */
export interface PublishResult {
  readonly messageId: string;
  readonly topic: string;
  readonly tag?: string;
  readonly publishedAt: number;
  /** True when `dedupId` matched an earlier message: nothing new was stored. */
  readonly duplicate: boolean;
}

/**
 * One message's outcome in a batch: its result, or the error that refused
 * it alone (the batch's other messages are not affected).
 */
export type BatchOutcome =
  | { readonly ok: true; readonly result: PublishResult }
  | { readonly ok: false; readonly error: unknown };

/** Value stored under a dedup key. */
interface DedupRecord {
  readonly messageId: string;
  readonly tag?: string;
  readonly publishedAt: number;
}

/**
 * Adds to `writes` what makes `records` visible on their topics at time `at`:
 * the topic-log entries (the committer writes one log entry per topic and
 * commit, keyed by its versionstamp, so the log is in commit order), the key
 * index and, for a transactional message, the `MessagePublished` event. A
 * normal message is published in the commit that stores it, so its record
 * and its log entry already say when; its history is read from them.
 *
 * @example
 * ```ts
 * import { makeVisible } from "./publisher.ts";
 * import { WriteSet } from "../../store/write_set.ts";
 * declare const records: import("../../domain/message.ts").MessageRecord[];
 * makeVisible(new WriteSet(), records, Date.now());
 * ```
 */
export function makeVisible(
  writes: WriteSet,
  records: readonly MessageRecord[],
  at: number,
): WriteSet {
  for (const record of records) {
    writes.makeVisible(record.topic, {
      messageId: record.messageId,
      properties: record.properties,
      publishedAt: at,
      ...(record.tag !== undefined ? { tag: record.tag } : {}),
      ...(record.delaySeconds ? { deliverAt: at + record.delaySeconds * 1000 } : {}),
      ...(record.messageGroup !== undefined ? { messageGroup: record.messageGroup } : {}),
      ...(record.transactionId !== undefined ? { transactionId: record.transactionId } : {}),
      ...(record.bodySize > 0 ? { bodySize: record.bodySize } : {}),
    });
    for (const key of new Set(record.keys)) {
      writes.set(keys.byKey(record.topic, key, record.messageId), record.messageId);
    }
    const published: MessagePublished = {
      type: "MessagePublished",
      data: {
        topic: record.topic,
        ...(record.tag !== undefined ? { tag: record.tag } : {}),
        ...(record.transactionId !== undefined ? { transactionId: record.transactionId } : {}),
      },
      at,
    };
    // Unchecked: the transaction stream's own check rules out a second one.
    if (record.transactionId !== undefined) {
      writes.set(keys.event("msg", record.messageId, 1), published);
    }
  }
  return writes;
}

/**
 * The message fields common to normal and half messages.
 *
 * @example
 * ```ts
 * import { messageFields } from "./publisher.ts";
 * messageFields("m1", "Trade", { tag: "Ops" }, 0);
 * ```
 */
export function messageFields(
  messageId: string,
  topic: string,
  input: MessageInput,
  storedAt: number,
  transactionId?: string,
): MessageFields {
  return {
    messageId,
    topic,
    keys: input.keys ?? [],
    properties: input.properties ?? {},
    storedAt,
    ...(input.tag !== undefined ? { tag: input.tag } : {}),
    ...(input.delaySeconds ? { delaySeconds: input.delaySeconds } : {}),
    ...(input.messageGroup !== undefined ? { messageGroup: input.messageGroup } : {}),
    ...(input.dedupId !== undefined ? { dedupId: input.dedupId } : {}),
    ...(transactionId !== undefined ? { transactionId } : {}),
  };
}

/** Dedup keys one `getMany` reads (Deno KV's limit). */
const DEDUP_READ_CHUNK = 10;

/** A message of a batch ready for its first commit. */
interface Prepared {
  readonly index: number;
  readonly input: MessageInput;
  readonly body: EncodedBody;
}

/**
 * Publishing normal (non-transactional) messages.
 *
 * @example
 * ```ts
 * import { Publisher } from "./publisher.ts";
 * declare const publisher: Publisher;
 * const result = await publisher.publish("Trade", { tag: "Ops", body: { id: 1 } });
 * ```
 */
export class Publisher {
  readonly #deps: EngineDeps;
  readonly #topics: Topics;
  readonly #uploads: BodyUploads;

  /** Creates the use case over the engine's collaborators. */
  constructor(deps: EngineDeps, topics: Topics) {
    this.#deps = deps;
    this.#topics = topics;
    this.#uploads = new BodyUploads(deps);
  }

  /**
   * Stores a message and makes it visible in one commit (a body over 256
   * KiB is staged in commits of its own first; see {@linkcode BodyUploads}).
   * The same `dedupId` on the same topic within 24 h returns the first
   * message, stores nothing.
   */
  async publish(topic: string, input: MessageInput): Promise<PublishResult> {
    await this.#topics.require(topic);
    return await this.#publishOne(topic, input, encodeBody(input));
  }

  /**
   * Publishes many messages to one topic, each as {@linkcode publish} would
   * (its own id, its own dedup answer), with their first attempts queued
   * together so they share as few group commits as Deno KV's limits allow.
   * Each message succeeds or fails alone: an invalid body, a value KV
   * refuses or a lost dedup race is that message's outcome only. Two
   * messages with the same `dedupId` behave as if sent one after the other
   * (the later is a duplicate of the earlier). Every outcome follows its
   * message's commit. The missing topic fails the whole call (NotFound).
   *
   * @param topic The topic every message goes to.
   * @param inputs The messages, at most {@linkcode MAX_BATCH_MESSAGES}.
   * @returns One outcome per message, in order.
   * @throws {RangeError} with more than {@linkcode MAX_BATCH_MESSAGES} messages.
   *
   * @example
   * ```ts
   * import { Publisher } from "./publisher.ts";
   * declare const publisher: Publisher;
   * const outcomes = await publisher.publishBatch("Trade", [{ body: 1 }, { body: 2 }]);
   * console.log(outcomes.every((o) => o.ok));
   * ```
   */
  async publishBatch(topic: string, inputs: readonly MessageInput[]): Promise<BatchOutcome[]> {
    if (inputs.length > MAX_BATCH_MESSAGES) {
      throw new RangeError(
        `Cannot publish a batch: it has ${inputs.length} messages, the limit is ${MAX_BATCH_MESSAGES}`,
      );
    }
    await this.#topics.require(topic);
    const outcomes = new Array<Promise<BatchOutcome>>(inputs.length);
    const settled = (promise: Promise<PublishResult>): Promise<BatchOutcome> =>
      promise.then((result) => ({ ok: true, result }), (error) => ({ ok: false, error }));
    // The first of each dedup id takes the shared path; a repeat waits for it, then runs alone.
    const firstOfDedup = new Map<string, number>();
    const shared: Prepared[] = [];
    const repeats: (Prepared & { readonly earlier: number })[] = [];
    inputs.forEach((input, index) => {
      let body: EncodedBody;
      try {
        body = encodeBody(input);
      } catch (error) {
        outcomes[index] = Promise.resolve({ ok: false, error });
        return;
      }
      const earlier = input.dedupId !== undefined ? firstOfDedup.get(input.dedupId) : undefined;
      if (earlier !== undefined) {
        repeats.push({ index, input, body, earlier });
        firstOfDedup.set(input.dedupId!, index);
        return;
      }
      if (input.dedupId !== undefined) firstOfDedup.set(input.dedupId, index);
      // A body staged in commits of its own gains nothing from sharing.
      if (needsStaging(body)) outcomes[index] = settled(this.#publishOne(topic, input, body));
      else shared.push({ index, input, body });
    });
    const sharedOutcomes = this.#publishShared(topic, shared);
    shared.forEach((item, k) => (outcomes[item.index] = sharedOutcomes[k]!));
    // In index order, so the earlier message a repeat waits for has its outcome already.
    for (const { index, input, body, earlier } of repeats) {
      outcomes[index] = outcomes[earlier]!.then(() =>
        settled(this.#publishOne(topic, input, body))
      );
    }
    return await Promise.all(outcomes);
  }

  /** The first attempts of `items` in shared commits; a lost check retries alone. */
  #publishShared(topic: string, items: readonly Prepared[]): Promise<BatchOutcome>[] {
    const { clock, committer } = this.#deps;
    const seen = this.#readDedup(topic, items);
    const built = seen.then((entries) => {
      const at = clock();
      return items.map((item, k) => {
        const entry = entries[k];
        if (entry?.value && at - entry.value.publishedAt < DEDUP_WINDOW_MS) {
          return { duplicate: { ...entry.value, topic, duplicate: true } as PublishResult };
        }
        return this.#build(topic, item.input, item.body, monotonicUlid(), at, entry?.versionstamp);
      });
    });
    const commits = built.then((all) => {
      const writes = all.flatMap((b) => "op" in b ? [b.op] : []);
      const promises = committer.commitAll(writes);
      let next = 0;
      return all.map((b) => "op" in b ? promises[next++]! : undefined);
    });
    // A failed dedup read reaches every message through `built`; this one is not awaited then.
    commits.catch(() => {});
    return items.map(async (item, k): Promise<BatchOutcome> => {
      try {
        const b = (await built)[k]!;
        if ("duplicate" in b) return { ok: true, result: b.duplicate };
        if (await (await commits)[k]!) return { ok: true, result: b.result };
        // The dedup check lost: the single path re-reads and answers the winner.
        return { ok: true, result: await this.#publishOne(topic, item.input, item.body) };
      } catch (error) {
        return { ok: false, error };
      }
    });
  }

  /** The dedup entries of `items` (undefined for one without a dedup id), read ten at a time. */
  async #readDedup(
    topic: string,
    items: readonly Prepared[],
  ): Promise<(Deno.KvEntryMaybe<DedupRecord> | undefined)[]> {
    const { kv } = this.#deps;
    const wanted = items.flatMap((item, k) =>
      item.input.dedupId !== undefined ? [{ k, key: keys.dedup(topic, item.input.dedupId) }] : []
    );
    const entries = new Array<Deno.KvEntryMaybe<DedupRecord> | undefined>(items.length);
    const chunks: Promise<void>[] = [];
    for (let i = 0; i < wanted.length; i += DEDUP_READ_CHUNK) {
      const chunk = wanted.slice(i, i + DEDUP_READ_CHUNK);
      chunks.push(
        kv.getMany<DedupRecord[]>(chunk.map((w) => w.key)).then((read) =>
          read.forEach((entry, j) => (entries[chunk[j]!.k] = entry))
        ),
      );
    }
    await Promise.all(chunks);
    return entries;
  }

  /**
   * The writes that store and publish one message (with its dedup record,
   * checked at `seenVersion`), and what it answers once they committed.
   */
  #build(
    topic: string,
    input: MessageInput,
    body: EncodedBody,
    messageId: string,
    at: number,
    seenVersion: string | null | undefined,
    staged?: StagedBody,
  ): { op: WriteSet; result: PublishResult } {
    const op = new WriteSet();
    const record = writeMessage(op, messageFields(messageId, topic, input, at), body, staged);
    // Receives here take it from memory once it is stored (see RecentRecords).
    op.onCommitted(() => this.#deps.recent.remember(record));
    if (input.dedupId !== undefined) {
      const dedupKey = keys.dedup(topic, input.dedupId);
      const dedup: DedupRecord = {
        messageId,
        publishedAt: at,
        ...(input.tag !== undefined ? { tag: input.tag } : {}),
      };
      op.check({ key: dedupKey, versionstamp: seenVersion ?? null })
        .set(dedupKey, dedup, { expireIn: DEDUP_WINDOW_MS });
    }
    makeVisible(op, [record], at);
    const result: PublishResult = {
      messageId,
      topic,
      publishedAt: at,
      duplicate: false,
      ...(input.tag !== undefined ? { tag: input.tag } : {}),
    };
    return { op, result };
  }

  /** Publishes one message of an existing topic, retrying a lost dedup check. */
  async #publishOne(topic: string, input: MessageInput, body: EncodedBody): Promise<PublishResult> {
    const { kv, clock, committer } = this.#deps;
    const dedupKey = input.dedupId !== undefined ? keys.dedup(topic, input.dedupId) : undefined;
    let staged: StagedBody | undefined;
    let committed = false;
    try {
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        // expireIn deletes lazily, so an expired entry may still be read: compare the time too.
        const seen = dedupKey ? await kv.get<DedupRecord>(dedupKey) : undefined;
        if (seen?.value && clock() - seen.value.publishedAt < DEDUP_WINDOW_MS) {
          return { ...seen.value, topic, duplicate: true };
        }
        // A staged body keeps its message id through the attempts: its chunks are under it.
        const messageId = staged?.messageId ?? monotonicUlid();
        staged ??= await this.#uploads.stageIfLarge(messageId, body);
        const { op, result } = this.#build(
          topic,
          input,
          body,
          messageId,
          clock(),
          seen?.versionstamp,
          staged,
        );
        if (await committer.commit(op)) {
          committed = true;
          return result;
        }
        // The dedup check lost (loop to return the winner's message), or the upload was collected.
        await this.#uploads.requireStaged(staged, `publish to ${topic}`);
      }
    } finally {
      if (staged && !committed) await this.#uploads.discard(staged);
    }
    throw new ContentionError(`Cannot publish to ${topic}: its dedup id keeps changing, try again`);
  }
}
