/**
 * What every consumer role keeps, whatever it consumes from (Escrow over
 * HTTP or the SDK, NATS): per group, every delivered id, deliveries with a
 * tag the group must not get, publish → receipt latencies and the acked
 * ids; for the process, when all its groups are done (reported once as a
 * `done` line), the counts an `expect` line brings, and the result it prints.
 *
 * @module
 */
import { FailureLog } from "./http_client.ts";
import { readCpuMicros } from "./proc_stats.ts";
import {
  type ConsumerConfig,
  type ConsumerResult,
  epochMs,
  type GroupDeliveries,
} from "./protocol.ts";
import type { WorkerControl } from "./worker_control.ts";
import { acceptsTag } from "./workload.ts";

/**
 * One group's progress.
 *
 * @example
 * ```ts
 * import { GroupProgress } from "./group_progress.ts";
 * const group = new GroupProgress("ops", "Ops", 1);
 * group.delivered("m1", "Ops", 10, 5, true);
 * group.acked("m1", 12);
 * console.log(group.done, group.report().latenciesMs); // true [5]
 * ```
 */
export class GroupProgress {
  readonly name: string;
  readonly tags: string;
  expected: number;
  readonly ids: string[] = [];
  readonly #acked = new Set<string>();
  readonly latenciesMs: number[] = [];
  wrongTag = 0;
  receives = 0;
  emptyReceives = 0;
  ackFailed = 0;
  lastNewAckAt = NaN;
  /** Set when the done time is known better than the last new ack (a confirmed final ack). */
  doneAt = NaN;

  /** Creates the progress of a group expecting `expected` distinct messages. */
  constructor(name: string, tags: string, expected: number) {
    this.name = name;
    this.tags = tags;
    this.expected = expected;
  }

  /** Whether the acks of the expected number of distinct messages came back. */
  get done(): boolean {
    return this.#acked.size >= this.expected;
  }

  /** How many distinct messages were acked. */
  get ackedCount(): number {
    return this.#acked.size;
  }

  /** Whether `id` was acked already. */
  hasAcked(id: string): boolean {
    return this.#acked.has(id);
  }

  /** Records a delivery of `id` with `tag`, received at `receivedAt` (sent at `sentAt`). */
  delivered(
    id: string,
    tag: string | undefined,
    receivedAt: number,
    sentAt: unknown,
    recordLatency: boolean,
  ): void {
    this.ids.push(id);
    if (!acceptsTag(this.tags, tag)) this.wrongTag++;
    if (recordLatency && typeof sentAt === "number") this.latenciesMs.push(receivedAt - sentAt);
  }

  /** Records that the ack of `id` came back at `at`; true when it is the first for `id`. */
  acked(id: string, at: number): boolean {
    if (this.#acked.has(id)) return false;
    this.#acked.add(id);
    this.lastNewAckAt = at;
    return true;
  }

  /** The group's deliveries for the result. */
  report(): GroupDeliveries {
    return {
      name: this.name,
      ids: this.ids,
      wrongTag: this.wrongTag,
      doneAt: this.done ? (Number.isNaN(this.doneAt) ? this.lastNewAckAt : this.doneAt) : NaN,
      receives: this.receives,
      emptyReceives: this.emptyReceives,
      ackFailed: this.ackFailed,
      latenciesMs: this.latenciesMs,
    };
  }
}

/**
 * A consumer process's progress over its groups: `checkDone()` after each
 * ack emits `done` once all are, and calls `onAllDone` (a `stopWhenDone`
 * probe stops there); an `expect` line sets the groups' counts.
 *
 * @example
 * ```ts ignore
 * import { ConsumerProgress } from "./group_progress.ts";
 * import { WorkerControl } from "./worker_control.ts";
 * declare const config: import("./protocol.ts").ConsumerConfig;
 * const progress = new ConsumerProgress(config, WorkerControl.listen(), () => {});
 * console.log(progress.result().groups.length);
 * ```
 */
export class ConsumerProgress {
  readonly groups: GroupProgress[];
  readonly failures = new FailureLog();
  firstReceiveAt = NaN;
  readonly #config: ConsumerConfig;
  readonly #control: WorkerControl;
  readonly #onAllDone: () => void;
  readonly #cpuBefore = readCpuMicros("self");
  #reportedDone = false;

  /** Starts counting for `config`'s groups; reads `expect` lines from `control`. */
  constructor(config: ConsumerConfig, control: WorkerControl, onAllDone: () => void) {
    this.#config = config;
    this.#control = control;
    this.#onAllDone = onAllDone;
    this.groups = config.groups.map((g) =>
      new GroupProgress(g.name, g.tags, g.expected ?? Number.POSITIVE_INFINITY)
    );
    control.onExpect = (counts) => {
      for (const group of this.groups) {
        const count = counts[group.name];
        if (count !== undefined) group.expected = count;
      }
      this.checkDone();
    };
  }

  /** Whether `done` was reported. */
  get reportedDone(): boolean {
    return this.#reportedDone;
  }

  /** Notes a receipt's time (the first one is kept). */
  received(at: number): void {
    if (Number.isNaN(this.firstReceiveAt)) this.firstReceiveAt = at;
  }

  /** Emits `done` (once) when every group is. */
  checkDone(): void {
    if (this.#reportedDone || !this.groups.every((g) => g.done)) return;
    this.#reportedDone = true;
    this.#control.emit({ type: "done", at: epochMs() });
    if (this.#config.stopWhenDone) this.#onAllDone();
  }

  /** The process's result. */
  result(): ConsumerResult {
    return {
      role: "consumer",
      groups: this.groups.map((g) => g.report()),
      firstReceiveAt: this.firstReceiveAt,
      errors: this.failures.count,
      errorSamples: this.failures.samples,
      timedOut: !this.#control.isStopped && !(this.#config.stopWhenDone && this.#reportedDone),
      cpuMicros: readCpuMicros("self") - this.#cpuBefore,
    };
  }
}
