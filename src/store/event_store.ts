/**
 * Event streams on Deno KV. A stream is the ordered list of events under
 * `["ev", kind, id, seq]`, seq counting from 1. Appending at an expected
 * version adds a check that the next seq is still free to a caller's atomic
 * operation, so the append commits together with the index updates and jobs
 * it triggers, or not at all.
 *
 * @module
 */
import type { StoredEvent } from "../domain/events.ts";
import type { EventBus } from "../observe/bus.ts";
import { keys, type StreamKind } from "./keys.ts";
import { type Writes, WriteSet } from "./write_set.ts";

/** A stream's events and its version (the seq of its last event, 0 when empty). */
export interface StreamRead<E extends StoredEvent> {
  readonly events: E[];
  readonly version: number;
}

/** Identifies one stream. */
export interface StreamId {
  readonly kind: StreamKind;
  readonly id: string;
}

/**
 * Reads and appends event streams.
 *
 * @example
 * ```ts
 * import { EventStore } from "./event_store.ts";
 * using kv = await Deno.openKv(":memory:");
 * const store = new EventStore(kv);
 * const stream = { kind: "msg", id: "m1" } as const;
 * const op = kv.atomic();
 * store.append(op, stream, 0, [{ type: "MessagePublished", data: { topic: "T" }, at: 1 }]);
 * await op.commit();
 * console.log((await store.read(stream)).version); // 1
 * ```
 */
export class EventStore {
  readonly #kv: Deno.Kv;
  readonly #bus: EventBus | undefined;

  /**
   * Creates a store over a Deno KV handle. With `bus`, every append made
   * through a {@linkcode WriteSet} while the bus has listeners is published
   * there once (and only if) its commit succeeded.
   */
  constructor(kv: Deno.Kv, bus?: EventBus) {
    this.#kv = kv;
    this.#bus = bus;
  }

  /** Reads a whole stream in order. */
  async read<E extends StoredEvent>(stream: StreamId): Promise<StreamRead<E>> {
    const events: E[] = [];
    for await (const entry of this.#kv.list<E>({ prefix: keys.stream(stream.kind, stream.id) })) {
      events.push(entry.value);
    }
    return { events, version: events.length };
  }

  /**
   * Adds to `op` the check that `stream` is still at `expectedVersion` and the
   * writes of `events` after it. The commit fails (`ok: false`) when another
   * writer appended first.
   *
   * With `guardedBy`, the stream's next event is guarded by a check that `op`
   * already carries on the record that hands that event out, written with
   * the event at `expectedVersion` and the only way to the next one (a
   * delivery's due entry; a consumer group's cursor, for the new delivery
   * streams of the log entries it passes), so one check can stand for many
   * appends. It throws unless `op` is a {@linkcode WriteSet} that checks
   * that key.
   */
  append<W extends Writes>(
    op: W,
    stream: StreamId,
    expectedVersion: number,
    events: readonly StoredEvent[],
    options: { readonly guardedBy?: Deno.KvKey } = {},
  ): W {
    if (events.length === 0) {
      throw new RangeError("Cannot append: no events given");
    }
    if (options.guardedBy === undefined) {
      op.check({
        key: keys.event(stream.kind, stream.id, expectedVersion + 1),
        versionstamp: null,
      });
    } else if (!(op instanceof WriteSet) || !op.isChecked(options.guardedBy)) {
      throw new TypeError(
        `Cannot append to ${stream.id} under a batch guard: the operation does not check ${
          JSON.stringify(options.guardedBy)
        }`,
      );
    }
    events.forEach((event, i) => {
      op.set(keys.event(stream.kind, stream.id, expectedVersion + 1 + i), event);
    });
    this.announce(op, stream, expectedVersion + 1, events);
    return op;
  }

  /**
   * Publishes `events` of `stream` from `fromSeq` on the bus once `op`
   * committed, without writing them: for events another record of the same
   * commit stands for (a delivery's acked event, in its lease's ack record).
   *
   * @example
   * ```ts
   * import { EventStore } from "./event_store.ts";
   * import { WriteSet } from "./write_set.ts";
   * using kv = await Deno.openKv(":memory:");
   * new EventStore(kv).announce(new WriteSet(), { kind: "dlv", id: "m1:g1" }, 2,
   *   [{ type: "DeliveryAcked", data: { attempt: 1 }, at: 0 }]);
   * ```
   */
  announce<W extends Writes>(
    op: W,
    stream: StreamId,
    fromSeq: number,
    events: readonly StoredEvent[],
  ): W {
    const bus = this.#bus;
    // Only a WriteSet knows when it committed; nobody listening costs one property read.
    if (bus?.listening && op instanceof WriteSet) {
      const committed = { stream: { kind: stream.kind, id: stream.id }, fromSeq, events };
      op.onCommitted(() => bus.publish(committed));
    }
    return op;
  }
}
