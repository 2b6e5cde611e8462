/**
 * The broker: the engine's use cases wired to one KV handle, and the runner
 * of durable jobs (check-back timers and calls).
 *
 * @module
 */
import { NotFoundError } from "../domain/errors.ts";
import { DeadLetterAlerts } from "../observe/dead_letter_alerts.ts";
import { Logger } from "../observe/log.ts";
import { Metrics } from "../observe/metrics.ts";
import { EventBus } from "../observe/bus.ts";
import { EventStore } from "../store/event_store.ts";
import { Outbound, OutboundPolicy } from "../outbound/mod.ts";
import { GroupCommitter } from "../store/group_commit.ts";
import { RecentRecords } from "../store/recent_records.ts";
import { Deliveries, PushDispatcher } from "./delivery/mod.ts";
import type { EngineDeps } from "./deps.ts";
import { Groups } from "./groups/mod.ts";
import { Messages } from "./history/mod.ts";
import { Inspection } from "./inspection/mod.ts";
import { detectSchedulerMode, type Job, Scheduler, type SchedulerMode } from "./jobs/mod.ts";
import { BodyUploads, Publisher, Topics } from "./publishing/mod.ts";
import { CheckBacks, Transactions } from "./transactions/mod.ts";

/** Options of {@linkcode Broker}. */
export interface BrokerOptions {
  /** Current time in epoch ms. @default {Date.now} */
  clock?: () => number;
  /** Used for check-back calls. @default {globalThis.fetch} */
  fetch?: typeof fetch;
  /** How due jobs are noticed; "auto" detects whether KV queues exist. @default {"auto"} */
  schedulerMode?: SchedulerMode | "auto";
  /** How long a started job is reserved. @default {15000} */
  leaseMs?: number;
  /** Period of the safety sweep for jobs. @default {10000} */
  safetySweepMs?: number;
  /** Timeout of one check-back call. @default {5000} */
  checkBackTimeoutMs?: number;
  /** Where log lines go. @default {a text logger at level info on stdout and stderr} */
  logger?: Logger;
  /** The metrics this broker counts in. @default {new Metrics with a registry of its own} */
  metrics?: Metrics;
  /** Timeout of one dead-letter alert call. @default {5000} */
  alertTimeoutMs?: number;
  /**
   * Which URLs the broker may call (check-back, push, alert).
   * @default {a policy with only the fixed rules (ESCROW_OUTBOUND_ALLOW unset)}
   */
  outbound?: OutboundPolicy;
}

/**
 * The broker's use cases over one Deno KV database.
 *
 * @example
 * ```ts
 * import { Broker } from "./broker.ts";
 * using kv = await Deno.openKv(":memory:");
 * const broker = await Broker.open(kv);
 * await broker.topics.create("Trade");
 * await broker.publisher.publish("Trade", { tag: "Ops", body: { id: 1 } });
 * await broker.stop();
 * ```
 */
export class Broker {
  /** Topics and producer groups. */
  readonly topics: Topics;
  /** Normal messages. */
  readonly publisher: Publisher;
  /** Transactional messages. */
  readonly transactions: Transactions;
  /** Check-back calls to silent producers. */
  readonly checkBacks: CheckBacks;
  /** Message queries. */
  readonly messages: Messages;
  /** Consumer groups. */
  readonly groups: Groups;
  /** Delivery to consumer groups (pull). */
  readonly deliveries: Deliveries;
  /** Delivery to push groups. */
  readonly push: PushDispatcher;
  /** Durable jobs. */
  readonly scheduler: Scheduler;
  /** Large bodies staged before their message, and the collector of abandoned ones. */
  readonly uploads: BodyUploads;
  /** Calls to the alert URLs of groups when a message is dead-lettered. */
  readonly alerts: DeadLetterAlerts;
  /** Where this broker's log lines go. */
  readonly logger: Logger;
  /** What `/metrics` shows. */
  readonly metrics: Metrics;
  /** Every event appended, once committed, while anyone listens (live inspector, dashboard). */
  readonly events: EventBus = new EventBus();
  /** The machines replayed and followed live for the Stately inspector. */
  readonly inspection: Inspection;
  readonly #deps: EngineDeps;
  readonly #closing = new AbortController();

  /** Opens a broker on `kv`, detecting whether KV queues exist when asked to. */
  static async open(kv: Deno.Kv, options: BrokerOptions = {}): Promise<Broker> {
    const mode = options.schedulerMode === undefined || options.schedulerMode === "auto"
      ? await detectSchedulerMode(kv)
      : options.schedulerMode;
    return new Broker(kv, { ...options, schedulerMode: mode });
  }

  /** Builds a broker; its jobs run once {@linkcode start} is called. */
  constructor(kv: Deno.Kv, options: BrokerOptions = {}) {
    const clock = options.clock ?? (() => Date.now());
    this.logger = options.logger ?? new Logger();
    this.metrics = options.metrics ?? new Metrics();
    const mode = options.schedulerMode === "auto" ? "sweep" : options.schedulerMode ?? "sweep";
    this.scheduler = new Scheduler(kv, (job, run) => this.#runJob(job, run.runs), {
      mode,
      clock,
      logger: this.logger,
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      ...(options.safetySweepMs !== undefined ? { safetySweepMs: options.safetySweepMs } : {}),
    });
    this.#deps = {
      kv,
      store: new EventStore(kv, this.events),
      scheduler: this.scheduler,
      committer: new GroupCommitter(kv),
      recent: new RecentRecords(),
      clock,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      // An injected fetch sends instead of the pinned transport; the policy checks either way.
      outbound: new Outbound(
        options.outbound ?? new OutboundPolicy(),
        options.fetch ? { fetch: options.fetch } : {},
      ),
      closing: this.#closing.signal,
      logger: this.logger,
      metrics: this.metrics,
    };
    this.uploads = new BodyUploads(this.#deps);
    this.topics = new Topics(this.#deps);
    this.publisher = new Publisher(this.#deps, this.topics);
    this.transactions = new Transactions(this.#deps, this.topics);
    this.checkBacks = new CheckBacks(this.#deps, this.transactions, this.topics, {
      ...(options.checkBackTimeoutMs !== undefined
        ? { timeoutMs: options.checkBackTimeoutMs }
        : {}),
    });
    this.groups = new Groups(this.#deps, this.topics);
    this.deliveries = new Deliveries(this.#deps, this.groups);
    this.push = new PushDispatcher(this.#deps, this.groups, this.deliveries);
    this.messages = new Messages(this.#deps, this.topics, this.transactions, this.groups);
    this.inspection = new Inspection(this.#deps, this.groups, this.events);
    this.alerts = new DeadLetterAlerts(this.#deps, this.groups, {
      ...(options.alertTimeoutMs !== undefined ? { timeoutMs: options.alertTimeoutMs } : {}),
    });
    this.metrics.collectGroups(async () => {
      const gauges = [];
      for (const group of await this.groups.list()) {
        const stats = await this.groups.stats(group.name).catch(() => undefined);
        if (stats) gauges.push({ group: group.name, ...stats });
      }
      return gauges;
    });
  }

  /** Starts running due jobs and pushing to push groups. */
  async start(): Promise<void> {
    await this.scheduler.start();
    await this.push.start();
  }

  /**
   * Begins shutting down: open long polls answer at once (with no messages)
   * and no new one waits. Call it before the HTTP server's own shutdown, so
   * that the server's wait for open requests is short.
   */
  beginShutdown(): void {
    this.#closing.abort();
  }

  /** Aborted once shutdown begins: open streams (the dashboard's live updates) end on it. */
  get closing(): AbortSignal {
    return this.#closing.signal;
  }

  /** Stops jobs and pushes and waits for those in flight; the KV stays open. */
  async stop(): Promise<void> {
    this.beginShutdown();
    await this.push.stop();
    await this.scheduler.stop();
  }

  async #runJob(job: Job, runs: number): Promise<void> {
    switch (job.kind) {
      case "checkBackDue":
        await this.transactions.record(job.transactionId, {
          type: "CheckBackRequested",
          data: { check: job.check },
          at: this.#deps.clock(),
        });
        return;
      case "checkBack":
        await this.checkBacks.run(job.transactionId, job.check);
        return;
      case "visibilityDue":
        await this.deliveries.expire(job.group).catch((error) => {
          if (!(error instanceof NotFoundError)) throw error; // the group was deleted
        });
        return;
      case "groupCleanup":
        // Bounded pieces; deleting is idempotent, so a second runner after a lapsed lease is harmless.
        for (let piece = 0; piece < 10_000; piece++) {
          if (await this.groups.collect(job.groupId)) return;
        }
        throw new Error(`Cannot finish cleaning up group ${job.groupId}: too many keys left`);
      case "deadLetterAlert":
        await this.alerts.run(job, runs);
        return;
      case "uploadCollect":
        await this.uploads.collect(job.messageId);
        return;
      default: {
        const never: never = job;
        throw new TypeError(`Cannot run job: unknown kind ${JSON.stringify(never)}`);
      }
    }
  }
}
