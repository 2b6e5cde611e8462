/**
 * The live side of the inspector: turns the events committed on the event
 * bus into inspection messages for whoever watches, either every machine or
 * one machine (its stored history first, then what comes).
 *
 * The relay listens to the bus only while someone watches, so that watching
 * costs nothing when nobody does. Committed batches are taken one at a time,
 * in the order the bus reports them; a machine the relay has not followed
 * yet is caught up from its stored events before the new ones (its snapshot
 * before them is what the new messages build on), and a batch that skips
 * seqs (one that committed while the relay was not listening yet) is filled
 * in from KV. Every queue and cache is bounded: a watcher that falls too far
 * behind is ended rather than buffered without limit.
 *
 * @module
 */
import type { DeliveryAttempted, StoredEvent } from "../../domain/events.ts";
import type { CommittedEvents, EventBus } from "../../observe/bus.ts";
import { keys, type StreamKind } from "../../store/keys.ts";
import { deliverySession, type MachineKind, MachineTrace, transactionSession } from "./trace.ts";
import type { InspectionMessage } from "./wire.ts";

/** Where a watcher's messages go. */
export interface InspectionSink {
  /** Takes one message (one text frame). */
  send(message: InspectionMessage): void;
  /** The relay gave up on this watcher (it fell too far behind); `reason` says why. */
  end(reason: string): void;
}

/** A watch in progress; closing it is idempotent. */
export interface Watch {
  /** Stops the watch; the relay stops listening once no watch is left. */
  close(): void;
}

/** One stream, by its kind and id in the event store. */
export interface StreamRef {
  readonly kind: StreamKind;
  readonly id: string;
}

/** Options of {@linkcode InspectionRelay}. */
export interface RelayOptions {
  /** Most machines whose current snapshot is kept between batches. @default {10000} */
  maxTraces?: number;
  /** Most committed batches waiting to be turned into messages, per queue. @default {10000} */
  maxPending?: number;
}

const MACHINE_OF: Partial<Record<StreamKind, MachineKind>> = { tx: "transaction", dlv: "delivery" };

/**
 * The session id of the machine of stream `stream`, whose first event is
 * `first` (a delivery's first event names its group).
 */
function sessionOf(stream: StreamRef, first: StoredEvent | undefined): string {
  if (stream.kind === "tx") return transactionSession(stream.id);
  const cut = stream.id.lastIndexOf(":");
  const messageId = stream.id.slice(0, cut);
  const group = first?.type === "DeliveryAttempted"
    ? (first as DeliveryAttempted).data.group
    : stream.id.slice(cut + 1);
  return deliverySession(messageId, group);
}

/** Reads the events of `stream` with seq in [from, to). */
async function readRange(
  kv: Deno.Kv,
  stream: StreamRef,
  from: number,
  to: number,
): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  if (to <= from) return events;
  const iter = kv.list<StoredEvent>({
    start: keys.event(stream.kind, stream.id, from),
    end: keys.event(stream.kind, stream.id, to),
  });
  for await (const entry of iter) events.push(entry.value);
  return events;
}

/** What one committed batch means to the watchers of its machine. */
interface Step {
  readonly trace: MachineTrace;
  /** The machine's registration as it was before this batch, for a watcher that has not seen it. */
  readonly before: InspectionMessage | undefined;
  readonly messages: InspectionMessage[];
}

/** Keeps the traces of the machines seen, most recently used last, and turns batches into steps. */
class Follower {
  readonly #kv: Deno.Kv;
  readonly #traces = new Map<string, MachineTrace>();
  readonly #limit: number;

  constructor(kv: Deno.Kv, limit: number) {
    this.#kv = kv;
    this.#limit = limit;
  }

  seed(stream: StreamRef, trace: MachineTrace): void {
    this.#remember(`${stream.kind}/${stream.id}`, trace);
  }

  clear(): void {
    this.#traces.clear();
  }

  async take(committed: CommittedEvents): Promise<Step | undefined> {
    const { stream, fromSeq, events } = committed;
    const kind = MACHINE_OF[stream.kind];
    if (kind === undefined || events.length === 0) return undefined;
    const key = `${stream.kind}/${stream.id}`;
    let trace = this.#traces.get(key);
    if (!trace) {
      const earlier = await readRange(this.#kv, stream, 1, fromSeq);
      trace = new MachineTrace(kind, sessionOf(stream, earlier[0] ?? events[0]));
      trace.apply(1, earlier); // what happened before is history, not news
    }
    this.#remember(key, trace);
    const news = fromSeq > trace.version + 1
      ? [...await readRange(this.#kv, stream, trace.version + 1, fromSeq), ...events]
      : events.slice(trace.version + 1 - fromSeq);
    const newsFrom = trace.version + 1;
    if (newsFrom + news.length < fromSeq + events.length) {
      return undefined; // the gap is not stored: nothing to build on
    }
    const before = trace.started && news[0] ? trace.actor(news[0].at) : undefined;
    const messages = trace.apply(newsFrom, news);
    return { trace, before, messages };
  }

  #remember(key: string, trace: MachineTrace): void {
    this.#traces.delete(key);
    this.#traces.set(key, trace);
    if (this.#traces.size > this.#limit) {
      const oldest = this.#traces.keys().next().value;
      if (oldest !== undefined) this.#traces.delete(oldest);
    }
  }
}

/** Runs async steps one at a time, in order, with a bound on how many may wait. */
class SerialQueue {
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Queues `step`; false (and nothing queued) when the queue is full. */
  push(step: () => Promise<void>): boolean {
    if (this.#pending >= this.#limit) return false;
    this.#pending++;
    this.#tail = this.#tail.then(step).catch((error) => {
      console.error("inspection relay step failed", error);
    }).finally(() => {
      this.#pending--;
    });
    return true;
  }
}

/** A watcher of every machine. */
interface AllWatcher {
  readonly sink: InspectionSink;
  /** Session ids this watcher has been shown the actor of. */
  readonly known: Set<string>;
}

/** A watcher of one stream, with its own trace. */
interface StreamWatcher {
  readonly stream: StreamRef;
  readonly sink: InspectionSink;
  readonly follower: Follower;
  readonly queue: SerialQueue;
  /** Batches that arrived while the history was being replayed. */
  held: CommittedEvents[] | undefined;
}

/**
 * Streams inspection messages of committed events to watchers.
 *
 * @example Watch every machine
 * ```ts
 * import { InspectionRelay } from "./relay.ts";
 * import { EventBus } from "../../observe/bus.ts";
 * using kv = await Deno.openKv(":memory:");
 * const bus = new EventBus();
 * const relay = new InspectionRelay(kv, bus);
 * const watch = relay.watchAll({ send: (m) => console.log(m.type), end: () => {} });
 * console.log(bus.listening); // true
 * watch.close();
 * console.log(bus.listening); // false
 * ```
 */
export class InspectionRelay {
  readonly #kv: Deno.Kv;
  readonly #bus: EventBus;
  readonly #maxTraces: number;
  readonly #maxPending: number;
  readonly #all = new Set<AllWatcher>();
  readonly #streams = new Set<StreamWatcher>();
  readonly #shared: Follower;
  #queue: SerialQueue;
  #unsubscribe: (() => void) | undefined;

  /** A relay over `kv` (to catch up machines) fed by `bus`. */
  constructor(kv: Deno.Kv, bus: EventBus, options: RelayOptions = {}) {
    this.#kv = kv;
    this.#bus = bus;
    this.#maxTraces = options.maxTraces ?? 10_000;
    this.#maxPending = options.maxPending ?? 10_000;
    this.#shared = new Follower(kv, this.#maxTraces);
    this.#queue = new SerialQueue(this.#maxPending);
  }

  /** How many watches are open. */
  get watching(): number {
    return this.#all.size + this.#streams.size;
  }

  /**
   * Watches every machine from now on: each committed event as an
   * `@xstate.event` and an `@xstate.snapshot`, a machine that starts with its
   * `@xstate.actor` first, and one already running announced by an
   * `@xstate.actor` (its snapshot before the event) the first time it moves.
   */
  watchAll(sink: InspectionSink): Watch {
    const watcher: AllWatcher = { sink, known: new Set() };
    this.#all.add(watcher);
    this.#listen();
    return { close: () => this.#drop(() => this.#all.delete(watcher)) };
  }

  /**
   * Watches one machine: `history` (its stored events, replayed into
   * `trace`) first, then each event committed to `stream` after them.
   * Events committed while the history is read are held and sent after it.
   */
  async watchStream(
    stream: StreamRef,
    trace: MachineTrace,
    history: () => Promise<InspectionMessage[]>,
    sink: InspectionSink,
  ): Promise<Watch> {
    const watcher: StreamWatcher = {
      stream,
      sink,
      follower: new Follower(this.#kv, 1),
      queue: new SerialQueue(this.#maxPending),
      held: [],
    };
    // Listening before reading the history, so nothing committed in between is missed.
    this.#streams.add(watcher);
    this.#listen();
    const watch = { close: () => this.#drop(() => this.#streams.delete(watcher)) };
    try {
      for (const message of await history()) sink.send(message);
    } catch (error) {
      watch.close();
      throw error;
    }
    watcher.follower.seed(stream, trace);
    const held = watcher.held ?? [];
    watcher.held = undefined;
    for (const committed of held) this.#forStream(watcher, committed);
    return watch;
  }

  #listen(): void {
    this.#unsubscribe ??= this.#bus.subscribe((committed) => this.#take(committed));
  }

  #drop(remove: () => boolean): void {
    if (!remove() || this.watching > 0) return;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#shared.clear();
    this.#queue = new SerialQueue(this.#maxPending);
  }

  #take(committed: CommittedEvents): void {
    if (MACHINE_OF[committed.stream.kind] === undefined) return;
    for (const watcher of this.#streams) {
      if (
        watcher.stream.kind !== committed.stream.kind || watcher.stream.id !== committed.stream.id
      ) {
        continue;
      }
      if (watcher.held) watcher.held.push(committed);
      else this.#forStream(watcher, committed);
    }
    if (this.#all.size === 0) return;
    const queue = this.#queue;
    const queued = queue.push(async () => {
      if (queue !== this.#queue || this.#all.size === 0) return; // everybody left meanwhile
      const step = await this.#shared.take(committed);
      if (step) this.#toAll(step);
    });
    if (!queued) {
      for (const watcher of [...this.#all]) {
        watcher.sink.end("Cannot keep up with the committed events");
      }
    }
  }

  #forStream(watcher: StreamWatcher, committed: CommittedEvents): void {
    const queued = watcher.queue.push(async () => {
      if (!this.#streams.has(watcher)) return;
      const step = await watcher.follower.take(committed);
      for (const message of step?.messages ?? []) watcher.sink.send(message);
    });
    if (!queued) watcher.sink.end("Cannot keep up with the committed events");
  }

  #toAll(step: Step): void {
    const { trace, before, messages } = step;
    for (const watcher of this.#all) {
      if (!watcher.known.has(trace.sessionId)) {
        // Bounded like the relay's own memory of machines: a forgotten one is announced again.
        if (watcher.known.size >= this.#maxTraces) watcher.known.clear();
        watcher.known.add(trace.sessionId);
        if (before && messages[0]?.type !== "@xstate.actor") watcher.sink.send(before);
      }
      for (const message of messages) watcher.sink.send(message);
    }
  }
}
