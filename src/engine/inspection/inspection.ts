/**
 * Showing the broker's machines in the Stately inspector: a transaction's or
 * a delivery's history replayed as inspection messages, the machines'
 * definitions, and watches that follow machines live (see relay.ts).
 *
 * @module
 */
import { NotFoundError } from "../../domain/errors.ts";
import type { StoredEvent } from "../../domain/events.ts";
import type { EventBus } from "../../observe/bus.ts";
import type { EventStore } from "../../store/event_store.ts";
import { keys } from "../../store/keys.ts";
import { readMessage } from "../../store/message_store.ts";
import { type DeliveryOf, readDelivery } from "../delivery/history.ts";
import type { Groups } from "../groups/mod.ts";
import { InspectionRelay, type InspectionSink, type StreamRef, type Watch } from "./relay.ts";
import {
  deliverySession,
  type MachineKind,
  MACHINES,
  MachineTrace,
  transactionSession,
} from "./trace.ts";
import { definitionOf, type InspectionMessage, toInspectionJson } from "./wire.ts";

/** Which machines a watch follows. */
export type WatchTarget =
  | { readonly kind: "all" }
  | { readonly kind: "transaction"; readonly transactionId: string }
  | { readonly kind: "delivery"; readonly messageId: string; readonly group: string };

/** One machine's definitions, to open it in Stately's editor. */
export interface MachineDefinition {
  /** The machine's config as the inspector receives it (functions as `{ type: name }`). */
  readonly definition: unknown;
  /** XState's own `machine.toJSON()`: every state node resolved. */
  readonly json: unknown;
}

/** A resolved single-machine target: its stream and a fresh trace of it. */
interface ResolvedTarget {
  readonly stream: StreamRef;
  readonly trace: MachineTrace;
  /** When the machine has no events yet, when it started (a delivery is pending from its message's publication). */
  readonly startedAt?: number;
  /** For a delivery: its group incarnation and message, to read its whole history. */
  readonly delivery?: { readonly groupId: string; readonly of: DeliveryOf };
}

/**
 * The inspector's view of the broker.
 *
 * @example Replay a transaction
 * ```ts
 * import { Broker } from "../broker.ts";
 * using kv = await Deno.openKv(":memory:");
 * const broker = await Broker.open(kv);
 * await broker.topics.create("Trade");
 * const { view } = await broker.transactions.prepare("Trade", { body: {} });
 * const messages = await broker.inspection.transaction(view.transactionId);
 * console.log(messages[0]?.type); // "@xstate.actor"
 * ```
 */
export class Inspection {
  readonly #kv: Deno.Kv;
  readonly #store: EventStore;
  readonly #groups: Groups;
  readonly #relay: InspectionRelay;

  /** The inspection of the streams in `store`, followed live through `bus`. */
  constructor(deps: { kv: Deno.Kv; store: EventStore }, groups: Groups, bus: EventBus) {
    this.#kv = deps.kv;
    this.#store = deps.store;
    this.#groups = groups;
    this.#relay = new InspectionRelay(deps.kv, bus);
  }

  /** How many watches are open. */
  get watching(): number {
    return this.#relay.watching;
  }

  /** A transaction's machine replayed from its stored events; NotFoundError when it has none. */
  async transaction(transactionId: string): Promise<InspectionMessage[]> {
    return await this.#replay(await this.#resolve({ kind: "transaction", transactionId }));
  }

  /**
   * A message's delivery to `group` replayed from its stored events: a
   * delivery that has not begun is its machine's start alone. NotFoundError
   * when the message or the group does not exist.
   */
  async delivery(messageId: string, group: string): Promise<InspectionMessage[]> {
    return await this.#replay(await this.#resolve({ kind: "delivery", messageId, group }));
  }

  /** Both machines' definitions. */
  machines(): Record<MachineKind, MachineDefinition> {
    const of = (kind: MachineKind): MachineDefinition => ({
      definition: JSON.parse(definitionOf(MACHINES[kind])),
      json: toInspectionJson(MACHINES[kind].toJSON(), { functionsAsType: true }),
    });
    return { transaction: of("transaction"), delivery: of("delivery") };
  }

  /**
   * Checks that a watch's machine exists (NotFoundError otherwise), so that a
   * refused watch is refused before it starts.
   */
  async check(target: WatchTarget): Promise<void> {
    if (target.kind === "all") return;
    const { stream, startedAt } = await this.#resolve(target);
    if (stream.kind === "tx" && startedAt === undefined) {
      const [first] = await this.#read(stream, 1);
      if (!first) throw this.#missingTransaction(stream.id);
    }
  }

  /**
   * Starts a watch: every machine live, or one machine's history and then
   * its live events. Close the returned watch when the watcher leaves.
   */
  async watch(target: WatchTarget, sink: InspectionSink): Promise<Watch> {
    if (target.kind === "all") return this.#relay.watchAll(sink);
    const resolved = await this.#resolve(target);
    return await this.#relay.watchStream(
      resolved.stream,
      resolved.trace,
      () => this.#replay(resolved),
      sink,
    );
  }

  async #replay(target: ResolvedTarget): Promise<InspectionMessage[]> {
    const { stream, trace, delivery } = target;
    // A delivery's first attempt may be in a first-attempts record, its acked event in an
    // ack record, rather than in its stream (see delivery/history.ts).
    const events: StoredEvent[] = delivery
      ? await readDelivery(this.#kv, delivery.groupId, delivery.of)
      : (await this.#store.read<StoredEvent>(stream)).events;
    if (events.length === 0) {
      if (target.startedAt === undefined) throw this.#missingTransaction(stream.id);
      return trace.start(target.startedAt);
    }
    return trace.apply(1, events);
  }

  async #resolve(target: Exclude<WatchTarget, { kind: "all" }>): Promise<ResolvedTarget> {
    if (target.kind === "transaction") {
      return {
        stream: { kind: "tx", id: target.transactionId },
        trace: new MachineTrace("transaction", transactionSession(target.transactionId)),
      };
    }
    const [record, group] = await Promise.all([
      readMessage(this.#kv, target.messageId),
      this.#groups.require(target.group),
    ]);
    if (!record) {
      throw new NotFoundError(`Cannot find message: ${target.messageId}`, {
        messageId: target.messageId,
      });
    }
    return {
      stream: { kind: "dlv", id: keys.deliveryStreamId(target.messageId, group.id) },
      trace: new MachineTrace("delivery", deliverySession(target.messageId, group.name)),
      startedAt: record.storedAt,
      delivery: {
        groupId: group.id,
        of: {
          messageId: record.messageId,
          topic: record.topic,
          ...(record.messageGroup !== undefined ? { messageGroup: record.messageGroup } : {}),
        },
      },
    };
  }

  async #read(stream: StreamRef, limit: number): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    for await (
      const entry of this.#kv.list<StoredEvent>({ prefix: keys.stream(stream.kind, stream.id) }, {
        limit,
      })
    ) {
      events.push(entry.value);
    }
    return events;
  }

  #missingTransaction(transactionId: string): NotFoundError {
    return new NotFoundError(`Cannot find transaction: ${transactionId}`, { transactionId });
  }
}
