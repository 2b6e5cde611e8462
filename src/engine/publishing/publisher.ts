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
import { DEDUP_WINDOW_MS } from "../../domain/names.ts";
import { keys } from "../../store/keys.ts";
import { type MessageFields, type StagedBody, writeMessage } from "../../store/message_store.ts";
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
    const { kv, clock, committer } = this.#deps;
    await this.#topics.require(topic);
    const body = encodeBody(input);
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
        const at = clock();
        const op = new WriteSet();
        const record = writeMessage(op, messageFields(messageId, topic, input, at), body, staged);
        if (dedupKey) {
          const dedup: DedupRecord = {
            messageId,
            publishedAt: at,
            ...(input.tag !== undefined ? { tag: input.tag } : {}),
          };
          op.check({ key: dedupKey, versionstamp: seen?.versionstamp ?? null })
            .set(dedupKey, dedup, { expireIn: DEDUP_WINDOW_MS });
        }
        makeVisible(op, [record], at);
        if (await committer.commit(op)) {
          committed = true;
          return {
            messageId,
            topic,
            publishedAt: at,
            duplicate: false,
            ...(input.tag !== undefined ? { tag: input.tag } : {}),
          };
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
