/**
 * First attempts without a stored value per delivery. A receive round that
 * starts deliveries of entries of a topic's log writes one record for all
 * of them, under the log position of the last: it holds their first
 * `DeliveryAttempted` event (the same for each but the message id: the
 * round's time, the group, attempt 1, the end of the visibility), and it is
 * written in the commit that moves the group's cursor past those entries,
 * checked against the cursor read. Only that commit can start those
 * deliveries, so the record stands where each stream's event 1 would: the
 * delivery's next event is its stream's event 2, appended at the expected
 * version as every other.
 *
 * A delivery's history is therefore its first-attempts record's event, when
 * its stream has no event 1, then its stored events, then the acked event an
 * ack record holds for its head (see `acks.ts` and `history.ts`). A log
 * entry's delivery is found from the message's position in its topic's log:
 * the versionstamp of the commit that made it visible, which is that of its
 * record (a normal message is stored by the commit that publishes it, and
 * its record is never written again), or that of its `MessagePublished`
 * event (a transactional one, published by its transaction's commit).
 *
 * @module
 */
import type { DeliveryAttempted } from "../../domain/events.ts";
import type { MessageRecord } from "../../domain/message.ts";
import type { EventStore } from "../../store/event_store.ts";
import { keys } from "../../store/keys.ts";
import type { WriteSet } from "../../store/write_set.ts";
import type { Cursor } from "../groups/mod.ts";
import { decideDelivery, type DeliveryHead, type DeliveryStep, deliveryStream } from "./step.ts";

/** A first-attempts record, under `["att", groupId, topic, versionstamp, index]`. */
export interface AttemptsRecord {
  /** When the round decided (the events' `at`). */
  readonly at: number;
  /** The group's name, as the events carry it. */
  readonly group: string;
  /** The end of the attempts' visibility. */
  readonly visibleUntil: number;
  /** The messages attempted, in log order. */
  readonly messageIds: readonly string[];
}

/**
 * The first `DeliveryAttempted` event a first-attempts record stands for.
 *
 * @example
 * ```ts
 * import { firstAttempt } from "./first_attempts.ts";
 * firstAttempt({ at: 0, group: "ops", visibleUntil: 30_000 }).data.attempt; // 1
 * ```
 */
export function firstAttempt(
  record: Pick<AttemptsRecord, "at" | "group" | "visibleUntil">,
): DeliveryAttempted {
  return {
    type: "DeliveryAttempted",
    data: { group: record.group, attempt: 1, visibleUntil: record.visibleUntil },
    at: record.at,
  };
}

/** Most first-attempts records read to find one delivery's (one log value's rounds, and the next). */
const MAX_RECORDS_READ = 1_000;

/**
 * The first attempts of one receive round, collected topic by topic and
 * written as one record per topic.
 *
 * @example
 * ```ts
 * import { FirstAttempts } from "./first_attempts.ts";
 * import { EventStore } from "../../store/event_store.ts";
 * import { WriteSet } from "../../store/write_set.ts";
 * using kv = await Deno.openKv(":memory:");
 * const op = new WriteSet().check({ key: ["cursor", "g1", "T"], versionstamp: null });
 * const attempts = new FirstAttempts({ groupId: "g1", group: "ops", at: 0, visibleUntil: 30_000 });
 * attempts.start(op, new EventStore(kv), {
 *   head: { messageId: "m1", topic: "T", seq: 0, state: "pending", context: { attempt: 0 } },
 *   at: { vs: "01", index: 0 },
 *   guardedBy: ["cursor", "g1", "T"],
 * })?.after.state; // "inFlight"
 * attempts.writeTo(op);
 * ```
 */
export class FirstAttempts {
  readonly #groupId: string;
  readonly #event: DeliveryAttempted;
  readonly #byTopic = new Map<string, { last: Cursor; messageIds: string[] }>();

  /** Collects first attempts of the group incarnation `groupId` made `at`, visible until `visibleUntil`. */
  constructor(
    of: {
      readonly groupId: string;
      readonly group: string;
      readonly at: number;
      readonly visibleUntil: number;
    },
  ) {
    this.#groupId = of.groupId;
    this.#event = firstAttempt(of);
  }

  /**
   * Lets the delivery machine decide the first attempt of the pending
   * delivery at `head` (the log entry at `at`), and adds it to the topic's
   * record; the event is announced on the bus once `op` commits. Undefined
   * when the machine refuses it. It throws unless `op` checks `guardedBy`,
   * the cursor that passes the entry in the same commit.
   */
  start(
    op: WriteSet,
    store: EventStore,
    pick: { readonly head: DeliveryHead; readonly at: Cursor; readonly guardedBy: Deno.KvKey },
  ): DeliveryStep | undefined {
    const { head, at, guardedBy } = pick;
    if (!op.isChecked(guardedBy)) {
      throw new TypeError(
        `Cannot record the first attempt of ${head.messageId}: the operation does not check ${
          JSON.stringify(guardedBy)
        }`,
      );
    }
    if (head.seq !== 0) {
      throw new TypeError(`Cannot record a first attempt at event ${head.seq + 1}`);
    }
    const event = this.#event;
    const step = decideDelivery(head, event);
    if (!step) return undefined;
    const of = this.#byTopic.get(head.topic) ?? { last: at, messageIds: [] };
    of.last = at;
    of.messageIds.push(head.messageId);
    this.#byTopic.set(head.topic, of);
    store.announce(op, deliveryStream(head.messageId, this.#groupId), 1, [event]);
    return step;
  }

  /** Adds one record per topic with first attempts to `op`. */
  writeTo(op: WriteSet): void {
    for (const [topic, { last, messageIds }] of this.#byTopic) {
      const record: AttemptsRecord = {
        at: this.#event.at,
        group: this.#event.data.group,
        visibleUntil: this.#event.data.visibleUntil,
        messageIds,
      };
      op.set(keys.attempts(this.#groupId, topic, last.vs, last.index), record);
    }
  }
}

/**
 * The versionstamp of the commit that made a message visible in its
 * topic's log (see the module doc); undefined when it is not stored or not
 * published.
 *
 * @example
 * ```ts
 * import { logVersionstamp } from "./first_attempts.ts";
 * using kv = await Deno.openKv(":memory:");
 * await logVersionstamp(kv, "missing"); // undefined
 * ```
 */
export async function logVersionstamp(kv: Deno.Kv, messageId: string): Promise<string | undefined> {
  const [record, published] = await kv.getMany<[MessageRecord, unknown]>([
    keys.message(messageId),
    keys.event("msg", messageId, 1),
  ]);
  if (!record.value) return undefined;
  if (record.value.transactionId === undefined) return record.versionstamp ?? undefined;
  return published.versionstamp ?? undefined;
}

/**
 * The first attempt a first-attempts record holds for the delivery of
 * `messageId` (in `topic`'s log at `versionstamp`) to the group incarnation
 * `groupId`, if a round started it.
 *
 * The rounds of one group pass a log's entries in order, each from where
 * the one before stopped, so the record that holds the message is the
 * first whose last entry is not before it: among those under the message's
 * own versionstamp, or the first after them.
 *
 * @example
 * ```ts
 * import { recordedAttempt } from "./first_attempts.ts";
 * using kv = await Deno.openKv(":memory:");
 * await recordedAttempt(kv, "g1", { messageId: "m1", topic: "T" }, "01"); // undefined
 * ```
 */
export async function recordedAttempt(
  kv: Deno.Kv,
  groupId: string,
  of: { readonly messageId: string; readonly topic: string },
  versionstamp: string | undefined,
): Promise<DeliveryAttempted | undefined> {
  if (versionstamp === undefined) return undefined;
  const iter = kv.list<AttemptsRecord>({
    start: [...keys.attemptsOf(groupId, of.topic), versionstamp],
    end: [...keys.attemptsOf(groupId, of.topic), "\uffff"],
  }, { limit: MAX_RECORDS_READ, batchSize: 4 });
  for await (const entry of iter) {
    const record = entry.value;
    if (record.messageIds.includes(of.messageId)) return firstAttempt(record);
    // Past the message's own log value: no later record can hold it.
    if (entry.key[3] !== versionstamp) return undefined;
  }
  return undefined;
}
