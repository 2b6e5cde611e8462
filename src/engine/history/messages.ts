/**
 * Reading messages back: one by id, with its body, its transaction and its
 * event history, or the messages carrying a key, newest first.
 *
 * @module
 */
import { decodeBody, type WireBody } from "../../domain/body.ts";
import { NotFoundError } from "../../domain/errors.ts";
import { getInitialSnapshot } from "xstate";
import { pureTransition } from "../../../machines/pure_transition.ts";
import { deliveryMachine, type DeliveryState } from "../../../machines/delivery.ts";
import type { DeliveryEvent, MessageEvent, StoredEvent } from "../../domain/events.ts";
import type { MessageRecord } from "../../domain/message.ts";
import { keys } from "../../store/keys.ts";
import { readBody, readMessage } from "../../store/message_store.ts";
import type { EngineDeps } from "../deps.ts";
import { deliveryHistory, once } from "../delivery/history.ts";
import { logVersionstamp } from "../delivery/first_attempts.ts";
import type { Groups } from "../groups/mod.ts";
import type { Topics } from "../publishing/topics.ts";
import type { Transactions, TransactionView } from "../transactions/transactions.ts";

/**
 * Most body bytes one listing by key returns (about 5.6 MiB of JSON when
 * base64): a 4 MiB body each, a thousand at once, would not fit in memory.
 */
export const MAX_LIST_BODY_BYTES = 4 * 1024 * 1024;

/** A message as the API shows it. */
export interface MessageView extends WireBody {
  readonly messageId: string;
  readonly topic: string;
  readonly tag?: string;
  readonly keys: readonly string[];
  readonly properties: Readonly<Record<string, string>>;
  readonly storedAt: number;
  /** When consumers could first see it; absent while it is not visible. */
  readonly publishedAt?: number;
  readonly delaySeconds?: number;
  readonly messageGroup?: string;
  readonly dedupId?: string;
  readonly transactionId?: string;
  readonly transaction?: TransactionView;
  readonly history: readonly StoredEvent[];
  /** Per consumer group: where its delivery stands and how it got there. */
  readonly deliveries: readonly DeliveryView[];
}

/** One consumer group's delivery of a message. */
export interface DeliveryView {
  readonly group: string;
  readonly state: DeliveryState;
  readonly attempts: readonly { attempt: number; at: number; error?: string }[];
  readonly ackedAt?: number;
  readonly deadLetteredAt?: number;
  readonly history: readonly StoredEvent[];
}

/**
 * Replays one delivery stream into its view.
 *
 * @example
 * ```ts
 * import { deliveryView } from "./messages.ts";
 * deliveryView("ops", []).state; // "pending"
 * ```
 */
export function deliveryView(group: string, events: readonly DeliveryEvent[]): DeliveryView {
  let snapshot = getInitialSnapshot(deliveryMachine);
  const attempts: { attempt: number; at: number; error?: string }[] = [];
  let ackedAt: number | undefined;
  let deadLetteredAt: number | undefined;
  for (const event of events) {
    [snapshot] = pureTransition(deliveryMachine, snapshot, event);
    switch (event.type) {
      case "DeliveryAttempted":
        attempts.push({ attempt: event.data.attempt, at: event.at });
        break;
      case "DeliveryFailed":
      case "DeliveryDeadLettered": {
        const last = attempts.at(-1);
        if (last) last.error = event.data.error;
        if (event.type === "DeliveryDeadLettered") deadLetteredAt = event.at;
        break;
      }
      case "DeliveryAcked":
        ackedAt = event.at;
        break;
      default:
        break;
    }
  }
  return {
    group,
    state: snapshot.value as DeliveryState,
    attempts,
    history: events,
    ...(ackedAt !== undefined ? { ackedAt } : {}),
    ...(deadLetteredAt !== undefined ? { deadLetteredAt } : {}),
  };
}

/**
 * Message queries.
 *
 * @example
 * ```ts
 * import { Messages } from "./messages.ts";
 * declare const messages: Messages;
 * const recent = await messages.byKey("Trade", "order-1", 10);
 * ```
 */
export class Messages {
  readonly #deps: EngineDeps;
  readonly #topics: Topics;
  readonly #transactions: Transactions;
  readonly #groups: Groups;

  /** Creates the queries over the engine's collaborators. */
  constructor(deps: EngineDeps, topics: Topics, transactions: Transactions, groups: Groups) {
    this.#deps = deps;
    this.#topics = topics;
    this.#transactions = transactions;
    this.#groups = groups;
  }

  /** Reads one message with its body, transaction and history. */
  async get(messageId: string): Promise<MessageView> {
    const { kv, store } = this.#deps;
    const record = await readMessage(kv, messageId);
    if (!record) throw new NotFoundError(`Cannot find message: ${messageId}`, { messageId });
    const [bytes, { events }, transaction] = await Promise.all([
      readBody(kv, record),
      store.read<MessageEvent>({ kind: "msg", id: messageId }),
      record.transactionId !== undefined
        ? this.#transactions.get(record.transactionId)
        : Promise.resolve(undefined),
    ]);
    // A normal message is published by the commit that stores it (see makeVisible).
    const history: MessageEvent[] = record.transactionId !== undefined ? events : [{
      type: "MessagePublished",
      data: { topic: record.topic, ...(record.tag !== undefined ? { tag: record.tag } : {}) },
      at: record.storedAt,
    }];
    const published = history.find((event) => event.type === "MessagePublished");
    return {
      ...this.#fields(record),
      ...decodeBody(record.bodyEncoding, bytes),
      ...(published ? { publishedAt: published.at } : {}),
      ...(transaction ? { transaction } : {}),
      history,
      deliveries: published ? await this.#deliveries(record) : [],
    };
  }

  /**
   * The deliveries that have begun: one per current group that attempted the
   * message. A group that has not reached it yet has no events and is not
   * listed; nor is a deleted group (its streams stay, under its old
   * incarnation id, as audit history).
   */
  async #deliveries(record: MessageRecord): Promise<DeliveryView[]> {
    const { kv } = this.#deps;
    const groups = await this.#groups.list();
    const stored = new Map<string, Deno.KvEntry<DeliveryEvent>[]>();
    const iter = kv.list<DeliveryEvent>({
      start: keys.stream("dlv", `${record.messageId}:`),
      end: keys.stream("dlv", `${record.messageId};`),
    });
    for await (const entry of iter) {
      const groupId = (entry.key[2] as string).slice(record.messageId.length + 1);
      const events = stored.get(groupId) ?? [];
      events.push(entry);
      stored.set(groupId, events);
    }
    // A delivery's first attempt may be in its round's first-attempts record, and its
    // acked event in its lease's ack record, rather than in its stream (history.ts).
    const versionstamp = once(() => logVersionstamp(kv, record.messageId));
    const views = await Promise.all(groups.map(async ({ id, name }) => {
      const events = await deliveryHistory(kv, id, record, stored.get(id) ?? [], versionstamp);
      return events.length > 0 ? deliveryView(name, events) : undefined;
    }));
    return views.filter((v) => v !== undefined).sort((a, b) => a.group.localeCompare(b.group));
  }

  /**
   * Lists visible messages of `topic` carrying `key`, newest first: at most
   * `limit`, and no more than {@linkcode MAX_LIST_BODY_BYTES} of bodies (at
   * least one message; read the others by id).
   */
  async byKey(topic: string, key: string, limit = 100): Promise<MessageView[]> {
    await this.#topics.require(topic);
    const views: MessageView[] = [];
    const iter = this.#deps.kv.list<string>({ prefix: keys.byKeyPrefix(topic, key) }, {
      reverse: true,
      limit,
    });
    let bytes = 0;
    for await (const entry of iter) {
      const record = await readMessage(this.#deps.kv, entry.value);
      const size = record?.bodySize ?? 0;
      if (views.length > 0 && bytes + size > MAX_LIST_BODY_BYTES) break;
      bytes += size;
      views.push(await this.get(entry.value));
    }
    return views;
  }

  #fields(record: MessageRecord) {
    const { inlineBody: _b, bodyChunks: _c, bodySize: _s, bodyEncoding: _e, ...fields } = record;
    return fields;
  }
}
