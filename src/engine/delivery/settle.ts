/**
 * Settling deliveries: reading receipt handles (signature, group, its
 * incarnation, expiry) and ending attempts (ack, or a failure that the retry
 * policy turns into a retry or a dead letter). Handles are settled by the
 * lease that lists their heads, in chunks, one commit each that checks the
 * lease: an ack chunk writes one ack record for all its handles (see
 * `acks.ts`), a failure appends each delivery's event at the head its handle
 * names. When a chunk loses, its handles are settled one by one through the
 * command handler, which reads the history of a handle that lost and
 * refuses it naming where the delivery is now.
 *
 * @module
 */
import { monotonicUlid } from "@std/ulid";
import type { DeliveryEvent } from "../../domain/events.ts";
import type { HandleRefusal, ReceiptHandle } from "../../domain/receipt_handle.ts";
import { nextRetry } from "../../domain/retry_policy.ts";
import { WriteSet } from "../../store/write_set.ts";
import { handleCommand } from "../command.ts";
import type { CompiledGroup } from "../groups/mod.ts";
import { carryOutDelivery } from "./effects.ts";
import { type DeliveryEnv, SETTLE_CHUNK } from "./env.ts";
import { type AckedItem, findLease, headKey, type LeaseEntry, leasesAt, putAck } from "./acks.ts";
import { readDelivery } from "./history.ts";
import { deliveryEventKey, type InflightRecord } from "./records.ts";
import {
  appendDelivery,
  decideDelivery,
  type DeliveryHead,
  deliveryStream,
  replayDelivery,
} from "./step.ts";

/** Result of settling receipt handles. */
export interface SettleResult {
  readonly settled: number;
  readonly failed: { readonly receiptHandle: string; readonly reason: string }[];
}

/** How a settle ends a delivery attempt. */
export type Outcome =
  | { readonly kind: "ack" }
  | { readonly kind: "fail"; readonly error: string; readonly delayMs?: number };

/** A delivery to settle: the head its handle (or lease) states, and the text to report it by. */
export interface Settling {
  readonly head: DeliveryHead;
  readonly text: string;
}

const REFUSALS: Record<HandleRefusal, string> = {
  "malformed": "receipt handle is malformed",
  "unknown key": "receipt handle is not signed by this broker (or by a key retired too long ago)",
  "bad signature": "receipt handle signature does not match: it was altered or not issued here",
};

/**
 * The head a verified handle states: in flight on its attempt until its
 * visibility ends, at the seq it names.
 *
 * @example
 * ```ts
 * import { handleHead } from "./settle.ts";
 * handleHead({ group: "ops", groupId: "g1", messageId: "m1", topic: "T", seq: 1,
 *   attempt: 1, visibleUntil: 30_000 }).state; // "inFlight"
 * ```
 */
export function handleHead(handle: ReceiptHandle): DeliveryHead {
  return {
    messageId: handle.messageId,
    topic: handle.topic,
    ...(handle.messageGroup !== undefined ? { messageGroup: handle.messageGroup } : {}),
    seq: handle.seq,
    state: "inFlight",
    context: { attempt: handle.attempt, visibleUntil: handle.visibleUntil },
  };
}

/**
 * Reads receipt handle texts for `group`: each is valid (signed by this
 * broker, for this group and incarnation, not expired) or failed with its
 * reason. Reading changes nothing.
 *
 * @example
 * ```ts
 * import { readHandles } from "./settle.ts";
 * declare const env: import("./env.ts").DeliveryEnv;
 * declare const group: import("../groups/mod.ts").CompiledGroup;
 * const { valid, failed } = await readHandles(env, group, ["garbage"]);
 * ```
 */
export async function readHandles(
  env: DeliveryEnv,
  group: CompiledGroup,
  texts: readonly string[],
): Promise<{ valid: (Settling & { handle: ReceiptHandle })[]; failed: SettleResult["failed"] }> {
  const now = env.deps.clock();
  const valid: (Settling & { handle: ReceiptHandle })[] = [];
  const failed: SettleResult["failed"] = [];
  for (const text of new Set(texts)) {
    const reading = await env.receiptKeys.read(text);
    const reason = !reading.ok
      ? REFUSALS[reading.reason]
      : reading.handle.group !== group.record.name
      ? `receipt handle belongs to group ${reading.handle.group}`
      : reading.handle.groupId !== group.record.id
      ? `receipt handle belongs to an earlier group ${group.record.name}, since deleted`
      : reading.handle.visibleUntil <= now
      ? "receipt handle expired"
      : undefined;
    if (reason !== undefined || !reading.ok) {
      failed.push({ receiptHandle: text, reason: reason ?? "receipt handle is malformed" });
    } else {
      valid.push({ head: handleHead(reading.handle), text, handle: reading.handle });
    }
  }
  return { valid, failed };
}

/**
 * The event that ends the current attempt of a delivery at `head` with
 * `outcome`: acked, failed with its retry time, or dead-lettered when the
 * retry policy has no attempt left.
 *
 * @example
 * ```ts
 * import { outcomeEvent } from "./settle.ts";
 * declare const group: import("../groups/mod.ts").CompiledGroup;
 * declare const head: import("./step.ts").DeliveryHead;
 * outcomeEvent(group, head, { kind: "ack" }, Date.now()).type; // "DeliveryAcked"
 * ```
 */
export function outcomeEvent(
  group: CompiledGroup,
  head: DeliveryHead,
  outcome: Outcome,
  now: number,
): DeliveryEvent {
  const attempt = head.context.attempt;
  if (outcome.kind === "ack") return { type: "DeliveryAcked", data: { attempt }, at: now };
  const decision = nextRetry(group.record, attempt);
  if (!decision.retry) {
    return { type: "DeliveryDeadLettered", data: { attempt, error: outcome.error }, at: now };
  }
  return {
    type: "DeliveryFailed",
    data: { attempt, error: outcome.error, retryAt: now + (outcome.delayMs ?? decision.delayMs) },
    at: now,
  };
}

/**
 * Ends the attempts of deliveries at their stated heads with `outcome`. The
 * deliveries are settled by lease (the lease that lists each head): a chunk
 * at a time per lease, leases side by side; an ack writes one ack record per
 * chunk (see `acks.ts`), any other outcome appends to each stream.
 *
 * @example
 * ```ts
 * import { settleHeads } from "./settle.ts";
 * declare const env: import("./env.ts").DeliveryEnv;
 * declare const group: import("../groups/mod.ts").CompiledGroup;
 * declare const items: import("./settle.ts").Settling[];
 * const { settled, failed } = await settleHeads(env, group, items, { kind: "ack" });
 * ```
 */
export async function settleHeads(
  env: DeliveryEnv,
  group: CompiledGroup,
  items: readonly Settling[],
  outcome: Outcome,
): Promise<SettleResult> {
  const { kv, committer } = env.deps;
  const times = items.flatMap(({ head }) =>
    head.state === "inFlight" && head.context.visibleUntil !== undefined
      ? [head.context.visibleUntil]
      : []
  );
  const leases = await leasesAt(kv, group.record.id, times);
  const byLease = new Map<string, { lease: LeaseEntry; items: Settling[] }>();
  const unlisted: Settling[] = [];
  const listing = new Map<string, LeaseEntry>(); // end time and head → the lease listing it
  for (const [until, entries] of leases) {
    for (const entry of entries) {
      for (const record of entry.value) {
        const key = `${until}/${headKey(record)}`;
        if (!listing.has(key)) listing.set(key, entry);
      }
    }
  }
  for (const item of items) {
    const lease = listing.get(`${item.head.context.visibleUntil ?? -1}/${headKey(item.head)}`);
    if (!lease) {
      unlisted.push(item);
      continue;
    }
    const id = lease.key[3] as string;
    const of = byLease.get(id) ?? { lease, items: [] };
    of.items.push(item);
    byLease.set(id, of);
  }
  const one = async (item: Settling): Promise<SettleResult> => {
    const reason = await settleOne(env, group, item, outcome);
    return reason === undefined
      ? { settled: 1, failed: [] }
      : { settled: 0, failed: [{ receiptHandle: item.text, reason }] };
  };
  // Leases commit side by side (and share commits); the chunks of one lease one after
  // another, each checking the lease as the one before left it.
  const results = await Promise.all([
    ...[...byLease.values()].map(async (batch) => {
      let lease: LeaseEntry | undefined = batch.lease;
      let settled = 0;
      const failed: SettleResult["failed"] = [];
      for (let i = 0; i < batch.items.length; i += SETTLE_CHUNK) {
        const chunk = batch.items.slice(i, i + SETTLE_CHUNK);
        if (i > 0 && lease) {
          const entry: Deno.KvEntryMaybe<InflightRecord[]> = await kv.get(lease.key);
          lease = entry.value ? entry as LeaseEntry : undefined;
        }
        const op = lease ? await writeOutcomes(env, group, chunk, outcome, lease) : undefined;
        if (op && await committer.commit(op)) {
          settled += chunk.length;
          continue;
        }
        // Some delivery in the chunk moved on: settle one by one to tell which.
        for (const item of chunk) {
          const result = await one(item);
          settled += result.settled;
          failed.push(...result.failed);
        }
      }
      return { settled, failed };
    }),
    // No lease lists them: they moved on (or their lease ended); settle one by one to tell.
    ...unlisted.map(one),
  ]);
  return {
    settled: results.reduce((sum, r) => sum + r.settled, 0),
    failed: results.flatMap((r) => r.failed),
  };
}

/**
 * The writes of ending every item's attempt, all listed by `lease` (checked),
 * or undefined when the lease does not list one or the machine refuses one.
 */
async function writeOutcomes(
  env: DeliveryEnv,
  group: CompiledGroup,
  items: readonly Settling[],
  outcome: Outcome,
  lease: LeaseEntry,
): Promise<WriteSet | undefined> {
  const { kv, clock, store } = env.deps;
  const id = group.record.id;
  const op = new WriteSet();
  op.check(lease); // the lease lists the heads settled here, and an ack record takes them out
  const scope = { kv, group, leaseId: monotonicUlid, deps: env.deps };
  const now = clock();
  const acked: AckedItem[] = [];
  const listed = new Set(lease.value.map(headKey));
  for (const { head } of items) {
    if (!listed.has(headKey(head))) return undefined;
    const event = outcomeEvent(group, head, outcome, now);
    if (event.type !== "DeliveryAcked") {
      const steps = appendDelivery(op, store, id, head, [event]);
      if (!steps) return undefined;
      for (const step of steps) await carryOutDelivery(op, scope, step);
      continue;
    }
    const step = decideDelivery(head, event);
    if (!step) return undefined;
    // Stored nowhere but in the ack record: the event after the head must still be free.
    op.check({ key: deliveryEventKey(id, head.messageId, head.seq + 1), versionstamp: null });
    store.announce(op, deliveryStream(head.messageId, id), head.seq + 1, [event]);
    await carryOutDelivery(op, scope, step);
    acked.push({ messageId: head.messageId, seq: head.seq, attempt: head.context.attempt });
  }
  if (acked.length > 0) putAck(op, lease, acked, { at: now, ackId: monotonicUlid() });
  return op;
}

/** Settles one item through the command handler; returns the reason it was refused, if it was. */
async function settleOne(
  env: DeliveryEnv,
  group: CompiledGroup,
  item: Settling,
  outcome: Outcome,
): Promise<string | undefined> {
  const { kv, committer } = env.deps;
  const id = group.record.id;
  return await handleCommand<{ head: DeliveryHead; lease?: LeaseEntry }, string | undefined>(
    committer,
    {
      what: `settle message ${item.head.messageId} for group ${group.record.name}`,
      load: async () => {
        const head = replayDelivery(item.head, await readDelivery(kv, id, item.head));
        const lease = await findLease(kv, id, head);
        return { head, ...(lease ? { lease } : {}) };
      },
      decide: async ({ head, lease }) => {
        // The handle names the head it was issued at: once the stream moved past it, it is spent.
        if (head.seq !== item.head.seq || head.state !== item.head.state) {
          return {
            done:
              `receipt handle already used or superseded: the delivery is now ${head.state} (event ${head.seq})`,
          };
        }
        if (!lease) {
          return { done: "receipt handle already used or superseded: its lease has ended" };
        }
        const op = await writeOutcomes(env, group, [{ ...item, head }], outcome, lease);
        if (!op) return { done: `receipt handle cannot settle a delivery that is ${head.state}` };
        return { write: op, result: undefined };
      },
    },
  );
}
