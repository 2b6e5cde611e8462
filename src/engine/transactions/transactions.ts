/**
 * Transactional (half) messages: prepare, commit, rollback and check-back.
 *
 * Every change follows one pattern: read the stream, replay it through the
 * transaction machine, refuse an event the state cannot take, then append the
 * event at the expected version in one `kv.atomic()` together with what the
 * machine's actions ask for (the next durable timer, the topic-log entry, the
 * index updates). A version conflict reloads and retries.
 *
 * @module
 */
import { monotonicUlid } from "@std/ulid";
import { pureTransition } from "../../../machines/pure_transition.ts";
import {
  type ArmCheckTimerParams,
  FINAL_STATES,
  type TransactionAction,
  transactionMachine,
  type TransactionState,
} from "../../../machines/transaction.ts";
import { encodeBody, type EncodedBody } from "../../domain/body.ts";
import { canonicalJson } from "../../domain/canonical_json.ts";
import { ConflictError, ContentionError, NotFoundError } from "../../domain/errors.ts";
import type {
  DecisionReason,
  StoredEvent,
  TransactionEvent,
  TransactionPreparedData,
} from "../../domain/events.ts";
import type { MessageInput, MessageRecord } from "../../domain/message.ts";
import type { StreamId } from "../../store/event_store.ts";
import { keys } from "../../store/keys.ts";
import {
  needsStaging,
  readBody,
  readMessage,
  type StagedBody,
  writeMessage,
} from "../../store/message_store.ts";
import { type CachedStream, StreamCache } from "./stream_cache.ts";
import { handleCommand } from "../command.ts";
import { WriteSet } from "../../store/write_set.ts";
import { type EngineDeps, MAX_WRITE_ATTEMPTS } from "../deps.ts";
import { BodyUploads } from "../publishing/body_upload.ts";
import { makeVisible, messageFields } from "../publishing/publisher.ts";
import { replayTransaction, type TransactionSnapshot } from "./replay.ts";
import { countIn, type Topics } from "../publishing/topics.ts";

/** RocketMQ's `transactionTimeOut`: first check-back after 6 s. */
export const DEFAULT_CHECK_AFTER_SECONDS = 6;
/** RocketMQ's `transactionCheckInterval`: 30 s between check-backs. */
export const DEFAULT_CHECK_INTERVAL_SECONDS = 30;
/** RocketMQ's `transactionCheckMax`: 15 check-backs, then give up. */
export const DEFAULT_MAX_CHECKS = 15;

/** A half message: the message fields plus the transaction's settings. */
export interface PrepareInput extends MessageInput {
  readonly transactionId?: string;
  readonly producerGroup?: string;
  readonly checkUrl?: string;
  readonly checkAfterSeconds?: number;
  readonly checkIntervalSeconds?: number;
  readonly maxChecks?: number;
}

/** The producer's decision through the API. */
export type Decision = "commit" | "rollback";

/** A transaction as the API shows it. */
export interface TransactionView {
  readonly transactionId: string;
  readonly messageId: string;
  readonly topic: string;
  readonly tag?: string;
  readonly producerGroup?: string;
  readonly state: TransactionState;
  readonly checks: number;
  readonly createdAt: number;
  readonly decidedAt?: number;
  readonly reason?: DecisionReason;
  readonly history: readonly StoredEvent[];
}

/** Filters of {@linkcode Transactions.list}. */
export interface TransactionQuery {
  readonly state?: TransactionState;
  readonly producerGroup?: string;
  /** @default {100} */
  readonly limit?: number;
}

const stream = (transactionId: string): StreamId => ({ kind: "tx", id: transactionId });

function stateOf(snapshot: TransactionSnapshot): TransactionState {
  return snapshot.value as TransactionState;
}

function viewOf(snapshot: TransactionSnapshot, history: readonly StoredEvent[]): TransactionView {
  const c = snapshot.context;
  return {
    transactionId: c.transactionId,
    messageId: c.messageId,
    topic: c.topic,
    state: stateOf(snapshot),
    checks: c.checks,
    createdAt: c.preparedAt,
    history,
    ...(c.tag !== undefined ? { tag: c.tag } : {}),
    ...(c.producerGroup !== undefined ? { producerGroup: c.producerGroup } : {}),
    ...(c.decidedAt !== undefined ? { decidedAt: c.decidedAt } : {}),
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
  };
}

/**
 * The transaction use cases.
 *
 * @example
 * ```ts
 * import { Transactions } from "./transactions.ts";
 * declare const transactions: Transactions;
 * const { view } = await transactions.prepare("Trade", { tag: "DiscountPurchase", body: {} });
 * await transactions.decide(view.transactionId, "commit");
 * ```
 */
export class Transactions {
  readonly #deps: EngineDeps;
  readonly #topics: Topics;
  readonly #cache = new StreamCache();
  readonly #uploads: BodyUploads;

  /** Creates the use cases over the engine's collaborators. */
  constructor(deps: EngineDeps, topics: Topics) {
    this.#deps = deps;
    this.#topics = topics;
    this.#uploads = new BodyUploads(deps);
  }

  /**
   * Stores a half message and starts its transaction (`executing`). With a
   * client-chosen `transactionId`, the same content again returns the same
   * transaction (`created: false`); other content is a 409.
   */
  async prepare(
    topic: string,
    input: PrepareInput,
  ): Promise<{ view: TransactionView; created: boolean }> {
    const { store, clock, committer, outbound } = this.#deps;
    await this.#topics.require(topic);
    if (input.checkUrl !== undefined) await outbound.check(input.checkUrl, "checkUrl");
    const body = encodeBody(input);
    const transactionId = input.transactionId ?? monotonicUlid();
    const large = needsStaging(body);
    let staged: StagedBody | undefined;
    let committed = false;
    try {
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        // Most ids are new: try the append first (it checks the stream is empty) and read
        // only when it lost, to tell a client's retry (same content) from a clash. A large
        // body is read for first: a retry should not upload it again.
        const existing = attempt === 0 && !large
          ? { events: [], version: 0 }
          : await store.read<TransactionEvent>(stream(transactionId));
        if (existing.version > 0) {
          const snapshot = replayTransaction(existing.events);
          if (!(await this.#sameContent(snapshot.context, topic, input, body))) {
            throw new ConflictError(
              `Cannot prepare transaction ${transactionId}: the id is taken by other content`,
              { transactionId, state: stateOf(snapshot) },
            );
          }
          return { view: viewOf(snapshot, existing.events), created: false };
        }
        // A staged body keeps its message id through the attempts: its chunks are under it.
        const messageId = staged?.messageId ?? monotonicUlid();
        staged ??= await this.#uploads.stageIfLarge(messageId, body);
        const at = clock();
        const prepared: TransactionPreparedData = {
          transactionId,
          messageId,
          topic,
          checkAfterMs: (input.checkAfterSeconds ?? DEFAULT_CHECK_AFTER_SECONDS) * 1000,
          checkIntervalMs: (input.checkIntervalSeconds ?? DEFAULT_CHECK_INTERVAL_SECONDS) * 1000,
          maxChecks: input.maxChecks ?? DEFAULT_MAX_CHECKS,
          ...(input.tag !== undefined ? { tag: input.tag } : {}),
          ...(input.producerGroup !== undefined ? { producerGroup: input.producerGroup } : {}),
          ...(input.checkUrl !== undefined ? { checkUrl: input.checkUrl } : {}),
        };
        const events: TransactionEvent[] = [
          { type: "TransactionPrepared", data: prepared, at },
          { type: "LocalTransactionStarted", data: {}, at },
        ];
        // The first event is the machine's input: its initial snapshot, resolved directly.
        const initial = transactionMachine.resolveState({
          value: "prepared",
          context: { ...prepared, checks: 0, preparedAt: at },
        });
        const [snapshot, actions] = pureTransition(transactionMachine, initial, events[1]!);
        const op = new WriteSet();
        const record = writeMessage(
          op,
          messageFields(messageId, topic, input, at, transactionId),
          body,
          staged,
        );
        store.append(op, stream(transactionId), 0, events);
        await this.#carryOut(op, actions, snapshot, at, record);
        op.set(keys.txByState(stateOf(snapshot), transactionId), null);
        if (prepared.producerGroup !== undefined) {
          op.set(keys.txByGroup(prepared.producerGroup, transactionId), null);
        }
        countIn(op, topic, "prepared");
        if (await committer.commit(op)) {
          committed = true;
          this.#cache.set(transactionId, { events, snapshot, record });
          this.#deps.recent.remember(record);
          return { view: viewOf(snapshot, events), created: true };
        }
        await this.#uploads.requireStaged(staged, `prepare transaction ${transactionId}`);
      }
    } finally {
      if (staged && !committed) await this.#uploads.discard(staged);
    }
    throw new ContentionError(`Cannot prepare transaction ${transactionId}: too much contention`);
  }

  /**
   * Applies the producer's decision. Repeating the decision already taken
   * changes nothing; the opposite decision after a final state is a 409.
   */
  async decide(transactionId: string, decision: Decision): Promise<TransactionView> {
    const { view } = await this.#apply(transactionId, (snapshot) => {
      const state = stateOf(snapshot);
      const wanted: TransactionState = decision === "commit" ? "committed" : "rolledBack";
      if (state === wanted) return undefined;
      if (FINAL_STATES.includes(state)) {
        throw new ConflictError(
          `Cannot ${decision} transaction ${transactionId}: current state is ${state}`,
          { transactionId, state },
        );
      }
      return decision === "commit"
        ? { type: "TransactionCommitted", data: {}, at: this.#deps.clock() }
        : { type: "TransactionRolledBack", data: {}, at: this.#deps.clock() };
    });
    return view;
  }

  /**
   * Records `event` if the transaction's state can take it (a stale timer or
   * a duplicate job is dropped); returns whether it was appended.
   */
  async record(transactionId: string, event: TransactionEvent): Promise<boolean> {
    const { appended } = await this.#apply(
      transactionId,
      (snapshot) => snapshot.can(event) ? event : undefined,
    );
    return appended;
  }

  /** Reads a transaction with its full history. */
  async get(transactionId: string): Promise<TransactionView> {
    const { events, version } = await this.#deps.store.read<TransactionEvent>(
      stream(transactionId),
    );
    if (version === 0) {
      throw new NotFoundError(`Cannot find transaction: ${transactionId}`, { transactionId });
    }
    return viewOf(replayTransaction(events), events);
  }

  /**
   * Lists transactions by state and/or producer group: by id within a state,
   * and by state then id when no state is given.
   */
  async list(query: TransactionQuery = {}): Promise<TransactionView[]> {
    const { kv } = this.#deps;
    const limit = query.limit ?? 100;
    const prefix = query.state !== undefined
      ? keys.txByStatePrefix(query.state)
      : query.producerGroup !== undefined
      ? keys.txByGroupPrefix(query.producerGroup)
      : keys.txStates();
    const views: TransactionView[] = [];
    for await (const entry of kv.list({ prefix })) {
      const view = await this.get(entry.key[2] as string);
      if (query.producerGroup !== undefined && view.producerGroup !== query.producerGroup) continue;
      if (query.state !== undefined && view.state !== query.state) continue;
      views.push(view);
      if (views.length >= limit) break;
    }
    return views;
  }

  /**
   * The command handler for one transaction: load (from the cache when it
   * has the stream, else from KV), let the machine decide, append at the
   * expected version with the actions' writes; a refusal or a no-op read
   * from the cache may be stale, so it is decided again on fresh events.
   */
  async #apply(
    transactionId: string,
    decide: (snapshot: TransactionSnapshot) => TransactionEvent | undefined,
  ): Promise<{ view: TransactionView; appended: boolean }> {
    const { store, committer } = this.#deps;
    interface Loaded {
      readonly events: readonly TransactionEvent[];
      readonly snapshot: TransactionSnapshot;
      readonly cached: CachedStream | undefined;
      next?: TransactionSnapshot;
    }
    return await handleCommand<Loaded, { view: TransactionView; appended: boolean }>(committer, {
      what: `change transaction ${transactionId}`,
      load: async (fresh) => {
        const cached = fresh ? undefined : this.#cache.get(transactionId);
        if (cached) return { events: cached.events, snapshot: cached.snapshot, cached };
        const { events } = await store.read<TransactionEvent>(stream(transactionId));
        if (events.length === 0) {
          throw new NotFoundError(`Cannot find transaction: ${transactionId}`, { transactionId });
        }
        return { events, snapshot: replayTransaction(events), cached: undefined };
      },
      decide: async (loaded) => {
        const { events, snapshot, cached } = loaded;
        let event: TransactionEvent | undefined;
        try {
          event = decide(snapshot);
        } catch (error) {
          if (cached) return { reload: true };
          throw error;
        }
        if (!event) {
          if (cached) return { reload: true };
          if (!FINAL_STATES.includes(stateOf(snapshot))) {
            this.#cache.set(transactionId, { events, snapshot });
          }
          return { done: { view: viewOf(snapshot, events), appended: false } };
        }
        const [next, actions] = pureTransition(transactionMachine, snapshot, event);
        loaded.next = next;
        const op = new WriteSet();
        store.append(op, stream(transactionId), events.length, [event]);
        await this.#carryOut(op, actions, next, event.at, cached?.record);
        const before = stateOf(snapshot);
        const after = stateOf(next);
        if (before !== after) {
          op.delete(keys.txByState(before, transactionId))
            .set(keys.txByState(after, transactionId), null);
          if (after === "committed" || after === "rolledBack") {
            countIn(op, next.context.topic, after);
            this.#observeDecision(op, next, after);
          }
        }
        return { write: op, result: { view: viewOf(next, [...events, event]), appended: true } };
      },
      committed: (loaded, result) => {
        const next = loaded.next!;
        // A decided transaction will not be written again (but for a late answer): keep
        // only open ones, so the cache holds what is in progress.
        if (FINAL_STATES.includes(stateOf(next))) this.#cache.delete(transactionId);
        else {
          this.#cache.set(transactionId, {
            events: result.view.history as TransactionEvent[],
            snapshot: next,
            ...(loaded.cached?.record ? { record: loaded.cached.record } : {}),
          });
        }
      },
      conflicted: () => this.#cache.delete(transactionId), // another writer got there first
    });
  }

  /** Counts a decided transaction (and logs one rolled back by exhausted checks) once committed. */
  #observeDecision(
    op: WriteSet,
    next: TransactionSnapshot,
    after: "committed" | "rolledBack",
  ): void {
    const { logger, metrics } = this.#deps;
    const { transactionId, messageId, topic, reason, checks } = next.context;
    op.onCommitted(() => {
      metrics.transactionDecided(after, reason ?? "producer");
      if (after === "committed") metrics.published(topic);
      if (after === "rolledBack" && reason === "checksExhausted") {
        logger.warn(
          "transaction.rolledBack",
          `transaction ${transactionId} rolled back: its ${checks} check-backs gave no decision`,
          { transactionId, messageId, topic, checks, reason },
        );
      }
    });
  }

  /**
   * Whether a prepare repeats the stored one: same message and settings once
   * defaults are filled in. Only asked when a client reuses a transaction id.
   */
  async #sameContent(
    prepared: TransactionPreparedData,
    topic: string,
    input: PrepareInput,
    body: EncodedBody,
  ): Promise<boolean> {
    const { kv } = this.#deps;
    const record = await readMessage(kv, prepared.messageId);
    if (!record) return false;
    const stored = canonicalJson({
      topic: prepared.topic,
      tag: prepared.tag,
      producerGroup: prepared.producerGroup,
      checkUrl: prepared.checkUrl,
      checkAfterMs: prepared.checkAfterMs,
      checkIntervalMs: prepared.checkIntervalMs,
      maxChecks: prepared.maxChecks,
      keys: record.keys,
      properties: record.properties,
      delaySeconds: record.delaySeconds,
      messageGroup: record.messageGroup,
      dedupId: record.dedupId,
      bodyEncoding: record.bodyEncoding,
    });
    const asked = canonicalJson({
      topic,
      tag: input.tag,
      producerGroup: input.producerGroup,
      checkUrl: input.checkUrl,
      checkAfterMs: (input.checkAfterSeconds ?? DEFAULT_CHECK_AFTER_SECONDS) * 1000,
      checkIntervalMs: (input.checkIntervalSeconds ?? DEFAULT_CHECK_INTERVAL_SECONDS) * 1000,
      maxChecks: input.maxChecks ?? DEFAULT_MAX_CHECKS,
      keys: input.keys ?? [],
      properties: input.properties ?? {},
      delaySeconds: input.delaySeconds || undefined,
      messageGroup: input.messageGroup,
      dedupId: input.dedupId,
      bodyEncoding: body.encoding,
    });
    if (stored !== asked) return false;
    const bytes = await readBody(kv, record);
    if (body.encoding === "json") {
      // A JSON body means the same whatever its key order.
      return canonicalJson(JSON.parse(new TextDecoder().decode(bytes))) ===
        canonicalJson(input.body);
    }
    return bytes.length === body.bytes.length && bytes.every((b, i) => b === body.bytes[i]);
  }

  /** Carries out the machine's named actions as writes in the same commit. */
  async #carryOut(
    op: WriteSet,
    actions: readonly { readonly type: string; readonly params?: unknown }[],
    snapshot: TransactionSnapshot,
    at: number,
    known?: MessageRecord,
  ): Promise<void> {
    const { kv, scheduler } = this.#deps;
    const { transactionId, messageId } = snapshot.context;
    for (const action of actions) {
      const type = action.type as TransactionAction;
      switch (type) {
        case "armCheckTimer": {
          const { check, delayMs } = action.params as ArmCheckTimerParams;
          scheduler.schedule(op, { kind: "checkBackDue", transactionId, check }, at + delayMs);
          break;
        }
        case "requestCheckBack": {
          const { check } = action.params as { check: number };
          scheduler.schedule(op, { kind: "checkBack", transactionId, check }, at);
          break;
        }
        case "publishMessage": {
          const record = known ?? await readMessage(kv, messageId);
          if (!record) throw new TypeError(`Cannot publish: message ${messageId} is missing`);
          makeVisible(op, [record], at);
          break;
        }
        case "ignoreLateAnswer":
        case "countCheck":
        case "decideBy":
          break; // recorded by the event itself, or changes only the machine's context
        default: {
          const never: never = type;
          throw new TypeError(`Cannot carry out transaction action ${never}`);
        }
      }
    }
  }
}
