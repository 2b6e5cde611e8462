/**
 * Delivering committed messages to consumer groups: the use cases a
 * consumer calls (receive, ack, nack, visibility), the expiry job's, and
 * the operator's (dead letters, redrive). Each lives in its own module; this
 * one only ties them to the group being served:
 *
 * - `receive.ts`: routing at read time, from due entries and topic logs;
 * - `long_poll.ts`: waiting until work may be ready;
 * - `settle.ts`: reading receipt handles and ending attempts;
 * - `acks.ts` and `ack_batcher.ts`: acks by record, and acks made at once settled together;
 * - `visibility.ts`: more time for a delivery, and expiry;
 * - `dead_letters.ts`: listing and redriving;
 * - `step.ts` and `effects.ts`: the delivery machine's decision and its writes.
 *
 * @module
 */
import type { ReceivedMessage } from "../../domain/wire.ts";
import type { EngineDeps } from "../deps.ts";
import type { Groups } from "../groups/mod.ts";
import { AckBatcher } from "./ack_batcher.ts";
import { listDeadLetters, redrive } from "./dead_letters.ts";
import type { DeliveryEnv } from "./env.ts";
import { waitForWork, wakeState } from "./long_poll.ts";
import { ReceiptKeys } from "./receipt_keys.ts";
import { type Started, startRound } from "./receive.ts";
import { toReceived } from "./received.ts";
import type { DeadLetterRecord } from "./records.ts";
import { readHandles, settleHeads, type SettleResult } from "./settle.ts";
import { changeVisibility, expire } from "./visibility.ts";

export type { ReceivedMessage } from "../../domain/wire.ts";
export type { DeadLetterRecord } from "./records.ts";
export type { SettleResult } from "./settle.ts";
export { MAX_RECEIVE_BYTES } from "./receive.ts";

/** Options of {@linkcode Deliveries.receive}. */
export interface ReceiveOptions {
  /** Most messages to return. @default {16} */
  readonly max?: number;
  /** How long to wait for a message when none is ready, in ms. @default {0} */
  readonly waitMs?: number;
  /** Overrides the group's visibility timeout, in seconds. */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * The consumer went away (its request was aborted): a long poll ends, and
   * what a receive had already started is released at once, not left in
   * flight until its visibility timeout.
   */
  readonly signal?: AbortSignal;
}

/**
 * A signal that aborts when either does, and a release that unhooks it.
 * `AbortSignal.any` is not used here: every call registers a dependent on
 * the broker's long-lived `closing` signal, and at thousands of long polls a
 * second that bookkeeping cost more than the delivery itself (p50 publish →
 * receipt at 1,000 msg/s went from about 50 ms to about 150 ms).
 */
function eitherSignal(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  if (a.aborted || b.aborted) abort();
  a.addEventListener("abort", abort, { once: true });
  b.addEventListener("abort", abort, { once: true });
  return {
    signal: controller.signal,
    release() {
      a.removeEventListener("abort", abort);
      b.removeEventListener("abort", abort);
    },
  };
}

/** How a delivery the consumer never got ends its attempt: deliverable again at once. */
const RELEASED = {
  kind: "fail",
  error: "released: the consumer went away before the messages reached it",
  delayMs: 0,
} as const;

/** Most messages one receive returns. */
export const MAX_RECEIVE = 256;
/** Most commit rounds of one receive (each starts up to ~88 deliveries). */
const MAX_ROUNDS = 8;

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
  readonly #env: DeliveryEnv;
  readonly #receiving = new Map<string, Promise<void>>();
  /** Groups (by incarnation id) whose last round started deliveries. */
  readonly #busy = new Set<string>();
  readonly #ackers = new Map<string, AckBatcher>();

  /** Creates the use cases over the engine's collaborators. */
  constructor(deps: EngineDeps, groups: Groups, receiptKeys?: ReceiptKeys) {
    this.#env = { deps, groups, receiptKeys: receiptKeys ?? new ReceiptKeys(deps.kv, deps.clock) };
  }

  /** The signer of this broker's receipt handles. */
  get receiptKeys(): ReceiptKeys {
    return this.#env.receiptKeys;
  }

  /**
   * Starts delivery of up to `max` ready messages and returns them with
   * their receipt handles; with `waitMs`, waits for one to be ready.
   */
  async receive(groupName: string, options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    const { clock, closing, kv } = this.#env.deps;
    const max = Math.min(options.max ?? 16, MAX_RECEIVE);
    const stopped = () => closing.aborted || options.signal?.aborted === true;
    const deadline = clock() + (closing.aborted ? 0 : options.waitMs ?? 0);
    let first = true;
    for (;;) {
      const group = await this.#env.groups.compiled(groupName);
      const vt = options.visibilityTimeoutSeconds ?? group.record.visibilityTimeoutSeconds;
      // Read the wake-up keys before looking for work, so that work committed while
      // looking is seen as a change by the wait below, not taken as its baseline. When
      // the group's last round found work, this receive's first round is likely to find
      // more and goes without: if it comes back empty, the baseline is read and the
      // round run again before any wait (a KV read less per receive under load).
      const eager = deadline > clock() && !(first && this.#busy.has(group.record.id));
      first = false;
      const baseline = eager ? await wakeState(kv, group) : "";
      let more = false;
      const started = await this.#oneAtATime(group.record.id, async () => {
        const all: Started[] = [];
        let bytes = 0;
        for (let round = 0; round < MAX_ROUNDS && all.length < max; round++) {
          const got = await startRound(this.#env, group, {
            max: max - all.length,
            visibilityMs: vt * 1000,
            bytes,
          });
          all.push(...got.started);
          bytes = got.bytes;
          more = got.full;
          if (!more) break;
        }
        return all;
      });
      if (started.length === 0) this.#busy.delete(group.record.id);
      else {
        this.#busy.add(group.record.id);
        if (options.signal?.aborted) {
          await this.#release(group, started);
          return [];
        }
        return await toReceived(this.#env, group, started);
      }
      if (clock() >= deadline || stopped()) return [];
      // Look again without waiting when the rounds ran out while the log had more to
      // scan past the cursor (entries for other tags: no wake-up key changes for them),
      // or when this round went without a baseline (there is nothing to wait on yet).
      if (more || !eager) continue;
      if (!options.signal) {
        await waitForWork(kv, clock, group, { deadline, baseline, signal: closing });
        continue;
      }
      const either = eitherSignal(options.signal, closing);
      try {
        await waitForWork(kv, clock, group, { deadline, baseline, signal: either.signal });
      } finally {
        either.release();
      }
    }
  }

  /**
   * Acknowledges deliveries; unknown, expired or stale handles are listed as
   * failed. Acks of the group made while one is being settled settle
   * together after it (see `ack_batcher.ts`).
   */
  async ack(groupName: string, handles: readonly string[]): Promise<SettleResult> {
    let batcher = this.#ackers.get(groupName);
    if (!batcher) {
      batcher = new AckBatcher((texts) => this.#settle(groupName, texts, { kind: "ack" }));
      this.#ackers.set(groupName, batcher);
    }
    try {
      return await batcher.ack(handles);
    } finally {
      if (batcher.idle && this.#ackers.get(groupName) === batcher) this.#ackers.delete(groupName);
    }
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
   * Gives deliveries back at once, for a consumer that never got them (its
   * connection closed before the answer reached it): each attempt fails with
   * a "released" reason and is deliverable again now. A handle already
   * settled is left alone.
   */
  async release(groupName: string, handles: readonly string[]): Promise<SettleResult> {
    return await this.#settle(groupName, handles, RELEASED);
  }

  /**
   * Moves the end of a delivery's visibility timeout to now + `seconds` and
   * returns a new handle; the old one stops working.
   */
  async changeVisibility(
    groupName: string,
    handle: string,
    seconds: number,
  ): Promise<{ receiptHandle: string; visibleUntil: number } | { failed: string }> {
    const group = await this.#env.groups.compiled(groupName);
    return await changeVisibility(this.#env, group, handle, seconds);
  }

  /** Fails every delivery of the group whose visibility timeout has passed; returns how many. */
  async expire(groupName: string): Promise<number> {
    return await expire(this.#env, await this.#env.groups.compiled(groupName));
  }

  /** Lists a group's dead letters, oldest message first, with a cursor for the next page. */
  async deadLetters(
    groupName: string,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<{ messages: DeadLetterRecord[]; cursor?: string }> {
    return await listDeadLetters(this.#env, await this.#env.groups.compiled(groupName), options);
  }

  /** Delivers dead letters again from attempt 1 (all when `messageIds` is omitted). */
  async redrive(groupName: string, messageIds?: readonly string[]): Promise<number> {
    return await redrive(this.#env, await this.#env.groups.compiled(groupName), messageIds);
  }

  async #settle(
    groupName: string,
    texts: readonly string[],
    outcome: Parameters<typeof settleHeads>[3],
  ): Promise<SettleResult> {
    const group = await this.#env.groups.compiled(groupName);
    const { valid, failed } = await readHandles(this.#env, group, texts);
    const result = await settleHeads(this.#env, group, valid, outcome);
    return { settled: result.settled, failed: [...failed, ...result.failed] };
  }

  /** Gives back what a receive started for a consumer that went away: deliverable again now. */
  async #release(
    group: Awaited<ReturnType<Groups["compiled"]>>,
    started: readonly Started[],
  ): Promise<void> {
    await settleHeads(
      this.#env,
      group,
      started.map(({ head }) => ({ head, text: head.messageId })),
      {
        kind: "fail",
        error: "released: the consumer went away before the messages reached it",
        delayMs: 0,
      },
    );
  }

  /**
   * Runs `task` after the group's earlier receives in this process: they
   * would all move the same cursor, so running them together only makes all
   * but one fail their check and start over. Other processes are kept apart
   * by that check.
   */
  async #oneAtATime<T>(groupId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#receiving.get(groupId) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.then(() => {}, () => {});
    this.#receiving.set(groupId, settled);
    try {
      return await run;
    } finally {
      if (this.#receiving.get(groupId) === settled) this.#receiving.delete(groupId);
    }
  }
}
