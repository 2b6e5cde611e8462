/**
 * The broker's Prometheus metrics (prom-client), one registry per broker so
 * that brokers in one process (tests, benchmarks) never share counts. The
 * engine counts only after a commit succeeded (`WriteSet.onCommitted`), the
 * HTTP edge after a request succeeded; group gauges are read from the
 * group counters when `/metrics` is scraped, so they cost nothing between
 * scrapes.
 *
 * @module
 */
import { decodeTime } from "@std/ulid";
import { Counter, Gauge, Histogram, Registry } from "./prom.ts";

/** How a delivery attempt ended, as counted in `escrow_deliveries_total`. */
export type DeliveryOutcome = "acked" | "failed" | "deadLettered" | "released";

/** How a check-back ended, as counted in `escrow_check_backs_total`. */
export type CheckBackOutcome = "commit" | "rollback" | "unknown" | "failed";

/** A group's gauges at scrape time. */
export interface GroupGauges {
  readonly group: string;
  readonly backlog: number;
  readonly inFlight: number;
  readonly retrying: number;
  readonly deadLettered: number;
}

/** Seconds buckets of the latency histograms: 1 ms to about 4.5 h (the retry ladder). */
const LATENCY_BUCKETS = [
  0.001,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
  1800,
  3600,
  17_200,
];

/**
 * Every metric of one broker.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const metrics = new Metrics();
 * metrics.published("Trade", 2);
 * const text = await metrics.scrape();
 * text.includes('escrow_messages_published_total{topic="Trade"} 2'); // true
 * ```
 */
export class Metrics {
  /** The registry `/metrics` serialises. */
  readonly registry: Registry = new Registry();
  readonly #published: Counter<"topic">;
  readonly #transactions: Counter<"outcome" | "reason">;
  readonly #checkBacks: Counter<"outcome">;
  readonly #deliveries: Counter<"group" | "outcome">;
  readonly #retries: Counter<"group">;
  readonly #deadLetters: Counter<"group">;
  readonly #alerts: Counter<"group" | "result">;
  readonly #publishLatency: Histogram<"kind">;
  readonly #endToEnd: Histogram<"group">;
  #collectGroups: (() => Promise<readonly GroupGauges[]>) | undefined;
  #groupsRead: Promise<readonly GroupGauges[]> | undefined;

  /** Registers the metrics in a registry of their own. */
  constructor() {
    const registers = [this.registry];
    this.#published = new Counter({
      name: "escrow_messages_published_total",
      help: "Messages made visible to consumers (normal ones and committed transactions)",
      labelNames: ["topic"],
      registers,
    });
    this.#transactions = new Counter({
      name: "escrow_transactions_total",
      help: "Transactions decided, by outcome (committed, rolledBack) and who decided",
      labelNames: ["outcome", "reason"],
      registers,
    });
    this.#checkBacks = new Counter({
      name: "escrow_check_backs_total",
      help: "Check-backs to producers, by outcome (commit, rollback, unknown, failed)",
      labelNames: ["outcome"],
      registers,
    });
    this.#deliveries = new Counter({
      name: "escrow_deliveries_total",
      help: "Delivery attempts ended, by group and outcome (acked, failed, deadLettered, released)",
      labelNames: ["group", "outcome"],
      registers,
    });
    this.#retries = new Counter({
      name: "escrow_retries_total",
      help: "Failed attempts scheduled for a retry, by group",
      labelNames: ["group"],
      registers,
    });
    this.#deadLetters = new Counter({
      name: "escrow_dead_letters_total",
      help: "Messages dead-lettered, by group",
      labelNames: ["group"],
      registers,
    });
    this.#alerts = new Counter({
      name: "escrow_dead_letter_alerts_total",
      help: "Dead-letter alert calls, by group and result (sent, failed)",
      labelNames: ["group", "result"],
      registers,
    });
    this.#publishLatency = new Histogram({
      name: "escrow_publish_duration_seconds",
      help: "Time to answer a successful publish request (message, batch or transaction step)",
      labelNames: ["kind"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#endToEnd = new Histogram({
      name: "escrow_end_to_end_seconds",
      help:
        "From a message's creation (its id's time: the publish, or a transactional message's prepare) to its ack, by group",
      labelNames: ["group"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const picks: [string, string, (g: GroupGauges) => number][] = [
      ["escrow_group_backlog", "Messages waiting for a first attempt, by group", (g) => g.backlog],
      ["escrow_group_in_flight", "Deliveries in flight, by group", (g) => g.inFlight],
      ["escrow_group_retrying", "Deliveries waiting for a retry, by group", (g) => g.retrying],
      [
        "escrow_group_dead_lettered",
        "Messages in the dead-letter queue, by group",
        (g) => g.deadLettered,
      ],
    ];
    // The registry collects its metrics side by side: the four gauges share one read of
    // the groups per scrape.
    const read = () => {
      this.#groupsRead ??= this.#collectGroups ? this.#collectGroups() : Promise.resolve([]);
      return this.#groupsRead;
    };
    for (const [name, help, pick] of picks) {
      new Gauge({
        name,
        help,
        labelNames: ["group"],
        registers,
        // prom-client calls it with the gauge as `this`.
        async collect(this: Gauge<"group">) {
          const groups = await read();
          this.reset();
          for (const group of groups) this.set({ group: group.group }, pick(group));
        },
      });
    }
  }

  /**
   * Sets where the group gauges come from (read at every scrape).
   *
   * @param collect Reads every group's counts.
   */
  collectGroups(collect: () => Promise<readonly GroupGauges[]>): void {
    this.#collectGroups = collect;
  }

  /** Counts messages made visible on `topic`. */
  published(topic: string, count = 1): void {
    this.#published.inc({ topic }, count);
  }

  /** Counts a transaction decided as committed or rolled back, and by whom. */
  transactionDecided(outcome: "committed" | "rolledBack", reason: string): void {
    this.#transactions.inc({ outcome, reason });
  }

  /** Counts one check-back call by its outcome. */
  checkBack(outcome: CheckBackOutcome): void {
    this.#checkBacks.inc({ outcome });
  }

  /** Counts one delivery attempt's end; a dead letter also counts per group. */
  delivery(group: string, outcome: DeliveryOutcome): void {
    this.#deliveries.inc({ group, outcome });
    if (outcome === "deadLettered") this.#deadLetters.inc({ group });
    if (outcome === "failed" || outcome === "released") this.#retries.inc({ group });
  }

  /**
   * Observes the time from a message's creation to its ack: a message id is
   * a ULID made when the message was published (or prepared).
   */
  acked(group: string, messageId: string, now: number): void {
    let created: number;
    try {
      created = decodeTime(messageId);
    } catch {
      return; // not a ULID: nothing to measure from
    }
    this.#endToEnd.observe({ group }, Math.max(0, now - created) / 1000);
  }

  /** Counts one dead-letter alert call. */
  alert(group: string, result: "sent" | "failed"): void {
    this.#alerts.inc({ group, result });
  }

  /** Observes the duration of a successful publish request, in ms. */
  publishDuration(kind: string, ms: number): void {
    this.#publishLatency.observe({ kind }, ms / 1000);
  }

  /** The metrics in Prometheus text format. */
  async scrape(): Promise<string> {
    this.#groupsRead = undefined;
    try {
      return await this.registry.metrics();
    } finally {
      this.#groupsRead = undefined;
    }
  }

  /** The content type of {@linkcode scrape}'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
