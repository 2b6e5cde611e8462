/**
 * What the engine's use cases share: the KV handle, the event store, the
 * scheduler and the injected clock and fetch. Only `main.ts` and the tests
 * build one.
 *
 * @module
 */
import type { EventStore } from "../store/event_store.ts";
import type { GroupCommitter } from "../store/group_commit.ts";
import type { RecentRecords } from "../store/recent_records.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { Scheduler } from "./jobs/scheduler.ts";
import type { Outbound } from "../outbound/outbound.ts";

/** The engine's collaborators. */
export interface EngineDeps {
  readonly kv: Deno.Kv;
  readonly store: EventStore;
  readonly scheduler: Scheduler;
  /** Shares commits between concurrent changes. */
  readonly committer: GroupCommitter;
  /** The message records this process committed lately: receives read them from here first. */
  readonly recent: RecentRecords;
  /** Current time in epoch ms. */
  readonly clock: () => number;
  /** Used for check-back calls to producers. */
  readonly fetch: typeof fetch;
  /** Every call out (check-back, push, alert) and every URL stored for one: the outbound policy. */
  readonly outbound: Outbound;
  /**
   * Aborted when the broker begins to shut down: open long polls answer at
   * once with what they have (nothing), and no new wait starts.
   */
  readonly closing: AbortSignal;
  /** Where the engine's log lines go (failed check-backs, dead letters, failed pushes, ...). */
  readonly logger: Logger;
  /** The broker's own metrics; the engine counts after its commits succeed. */
  readonly metrics: Metrics;
}

/** Most attempts of one optimistic write before giving up with a 503. */
export const MAX_WRITE_ATTEMPTS = 20;
