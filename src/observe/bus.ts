/**
 * The in-process bus of committed events: whoever wants to follow the
 * broker's streams as they grow (the live inspector, live dashboard counts)
 * subscribes here, and the event store publishes every append once its commit
 * succeeded. With no subscriber nothing is recorded or published, so
 * following costs nothing while nobody follows.
 *
 * @module
 */
import type { StoredEvent } from "../domain/events.ts";
import type { StreamKind } from "../store/keys.ts";

/** Events one commit appended to one stream. */
export interface CommittedEvents {
  /** The stream appended to. */
  readonly stream: { readonly kind: StreamKind; readonly id: string };
  /** Seq of the first of `events` (seqs count from 1). */
  readonly fromSeq: number;
  /** The appended events, in order: `events[i]` has seq `fromSeq + i`. */
  readonly events: readonly StoredEvent[];
}

/** Called with each commit's events, synchronously, after the commit succeeded. */
export type CommittedListener = (committed: CommittedEvents) => void;

/**
 * Fans committed events out to the listeners of this process.
 *
 * @example Follow every committed event
 * ```ts
 * import { EventBus } from "./bus.ts";
 * const bus = new EventBus();
 * const unsubscribe = bus.subscribe(({ stream, fromSeq }) => console.log(stream.id, fromSeq));
 * bus.publish({ stream: { kind: "tx", id: "t1" }, fromSeq: 1, events: [] });
 * unsubscribe();
 * console.log(bus.listening); // false
 * ```
 */
export class EventBus {
  readonly #listeners = new Set<CommittedListener>();

  /** Whether anyone listens: appends are only reported while this is true. */
  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  /** Adds a listener; returns the function that removes it again. */
  subscribe(listener: CommittedListener): () => void {
    // A wrapper, so that one function subscribed twice is two subscriptions.
    const own: CommittedListener = (committed) => listener(committed);
    this.#listeners.add(own);
    return () => {
      this.#listeners.delete(own);
    };
  }

  /**
   * Hands `committed` to every listener. A listener that throws is logged and
   * does not keep the others (or the committing writer) from going on.
   */
  publish(committed: CommittedEvents): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(committed);
      } catch (error) {
        console.error("event bus listener failed", error);
      }
    }
  }
}
