/**
 * Delivering committed messages to consumer groups.
 *
 * Routing happens at read time: a group keeps a cursor in each subscribed
 * topic's log, and a receive walks the log from there, keeps the entries its
 * subscription matches and moves the cursor, all in one commit with the
 * deliveries it starts. Publishing therefore writes nothing per group.
 *
 * Each (group, message) delivery is a {@linkcode deliveryMachine}; its events
 * go to the stream `["ev", "dlv", messageId:group]`. A receive of many
 * messages, or an ack of many handles, is one commit. Nothing is replayed on
 * these hot paths: a receipt handle names the stream head it was issued at,
 * and the append at the next seq is checked, so the machine's snapshot is
 * rebuilt from the handle and a stale handle can never settle a delivery.
 *
 * @module
 */
export type { ReceivedMessage } from "../../domain/wire.ts";
import { monotonicUlid } from "@std/ulid";
import type { DeliveryContext, DeliveryState } from "../../../machines/delivery.ts";
import { decodeBody } from "../../domain/body.ts";
import type { ReceivedMessage } from "../../domain/wire.ts";
import { ContentionError } from "../../domain/errors.ts";
import type { DeliveryEvent, MessageEvent } from "../../domain/events.ts";
import type { MessageRecord } from "../../domain/message.ts";
import {
  decodeReceiptHandle,
  encodeReceiptHandle,
  type ReceiptHandle,
} from "../../domain/receipt_handle.ts";
import { nextRetry } from "../../domain/retry_policy.ts";
import { keys } from "../../store/keys.ts";
import { readBody } from "../../store/message_store.ts";
import { WriteSet } from "../../store/write_set.ts";
import { type EngineDeps, MAX_WRITE_ATTEMPTS } from "../deps.ts";
import {
  countDeliveries,
  deliveryEventKey,
  type DueRecord,
  entryToDue,
  type InflightRecord,
  type OrderLock,
  type OrderWaitRecord,
  putDue,
} from "./records.ts";
import { planDelivery } from "./delivery_plan.ts";
import type { CompiledGroup, Cursor, GroupCounter, Groups } from "../groups/groups.ts";
import { releaseOrder, requeueInOrder } from "./message_order.ts";
import { waitForWork, wakeState } from "./long_poll.ts";

/** Options of {@linkcode Deliveries.receive}. */
export interface ReceiveOptions {
  /** Most messages to return. @default {16} */
  readonly max?: number;
  /** How long to wait for a message when none is ready, in ms. @default {0} */
  readonly waitMs?: number;
  /** Overrides the group's visibility timeout, in seconds. */
  readonly visibilityTimeoutSeconds?: number;
  /** Ends a long poll early (the client went away). */
  readonly signal?: AbortSignal;
}

/** Result of settling receipt handles. */
export interface SettleResult {
  readonly settled: number;
  readonly failed: { readonly receiptHandle: string; readonly reason: string }[];
}

/** A dead letter as listed. */
export interface DeadLetterRecord {
  readonly messageId: string;
  readonly topic: string;
  readonly tag?: string;
  readonly attempts: number;
  readonly lastError: string;
  readonly deadLetteredAt: number;
  /** Seq of the `DeliveryDeadLettered` event. */
  readonly seq: number;
  readonly messageGroup?: string;
}

/** A delivery being settled (acked or failed). */
interface Settling extends ReceiptHandle {
  readonly text: string;
}

/** What one receive starts for one message. */
interface Pick {
  readonly messageId: string;
  readonly topic: string;
  readonly publishedAt: number;
  readonly seq: number;
  readonly attempt: number;
  readonly retry: boolean;
  readonly messageGroup?: string;
}

/** A pick once its delivery started: the seq and attempt of `DeliveryAttempted`. */
interface Started extends Pick {
  readonly visibleUntil: number;
}

/** Most optimistic checks one commit may carry (Deno KV allows 100). */
const MAX_CHECKS = 90;
/** Most handles settled in one commit (each needs one check, plus order locks). */
const SETTLE_CHUNK = 40;
/** Most log entries one receive looks at before committing what it found. */
const SCAN_LIMIT = 5_000;
/** Most deliveries listed in one lease entry (keeps it far below 64 KiB). */
const LEASE_CHUNK = 100;
/** Body bytes after which a receive returns what it has (it returns at least one message). */
export const MAX_RECEIVE_BYTES = 4 * 1024 * 1024;
/** Most messages one receive returns. */
export const MAX_RECEIVE = 256;

/**
 * Receive, ack, nack, visibility, expiry, dead letters and redrive.
 *
 * @example
 * ```ts
 * import { Deliveries } from "./deliveries.ts";
 * declare const deliveries: Deliveries;
 * const messages = await deliveries.receive("ops", { max: 16, waitMs: 20_000 });
 * await deliveries.ack("ops", messages.map((m) => m.receiptHandle));
 * ```
 */
export class Deliveries {
  readonly #deps: EngineDeps;
  readonly #groups: Groups;
  readonly #receiving = new Map<string, Promise<void>>();

  /** Creates the use cases over the engine's collaborators. */
  constructor(deps: EngineDeps, groups: Groups) {
    this.#deps = deps;
    this.#groups = groups;
  }

  /**
   * Starts delivery of up to `max` ready messages and returns them with
   * their receipt handles; with `waitMs`, waits for one to be ready.
   */
  async receive(groupName: string, options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    const max = Math.min(options.max ?? 16, MAX_RECEIVE);
    const deadline = this.#deps.clock() + (options.waitMs ?? 0);
    for (;;) {
      const group = await this.#groups.compiled(groupName);
      const vt = options.visibilityTimeoutSeconds ?? group.record.visibilityTimeoutSeconds;
      // Read the wake-up keys before looking for work, so that work committed while
      // looking is seen as a change by the wait below, not taken as its baseline.
      const baseline = deadline > this.#deps.clock() ? await wakeState(this.#deps.kv, group) : "";
      const picks = await this.#oneAtATime(groupName, () => this.#start(group, max, vt * 1000));
      if (picks.length > 0) return await this.#load(group, picks);
      const now = this.#deps.clock();
      if (now >= deadline || options.signal?.aborted) return [];
      await waitForWork(this.#deps.kv, this.#deps.clock, group, {
        deadline,
        baseline,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    }
  }

  /** Acknowledges deliveries; unknown, expired or stale handles are listed as failed. */
  async ack(groupName: string, handles: readonly string[]): Promise<SettleResult> {
    return await this.#settle(groupName, handles, { kind: "ack" });
  }

  /**
   * Fails the current attempts now, recording `reason`; they are retried
   * after `delayMs` or on the group's schedule.
   */
  async nack(
    groupName: string,
    handles: readonly string[],
    delayMs?: number,
    reason?: string,
  ): Promise<SettleResult> {
    return await this.#settle(groupName, handles, {
      kind: "fail",
      error: reason ? `nack: ${reason}` : "nack",
      ...(delayMs !== undefined ? { delayMs } : {}),
    });
  }

  /** Fails deliveries with a reason (push failures use this). */
  async fail(groupName: string, handles: readonly string[], error: string): Promise<SettleResult> {
    return await this.#settle(groupName, handles, { kind: "fail", error });
  }

  /**
   * Moves the end of a delivery's visibility timeout to now + `seconds` and
   * returns a new handle; the old one stops working.
   */
  async changeVisibility(
    groupName: string,
    handleText: string,
    seconds: number,
  ): Promise<{ receiptHandle: string; visibleUntil: number } | { failed: string }> {
    const { clock, scheduler, committer } = this.#deps;
    const group = await this.#groups.compiled(groupName);
    const handle = decodeReceiptHandle(handleText);
    if (!handle || handle.group !== groupName) return { failed: "unknown receipt handle" };
    const now = clock();
    if (handle.visibleUntil <= now) return { failed: "receipt handle expired" };
    const visibleUntil = now + seconds * 1000;
    const event: DeliveryEvent = {
      type: "DeliveryVisibilityExtended",
      data: { attempt: handle.attempt, visibleUntil },
      at: now,
    };
    const op = new WriteSet();
    await this.#apply(op, group, handle, "inFlight", event, {});
    scheduler.schedule(op, { kind: "visibilityDue", group: groupName }, visibleUntil);
    if (!(await committer.commit(op))) {
      return { failed: "receipt handle expired or already settled" };
    }
    const next: ReceiptHandle = { ...handle, seq: handle.seq + 1, visibleUntil };
    return { receiptHandle: encodeReceiptHandle(next), visibleUntil };
  }

  /**
   * Fails every delivery of the group whose visibility timeout has passed and
   * that is still in flight; returns how many. Leases list the deliveries a
   * receive started; one whose stream moved on since (acked, failed, given a
   * new handle) is skipped, and the append's check settles any race.
   */
  async expire(groupName: string): Promise<number> {
    const { kv, clock, committer } = this.#deps;
    const group = await this.#groups.compiled(groupName);
    let failed = 0;
    for (let round = 0; round < 100; round++) {
      const now = clock();
      const leases = await Array.fromAsync(kv.list<InflightRecord[]>({
        start: keys.leases(groupName),
        end: [...keys.leases(groupName), now + 1],
      }, { limit: 20 }));
      if (leases.length === 0) break;
      for (const lease of leases) {
        const visibleUntil = lease.key[2] as number;
        const items = lease.value;
        const heads: (string | null)[] = [];
        for (let i = 0; i < items.length; i += 10) {
          const chunk = items.slice(i, i + 10)
            .map((item) => deliveryEventKey(groupName, item.messageId, item.seq + 1));
          heads.push(...(await kv.getMany(chunk)).map((entry) => entry.versionstamp));
        }
        const expired: Settling[] = items.filter((_, i) => heads[i] === null).map((item) => {
          const handle: ReceiptHandle = { ...item, group: groupName, visibleUntil };
          return { ...handle, text: encodeReceiptHandle(handle) };
        });
        if (expired.length > 0) {
          failed += (await this.#settleHandles(group, expired, {
            kind: "fail",
            error: "visibility timeout",
          })).settled;
        }
        await committer.commit(new WriteSet().delete(lease.key));
      }
    }
    return failed;
  }

  /** Lists a group's dead letters, oldest message first, with a cursor for the next page. */
  async deadLetters(
    groupName: string,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<{ messages: DeadLetterRecord[]; cursor?: string }> {
    await this.#groups.require(groupName);
    const iter = this.#deps.kv.list<DeadLetterRecord>({ prefix: keys.deadLetters(groupName) }, {
      limit: options.limit ?? 100,
      ...(options.cursor ? { cursor: options.cursor } : {}),
    });
    const messages: DeadLetterRecord[] = [];
    for await (const entry of iter) messages.push(entry.value);
    const records = await this.#records(messages.map((m) => m.messageId));
    for (const [i, message] of messages.entries()) {
      const tag = records.get(message.messageId)?.tag;
      if (tag !== undefined) messages[i] = { ...message, tag };
    }
    const more = messages.length === (options.limit ?? 100) && iter.cursor !== "";
    return { messages, ...(more ? { cursor: iter.cursor } : {}) };
  }

  /** Delivers dead letters again from attempt 1 (all when `messageIds` is omitted). */
  async redrive(groupName: string, messageIds?: readonly string[]): Promise<number> {
    const { kv, clock } = this.#deps;
    const group = await this.#groups.compiled(groupName);
    const entries: Deno.KvEntry<DeadLetterRecord>[] = [];
    if (messageIds) {
      for (let i = 0; i < messageIds.length; i += 10) {
        const chunk = messageIds.slice(i, i + 10).map((id) => keys.deadLetter(groupName, id));
        for (const entry of await kv.getMany<DeadLetterRecord[]>(chunk)) {
          if (entry.versionstamp !== null) entries.push(entry as Deno.KvEntry<DeadLetterRecord>);
        }
      }
    } else {
      for await (
        const entry of kv.list<DeadLetterRecord>({ prefix: keys.deadLetters(groupName) })
      ) {
        entries.push(entry);
      }
    }
    let redriven = 0;
    for (let i = 0; i < entries.length; i += SETTLE_CHUNK) {
      for (const entry of entries.slice(i, i + SETTLE_CHUNK)) {
        // One commit per dead letter keeps a stale one from failing its neighbours.
        const record = entry.value;
        const op = new WriteSet().check(entry);
        const handle: ReceiptHandle = {
          group: groupName,
          messageId: record.messageId,
          topic: record.topic,
          seq: record.seq,
          attempt: record.attempts,
          visibleUntil: 0,
          ...(record.messageGroup !== undefined ? { messageGroup: record.messageGroup } : {}),
        };
        await this.#apply(op, group, handle, "deadLettered", {
          type: "DeliveryRedriven",
          data: {},
          at: clock(),
        }, {});
        if (await this.#deps.committer.commit(op)) redriven++;
      }
    }
    return redriven;
  }

  /**
   * Runs `task` after the group's earlier receives in this process: they
   * would all move the same cursor, so running them together only makes all
   * but one fail their check and start over. Other processes are kept apart
   * by that check.
   */
  async #oneAtATime<T>(groupName: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#receiving.get(groupName) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.then(() => {}, () => {});
    this.#receiving.set(groupName, settled);
    try {
      return await run;
    } finally {
      if (this.#receiving.get(groupName) === settled) this.#receiving.delete(groupName);
    }
  }

  /** Routes and starts deliveries: due entries first, then the topic logs. */
  async #start(group: CompiledGroup, max: number, visibilityMs: number): Promise<Started[]> {
    const { kv, clock, scheduler, committer } = this.#deps;
    const name = group.record.name;
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const now = clock();
      const visibleUntil = now + visibilityMs;
      const op = new WriteSet();
      let checks = 0;
      let wrote = false;
      const picks: Pick[] = [];
      const dueIter = kv.list<DueRecord>({
        start: keys.dues(name),
        end: [...keys.dues(name), now + 1],
      }, { limit: Math.min(max, MAX_CHECKS / 2) });
      let bytes = 0;
      // Full: enough messages, checks or scanning, or (after one message) enough body bytes.
      const full = () =>
        picks.length >= max || checks >= MAX_CHECKS || scanned >= SCAN_LIMIT ||
        (picks.length > 0 && bytes >= MAX_RECEIVE_BYTES);
      let scanned = 0;
      for await (const entry of dueIter) {
        if (full()) break;
        op.check(entry).delete(entry.key);
        checks++;
        picks.push(entry.value);
        bytes += entry.value.bodySize ?? 0;
      }
      const locks = new Map<string, Deno.KvEntryMaybe<OrderLock>>();
      for (const subscription of group.subscriptions) {
        if (full()) break;
        const cursorKey = keys.cursor(name, subscription.topic);
        const cursorEntry = await kv.get<Cursor>(cursorKey);
        let cursor = cursorEntry.value ?? { vs: "", index: 0 };
        const start = cursor;
        for await (const { entry, at, next } of this.#groups.readLog(subscription.topic, cursor)) {
          if (full()) break;
          scanned++;
          cursor = next;
          if (!subscription.matches(entry.tag, entry.properties)) continue;
          const deliverAt = entry.deliverAt ?? 0;
          if (group.record.ordered && entry.messageGroup !== undefined) {
            const lockKey = keys.orderLock(name, entry.messageGroup);
            let lock = locks.get(entry.messageGroup);
            if (!lock) {
              lock = await kv.get<OrderLock>(lockKey);
              locks.set(entry.messageGroup, lock);
              op.check(lock);
              checks++;
            }
            if (lock.value) {
              // Behind the message in progress: wait in commit order. Re-setting the lock
              // makes a concurrent hand-over retry and see this waiter.
              const wait: OrderWaitRecord = {
                messageId: entry.messageId,
                topic: subscription.topic,
                publishedAt: entry.publishedAt,
                ...(entry.deliverAt !== undefined ? { deliverAt: entry.deliverAt } : {}),
              };
              op.set(keys.orderWait(name, entry.messageGroup, at.vs, at.index), wait);
              op.set(lockKey, lock.value);
              wrote = true;
              continue;
            }
            const taken = { key: lockKey, value: { messageId: entry.messageId }, versionstamp: "" };
            locks.set(entry.messageGroup, taken);
            op.set(lockKey, taken.value);
          }
          if (deliverAt > now) {
            putDue(op, name, deliverAt, entryToDue(entry, subscription.topic));
            wrote = true;
            continue;
          }
          picks.push(entryToDue(entry, subscription.topic));
          bytes += entry.bodySize ?? 0;
        }
        if (cursor.vs !== start.vs || cursor.index !== start.index) {
          op.check(cursorEntry).set(cursorKey, cursor);
          checks++;
          wrote = true;
        }
      }
      if (picks.length === 0 && !wrote) return [];
      let retried = 0;
      const lease: InflightRecord[] = [];
      for (const pick of picks) {
        let handle: ReceiptHandle = {
          group: name,
          messageId: pick.messageId,
          topic: pick.topic,
          seq: pick.seq,
          attempt: pick.attempt,
          visibleUntil,
          ...(pick.messageGroup !== undefined ? { messageGroup: pick.messageGroup } : {}),
        };
        if (pick.retry) {
          await this.#apply(op, group, handle, "retrying", {
            type: "DeliveryRetryDue",
            data: { attempt: pick.attempt },
            at: now,
          }, { checkHead: false });
          handle = { ...handle, seq: handle.seq + 1 };
          retried++;
        }
        await this.#apply(op, group, handle, "pending", {
          type: "DeliveryAttempted",
          data: { group: name, attempt: pick.attempt + 1, visibleUntil },
          at: now,
        }, { checkHead: false, lease });
      }
      for (let i = 0; i < lease.length; i += LEASE_CHUNK) {
        op.set(keys.lease(name, visibleUntil, monotonicUlid()), lease.slice(i, i + LEASE_CHUNK));
      }
      countDeliveries(op, name, { inFlight: picks.length, retrying: -retried });
      if (picks.length > 0) {
        scheduler.schedule(op, { kind: "visibilityDue", group: name }, visibleUntil);
      }
      if (await committer.commit(op)) {
        return picks.map((p) => ({
          ...p,
          seq: p.seq + (p.retry ? 2 : 1),
          attempt: p.attempt + 1,
          visibleUntil,
        }));
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (attempt + 1)));
    }
    throw new ContentionError(`Cannot receive from ${name}: too many concurrent receivers`);
  }

  /**
   * Adds to `op` the append of `event` to a delivery at `handle.seq + 1`
   * (checked unless told otherwise) and what the machine's actions ask for.
   */
  async #apply(
    op: WriteSet,
    group: CompiledGroup,
    handle: ReceiptHandle,
    state: DeliveryState,
    event: DeliveryEvent,
    options: { checkHead?: boolean; lease?: InflightRecord[] },
  ): Promise<DeliveryState> {
    const name = group.record.name;
    const seq = handle.seq + 1;
    const key = deliveryEventKey(name, handle.messageId, seq);
    if (options.checkHead !== false) op.check({ key, versionstamp: null });
    op.set(key, event);
    const context: DeliveryContext = {
      attempt: event.type === "DeliveryAttempted" ? event.data.attempt - 1 : handle.attempt,
    };
    const { next, actions } = planDelivery(state, context, event);
    for (const action of actions) {
      switch (action) {
        case "trackVisibility": {
          const until = event.type === "DeliveryAttempted" ||
              event.type === "DeliveryVisibilityExtended"
            ? event.data.visibleUntil
            : handle.visibleUntil;
          const record: InflightRecord = {
            messageId: handle.messageId,
            topic: handle.topic,
            seq,
            attempt: event.type === "DeliveryAttempted" ? event.data.attempt : handle.attempt,
            ...(handle.messageGroup !== undefined ? { messageGroup: handle.messageGroup } : {}),
          };
          if (options.lease) options.lease.push(record);
          else op.set(keys.lease(name, until, monotonicUlid()), [record]);
          break;
        }
        case "forgetVisibility":
          // Nothing to write: the lease is swept when it ends, and skips a delivery
          // whose stream has moved on.
          break;
        case "scheduleRetry": {
          if (event.type !== "DeliveryFailed") break;
          putDue(op, name, event.data.retryAt, {
            messageId: handle.messageId,
            topic: handle.topic,
            seq,
            attempt: handle.attempt,
            retry: true,
            publishedAt: 0,
            ...(handle.messageGroup !== undefined ? { messageGroup: handle.messageGroup } : {}),
          });
          break;
        }
        case "deadLetter": {
          if (event.type !== "DeliveryDeadLettered") break;
          const record: DeadLetterRecord = {
            messageId: handle.messageId,
            topic: handle.topic,
            attempts: handle.attempt,
            lastError: event.data.error,
            deadLetteredAt: event.at,
            seq,
            ...(handle.messageGroup !== undefined ? { messageGroup: handle.messageGroup } : {}),
          };
          op.set(keys.deadLetter(name, handle.messageId), record);
          console.warn(
            `dead-lettered message ${handle.messageId} for group ${name} after ${handle.attempt} attempts: ${event.data.error}`,
          );
          break;
        }
        case "leaveDeadLetters":
          op.delete(keys.deadLetter(name, handle.messageId));
          countDeliveries(op, name, { deadLettered: -1 });
          break;
        case "requeue": {
          const due: DueRecord = {
            messageId: handle.messageId,
            topic: handle.topic,
            seq,
            attempt: 0,
            retry: false,
            publishedAt: 0,
            ...(handle.messageGroup !== undefined ? { messageGroup: handle.messageGroup } : {}),
          };
          if (group.record.ordered && handle.messageGroup !== undefined) {
            await requeueInOrder(this.#deps.kv, op, name, handle.messageGroup, due, event.at);
          } else {
            putDue(op, name, event.at, due);
          }
          break;
        }
        case "releaseOrder":
          if (group.record.ordered && handle.messageGroup !== undefined) {
            await releaseOrder(
              this.#deps.kv,
              op,
              name,
              handle.messageGroup,
              handle.messageId,
              event.at,
            );
          }
          break;
        default:
          break; // context-only actions
      }
    }
    return next;
  }

  async #settle(
    groupName: string,
    texts: readonly string[],
    outcome: Outcome,
  ): Promise<SettleResult> {
    const failed: SettleResult["failed"] = [];
    const valid: Settling[] = [];
    const now = this.#deps.clock();
    const group = await this.#groups.compiled(groupName);
    for (const text of new Set(texts)) {
      const handle = decodeReceiptHandle(text);
      if (!handle || handle.group !== groupName) {
        failed.push({ receiptHandle: text, reason: "unknown receipt handle" });
      } else if (handle.visibleUntil <= now) {
        failed.push({ receiptHandle: text, reason: "receipt handle expired" });
      } else {
        valid.push({ ...handle, text });
      }
    }
    const result = await this.#settleHandles(group, valid, outcome);
    return { settled: result.settled, failed: [...failed, ...result.failed] };
  }

  async #settleHandles(
    group: CompiledGroup,
    handles: readonly Settling[],
    outcome: Outcome,
  ): Promise<SettleResult> {
    const groupName = group.record.name;
    const failed: SettleResult["failed"] = [];
    let settled = 0;
    const run = async (chunk: readonly Settling[]) => {
      const op = new WriteSet();
      const counts: Partial<Record<GroupCounter, number>> = {};
      const now = this.#deps.clock();
      for (const handle of chunk) {
        const event = this.#outcomeEvent(group, handle, outcome, now);
        const next = await this.#apply(op, group, handle, "inFlight", event, {});
        counts.inFlight = (counts.inFlight ?? 0) - 1;
        const counter: GroupCounter = next === "acked"
          ? "acked"
          : next === "retrying"
          ? "retrying"
          : "deadLettered";
        counts[counter] = (counts[counter] ?? 0) + 1;
      }
      countDeliveries(op, groupName, counts);
      return await this.#deps.committer.commit(op);
    };
    for (let i = 0; i < handles.length; i += SETTLE_CHUNK) {
      const chunk = handles.slice(i, i + SETTLE_CHUNK);
      if (await run(chunk)) {
        settled += chunk.length;
        continue;
      }
      // Some handle in the chunk is stale: settle one by one to tell which.
      for (const handle of chunk) {
        if (await run([handle])) settled++;
        else {failed.push({
            receiptHandle: handle.text,
            reason: "receipt handle expired or already settled",
          });}
      }
    }
    return { settled, failed };
  }

  #outcomeEvent(
    group: CompiledGroup,
    handle: ReceiptHandle,
    outcome: Outcome,
    now: number,
  ): DeliveryEvent {
    if (outcome.kind === "ack") {
      return { type: "DeliveryAcked", data: { attempt: handle.attempt }, at: now };
    }
    const decision = nextRetry(group.record, handle.attempt);
    if (!decision.retry) {
      return {
        type: "DeliveryDeadLettered",
        data: { attempt: handle.attempt, error: outcome.error },
        at: now,
      };
    }
    return {
      type: "DeliveryFailed",
      data: {
        attempt: handle.attempt,
        error: outcome.error,
        retryAt: now + (outcome.delayMs ?? decision.delayMs),
      },
      at: now,
    };
  }

  /** Reads what the consumer needs of each picked message. */
  async #load(
    group: CompiledGroup,
    picks: readonly Started[],
  ): Promise<ReceivedMessage[]> {
    const { kv } = this.#deps;
    const records = await this.#records(picks.map((p) => p.messageId));
    return await Promise.all(picks.map(async (pick) => {
      const record = records.get(pick.messageId);
      if (!record) throw new TypeError(`Cannot deliver: message ${pick.messageId} is missing`);
      const [bytes, publishedAt] = await Promise.all([
        readBody(kv, record),
        pick.publishedAt ||
        (record.transactionId !== undefined
          ? this.#publishedAt(record.messageId)
          : record.storedAt),
      ]);
      const handle: ReceiptHandle = {
        group: group.record.name,
        messageId: pick.messageId,
        topic: pick.topic,
        seq: pick.seq,
        attempt: pick.attempt,
        visibleUntil: pick.visibleUntil,
        ...(pick.messageGroup !== undefined ? { messageGroup: pick.messageGroup } : {}),
      };
      return {
        messageId: record.messageId,
        receiptHandle: encodeReceiptHandle(handle),
        topic: record.topic,
        keys: record.keys,
        properties: record.properties,
        publishedAt,
        attempt: pick.attempt,
        ...decodeBody(record.bodyEncoding, bytes),
        ...(record.tag !== undefined ? { tag: record.tag } : {}),
        ...(record.transactionId !== undefined ? { transactionId: record.transactionId } : {}),
        ...(record.messageGroup !== undefined ? { messageGroup: record.messageGroup } : {}),
      };
    }));
  }

  /** Reads message records, ten keys per read (Deno KV's limit), all reads at once. */
  async #records(ids: readonly string[]): Promise<Map<string, MessageRecord>> {
    const records = new Map<string, MessageRecord>();
    const chunks: Promise<void>[] = [];
    for (let i = 0; i < ids.length; i += 10) {
      const chunk = ids.slice(i, i + 10).map((id) => keys.message(id));
      chunks.push(
        this.#deps.kv.getMany<MessageRecord[]>(chunk).then((entries) => {
          for (const entry of entries) {
            if (entry.value) records.set(entry.value.messageId, entry.value);
          }
        }),
      );
    }
    await Promise.all(chunks);
    return records;
  }

  /** When a message became visible (read for retries, which do not carry it). */
  async #publishedAt(messageId: string): Promise<number> {
    const entry = await this.#deps.kv.get<MessageEvent>(keys.event("msg", messageId, 1));
    return entry.value?.at ?? 0;
  }
}

/** How a settle ends a delivery attempt. */
type Outcome =
  | { readonly kind: "ack" }
  | { readonly kind: "fail"; readonly error: string; readonly delayMs?: number };
