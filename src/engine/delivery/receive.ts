/**
 * Routing at read time: a receive starts deliveries of the messages that are
 * ready for a group, from its due entries (retries, delayed, redriven and
 * unparked messages) first, then from the topic logs past its cursors,
 * keeping what its subscriptions match. Everything one round finds is one
 * commit: the cursor moves (checked against the cursor read), each due entry
 * taken is deleted (checked), with one lease entry for all the deliveries
 * started. A delivery taken from a due entry has its events appended at its
 * stream's expected version, guarded by that entry (written with the event
 * at the seq it names, and the only way to the delivery's next event: a
 * retrying or redriven delivery takes nothing else). The deliveries of the
 * log entries the cursor passes start with one first-attempts record per
 * topic (see `first_attempts.ts`), guarded by the cursor's check: only the
 * commit that moves the cursor past an entry can start that entry's
 * delivery, so one checked batch record stands for many streams' event 1.
 * A round stops at {@linkcode MAX_CHECKS}; the receive runs another round for
 * the rest.
 *
 * @module
 */
import { monotonicUlid } from "@std/ulid";
import { ContentionError } from "../../domain/errors.ts";
import type { DeliveryEvent } from "../../domain/events.ts";
import type { MessageRecord } from "../../domain/message.ts";
import { keys } from "../../store/keys.ts";
import { WriteSet } from "../../store/write_set.ts";
import { MAX_WRITE_ATTEMPTS } from "../deps.ts";
import type { CompiledGroup, Cursor } from "../groups/mod.ts";
import { carryOutDelivery } from "./effects.ts";
import { type DeliveryEnv, MAX_CHECKS } from "./env.ts";
import { FirstAttempts } from "./first_attempts.ts";
import {
  type DueRecord,
  entryToDue,
  type InflightRecord,
  type OrderLock,
  type OrderWaitRecord,
  putDue,
  scheduleExpiry,
} from "./records.ts";
import { appendDelivery, type DeliveryHead, type DeliveryStep } from "./step.ts";

/**
 * Most body bytes one receive returns: a message that would take it past
 * this stays for the next receive, unless it is the first (a receive
 * returns at least one message). 4 MiB of bodies is at most about 5.6 MiB
 * of JSON, or one 4 MiB body; a push round is bounded the same way.
 */
export const MAX_RECEIVE_BYTES = 4 * 1024 * 1024;
/** Most log entries one round looks at before committing what it found. */
const SCAN_LIMIT = 5_000;
/** Most deliveries listed in one lease entry (keeps it far below 64 KiB). */
const LEASE_CHUNK = 100;

/** A delivery a receive started: its head after `DeliveryAttempted`. */
export interface Started {
  readonly head: DeliveryHead;
  /** When the message became visible (0 when the due entry did not carry it). */
  readonly publishedAt: number;
}

/** What one round started, and whether it stopped because a commit was full. */
export interface Round {
  readonly started: Started[];
  readonly full: boolean;
  readonly bytes: number;
}

/** Body size of a message whose due entry does not say (a retry, a requeue): from its record. */
async function bodySizeOf(kv: Deno.Kv, messageId: string): Promise<number> {
  return (await kv.get<MessageRecord>(keys.message(messageId))).value?.bodySize ?? 0;
}

/** The head a due entry states: retrying (a retry falls due) or pending. */
function dueHead(record: DueRecord): DeliveryHead {
  return {
    messageId: record.messageId,
    topic: record.topic,
    ...(record.messageGroup !== undefined ? { messageGroup: record.messageGroup } : {}),
    seq: record.seq,
    state: record.retry ? "retrying" : "pending",
    context: { attempt: record.attempt },
  };
}

/**
 * Runs one round of a receive (see the module doc) and commits it; retries
 * a bounded number of times when another receive moved the same cursor or
 * took the same due entry, then gives up with a 503.
 *
 * @example
 * ```ts
 * import { startRound } from "./receive.ts";
 * declare const env: import("./env.ts").DeliveryEnv;
 * declare const group: import("../groups/mod.ts").CompiledGroup;
 * const { started } = await startRound(env, group, { max: 16, visibilityMs: 30_000, bytes: 0 });
 * ```
 */
export async function startRound(
  env: DeliveryEnv,
  group: CompiledGroup,
  options: { readonly max: number; readonly visibilityMs: number; readonly bytes: number },
): Promise<Round> {
  const { kv, clock, scheduler, committer, store } = env.deps;
  const { name, id } = group.record;
  const { max, visibilityMs } = options;
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    const now = clock();
    const visibleUntil = now + visibilityMs;
    const op = new WriteSet();
    let checks = 0;
    let wrote = false;
    let bytes = options.bytes;
    let scanned = 0;
    /**
     * What to start: a due entry's delivery, guarded by the check on that entry, or a
     * topic-log entry's (at its position), guarded by the check on its cursor.
     */
    const picks: { head: DeliveryHead; publishedAt: number; guardedBy: Deno.KvKey; at?: Cursor }[] =
      [];
    // Over the byte budget: a message of `size` would not fit after those already taken.
    let over = false;
    const fits = (size: number) =>
      picks.length === 0 && options.bytes === 0 || bytes + size <= MAX_RECEIVE_BYTES;
    // Full: enough messages, checks, scanning or body bytes.
    const full = () =>
      over || picks.length >= max || checks >= MAX_CHECKS - 2 || scanned >= SCAN_LIMIT;
    const dueIter = kv.list<DueRecord>({
      start: keys.dues(id),
      end: [...keys.dues(id), now + 1],
    }, { limit: Math.min(max, MAX_CHECKS / 2) });
    for await (const entry of dueIter) {
      if (full()) break;
      const size = entry.value.bodySize ?? await bodySizeOf(kv, entry.value.messageId);
      if (!fits(size)) {
        over = true;
        break;
      }
      op.check(entry).delete(entry.key); // a due entry hands out its delivery's next event, once
      checks++;
      picks.push({
        head: dueHead(entry.value),
        publishedAt: entry.value.publishedAt,
        guardedBy: entry.key,
      });
      bytes += size;
    }
    const locks = new Map<string, Deno.KvEntryMaybe<OrderLock>>();
    for (const subscription of group.subscriptions) {
      if (full()) break;
      const cursorKey = keys.cursor(id, subscription.topic);
      const cursorEntry = await kv.get<Cursor>(cursorKey);
      let cursor = cursorEntry.value ?? { vs: "", index: 0 };
      const start = cursor;
      // The tag counts move with the cursor: each entry it passes is counted under its tag.
      const seen = start.seen ? { ...start.seen } : undefined;
      checks++;
      for await (const { entry, at, next } of env.groups.readLog(subscription.topic, cursor)) {
        if (full()) break;
        const matches = subscription.matches(entry.tag, entry.properties);
        const deliverAt = entry.deliverAt ?? 0;
        // Checked before the cursor passes the entry, so that it stays for the next receive
        // (one waiting behind its message group would not take the bytes; stopping is harmless).
        if (matches && deliverAt <= now && !fits(entry.bodySize ?? 0)) {
          over = true;
          break;
        }
        scanned++;
        cursor = next;
        if (seen) seen[entry.tag ?? ""] = (seen[entry.tag ?? ""] ?? 0) + 1;
        if (!matches) continue;
        if (group.record.ordered && entry.messageGroup !== undefined) {
          const lockKey = keys.orderLock(id, entry.messageGroup);
          let lock = locks.get(entry.messageGroup);
          if (!lock) {
            lock = await kv.get<OrderLock>(lockKey);
            locks.set(entry.messageGroup, lock);
            op.check(lock); // one message of a message group in progress at a time
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
            op.set(keys.orderWait(id, entry.messageGroup, at.vs, at.index), wait);
            op.set(lockKey, lock.value);
            wrote = true;
            continue;
          }
          const taken = { key: lockKey, value: { messageId: entry.messageId }, versionstamp: "" };
          locks.set(entry.messageGroup, taken);
          op.set(lockKey, taken.value);
        }
        if (deliverAt > now) {
          putDue(op, id, deliverAt, entryToDue(entry, subscription.topic));
          wrote = true;
          continue;
        }
        const due = entryToDue(entry, subscription.topic);
        picks.push({
          head: dueHead(due),
          publishedAt: entry.publishedAt,
          guardedBy: cursorKey,
          at,
        });
        bytes += entry.bodySize ?? 0;
      }
      if (cursor.vs !== start.vs || cursor.index !== start.index) {
        if (seen) cursor = { vs: cursor.vs, index: cursor.index, seen };
        op.check(cursorEntry).set(cursorKey, cursor); // no two receives route one entry
        wrote = true;
      }
    }
    if (picks.length === 0 && !wrote) return { started: [], full: false, bytes };
    const lease: InflightRecord[] = [];
    const scope = { kv, group, lease, leaseId: monotonicUlid };
    const started: Started[] = [];
    const firstAttempts = new FirstAttempts({ groupId: id, group: name, at: now, visibleUntil });
    for (const pick of picks) {
      let steps: DeliveryStep[] | undefined;
      if (pick.at) {
        const step = firstAttempts.start(op, store, { ...pick, at: pick.at });
        steps = step ? [step] : undefined;
      } else {
        const events: DeliveryEvent[] = [];
        if (pick.head.state === "retrying") {
          events.push({
            type: "DeliveryRetryDue",
            data: { attempt: pick.head.context.attempt },
            at: now,
          });
        }
        events.push({
          type: "DeliveryAttempted",
          data: { group: name, attempt: pick.head.context.attempt + 1, visibleUntil },
          at: now,
        });
        steps = appendDelivery(op, store, id, pick.head, events, { guardedBy: pick.guardedBy });
      }
      if (!steps) {
        throw new TypeError(
          `Cannot start delivery of ${pick.head.messageId}: the machine refuses it in state ${pick.head.state}`,
        );
      }
      for (const step of steps) await carryOutDelivery(op, scope, step);
      started.push({ head: steps.at(-1)!.after, publishedAt: pick.publishedAt });
    }
    firstAttempts.writeTo(op);
    for (let i = 0; i < lease.length; i += LEASE_CHUNK) {
      op.set(keys.lease(id, visibleUntil, monotonicUlid()), lease.slice(i, i + LEASE_CHUNK));
    }
    if (started.length > 0) {
      scheduleExpiry(op, scheduler, group.record, visibleUntil);
    }
    const isFull = full();
    if (await committer.commit(op)) return { started, full: isFull, bytes };
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (attempt + 1)));
  }
  throw new ContentionError(`Cannot receive from ${name}: too many concurrent receivers`);
}
