/**
 * Runs durable jobs when they fall due. Jobs are KV entries keyed by due time;
 * the scheduler only decides when to look at them:
 *
 * - `queue` mode (a local KV file or `:memory:`): every scheduled job also
 *   enqueues a doorbell with the job's delay, and `listenQueue` rings it.
 * - `sweep` mode (Deno Deploy, KV Connect, self-hosted denokv, where
 *   `enqueue` throws): a `kv.watch()` on a signal key bumped by every write
 *   of a job, plus a timer for the earliest due job.
 *
 * Both modes also sweep at start and every `safetySweepMs`, which recovers
 * jobs whose doorbell was lost in a crash. Running a job first leases it
 * (moves its key `leaseMs` into the future with `runs + 1` under an
 * optimistic check), so two processes never run the same job at once, and a
 * process that dies mid-job leaves it to run again once the lease ends.
 *
 * Attempts are bounded (graphile-worker style). When the handler throws, one
 * commit checked against the lease entry's versionstamp either puts the job
 * back at now + {@linkcode jobRetryDelayMs}`(runs)` with its `lastError`, or,
 * once `maxAttempts` runs are spent, moves it to `["job_failed", id]`; either
 * way the lease goes. The check matters: a runner that outlived its lease
 * finds the job claimed by another and writes nothing. A lease that expires
 * with `runs` already at `maxAttempts` (its runner died) is failed by the
 * sweep instead of run again. A failed job stays until it is removed or
 * retried ({@linkcode Scheduler.removeFailed}, {@linkcode Scheduler.retryFailed}).
 *
 * @module
 */
import { monotonicUlid } from "@std/ulid";
import { ContentionError, NotFoundError } from "../../domain/errors.ts";
import { commit } from "../../store/commit.ts";
import { keys } from "../../store/keys.ts";
import type { Writes, WriteSet } from "../../store/write_set.ts";
import { Logger } from "../../observe/log.ts";
import { type JobListing, type JobPage, listJobs, type ListJobsOptions } from "./failed_jobs.ts";
import {
  DEFAULT_JOB_MAX_ATTEMPTS,
  type FailedJob,
  type Job,
  jobRetryDelayMs,
  type StoredJob,
} from "./jobs.ts";

/** How due jobs are noticed. */
export type SchedulerMode = "queue" | "sweep";

/**
 * Runs one job; a throw retries it after its back-off, or fails it once its
 * attempts are spent. `run` says which run this is (1 for the first).
 */
export type JobHandler = (
  job: Job,
  run: { readonly id: string; readonly runs: number },
) => Promise<void>;

/** Options of {@linkcode Scheduler}. */
export interface SchedulerOptions {
  /** How due jobs are noticed. @default {"sweep"} */
  mode?: SchedulerMode;
  /** Current time in epoch ms. @default {Date.now} */
  clock?: () => number;
  /** How long a started job is reserved for its runner. @default {15000} */
  leaseMs?: number;
  /** Period of the safety sweep. @default {10000} */
  safetySweepMs?: number;
  /** Most jobs run at once by this process. @default {64} */
  concurrency?: number;
  /**
   * Runs of one job before it becomes failed (the first run counts).
   * @default {10}
   */
  maxAttempts?: number;
  /** Where the default `onError` and `onFailed` write. @default {new Logger()} */
  logger?: Logger;
  /**
   * Called when a job handler throws, before the retry or failure is written.
   * @default {a `job.attemptFailed` warning with the job's kind, id, run and error}
   */
  onError?: (error: unknown, job: Job, stored: StoredJob) => void;
  /**
   * Called once when a job becomes failed, after that commit succeeded.
   * @default {a `job.failed` error line with the job's kind, id, runs and last error}
   */
  onFailed?: (failed: FailedJob) => void;
}

/** Longest `lastError` kept, in characters: enough to read, small next to KV's 64 KiB values. */
export const MAX_JOB_ERROR_LENGTH = 2048;

/** `lastError` of a job whose last lease ran out while its runs were spent. */
export const RUNNER_STOPPED_ERROR = "attempts exhausted: the runner stopped before finishing";

/** Most tries of an API write to a failed job that another writer keeps changing. */
const MAX_FAILED_JOB_WRITES = 5;
/** Jobs of `scheduleOnce` remembered before the past ones are first forgotten. */
const MAX_SCHEDULED_ONCE = 1_024;

/**
 * A thrown value as one line of text, at most {@linkcode MAX_JOB_ERROR_LENGTH}
 * characters: it is stored and logged, so stacks and newlines stay out.
 */
function describeError(error: unknown): string {
  let text: string;
  try {
    text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    text = "a value that cannot be shown";
  }
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > MAX_JOB_ERROR_LENGTH ? `${line.slice(0, MAX_JOB_ERROR_LENGTH - 1)}…` : line;
}

const warnAttempt = (logger: Logger) => (error: unknown, job: Job, stored: StoredJob) =>
  logger.warn(
    "job.attemptFailed",
    `job ${job.kind} ${stored.id} run ${stored.runs} failed: ${describeError(error)}`,
    { kind: job.kind, jobId: stored.id, run: stored.runs },
  );

const logFailed = (logger: Logger) => (failed: FailedJob) =>
  logger.error(
    "job.failed",
    `job failed: ${failed.job.kind} ${failed.id} after ${failed.runs} runs: ${failed.lastError}`,
    { kind: failed.job.kind, jobId: failed.id, runs: failed.runs },
  );

const DOORBELL = "escrow.job";
const MAX_ENQUEUE_DELAY_MS = 30 * 24 * 3600 * 1000;

/** Payload of the KV queue doorbell. */
interface Doorbell {
  readonly kind: typeof DOORBELL;
}

function isDoorbell(value: unknown): value is Doorbell {
  return typeof value === "object" && value !== null && (value as Doorbell).kind === DOORBELL;
}

/**
 * Tells whether `kv` supports queues: enqueue throws over KV Connect.
 *
 * @example
 * ```ts
 * import { detectSchedulerMode } from "./scheduler.ts";
 * using kv = await Deno.openKv(":memory:");
 * console.log(await detectSchedulerMode(kv)); // "queue"
 * ```
 */
export async function detectSchedulerMode(kv: Deno.Kv): Promise<SchedulerMode> {
  try {
    await kv.enqueue({ kind: DOORBELL } satisfies Doorbell);
    return "queue";
  } catch {
    return "sweep";
  }
}

/**
 * Stores jobs and runs them when due.
 *
 * @example
 * ```ts
 * import { Scheduler } from "./scheduler.ts";
 * using kv = await Deno.openKv(":memory:");
 * const scheduler = new Scheduler(kv, async (job) => console.log(job.kind));
 * const op = kv.atomic();
 * scheduler.schedule(op, { kind: "checkBackDue", transactionId: "t", check: 1 }, Date.now());
 * await op.commit();
 * await scheduler.runDue(); // logs "checkBackDue"
 * ```
 */
export class Scheduler {
  readonly #kv: Deno.Kv;
  readonly #handler: JobHandler;
  readonly #mode: SchedulerMode;
  readonly #clock: () => number;
  readonly #leaseMs: number;
  readonly #safetySweepMs: number;
  readonly #concurrency: number;
  readonly #maxAttempts: number;
  readonly #onError: (error: unknown, job: Job, stored: StoredJob) => void;
  readonly #onFailed: (failed: FailedJob) => void;
  readonly #running = new Set<Promise<void>>();
  /** Jobs of {@linkcode scheduleOnce} this process committed: id and time → due time. */
  readonly #scheduledOnce = new Map<string, number>();
  /** Size of {@linkcode #scheduledOnce} at which the past ones are forgotten next. */
  #pruneOnceAt = MAX_SCHEDULED_ONCE;
  #sweeping: Promise<number> | undefined;
  #sweepAgain = false;
  #started = false;
  #stopped = false;
  #nextTimer: ReturnType<typeof setTimeout> | undefined;
  #safetyTimer: ReturnType<typeof setInterval> | undefined;
  #watch: ReadableStream<Deno.KvEntryMaybe<unknown>[]> | undefined;

  /** Creates a scheduler; it stores jobs at once and runs them after {@linkcode start}. */
  constructor(kv: Deno.Kv, handler: JobHandler, options: SchedulerOptions = {}) {
    this.#kv = kv;
    this.#handler = handler;
    this.#mode = options.mode ?? "sweep";
    this.#clock = options.clock ?? Date.now;
    this.#leaseMs = options.leaseMs ?? 15_000;
    this.#safetySweepMs = options.safetySweepMs ?? 10_000;
    this.#concurrency = options.concurrency ?? 64;
    this.#maxAttempts = options.maxAttempts ?? DEFAULT_JOB_MAX_ATTEMPTS;
    if (!Number.isInteger(this.#maxAttempts) || this.#maxAttempts < 1) {
      throw new RangeError(
        `Cannot create scheduler: maxAttempts must be an integer of 1 or more, current value is ${this.#maxAttempts}`,
      );
    }
    const logger = options.logger ?? new Logger();
    this.#onError = options.onError ?? warnAttempt(logger);
    this.#onFailed = options.onFailed ?? logFailed(logger);
  }

  /** How due jobs are noticed. */
  get mode(): SchedulerMode {
    return this.#mode;
  }

  /** Adds the write of `job`, due at `dueAt` (epoch ms), to the atomic operation `op`. */
  schedule<W extends Writes>(op: W, job: Job, dueAt: number): W {
    const id = monotonicUlid();
    op.set(keys.job(dueAt, id), { id, job, runs: 0 } satisfies StoredJob);
    this.#ring(op, dueAt - this.#clock());
    return op;
  }

  /**
   * Adds the write of `job` under the fixed `id`, due at `dueAt`, unless a
   * commit of this process already stored that id at that time: every
   * schedule of one id and time is one job (a timer many writers share, as
   * the expiry of all the leases of a group that end in one second). The
   * job is a KV entry in the commit that asks for it, as every job; what
   * this process remembers only saves writing it again, and is kept once
   * that commit succeeded.
   *
   * @example
   * ```ts
   * import { Scheduler } from "./scheduler.ts";
   * import { WriteSet } from "../../store/write_set.ts";
   * using kv = await Deno.openKv(":memory:");
   * const scheduler = new Scheduler(kv, async () => {});
   * scheduler.scheduleOnce(new WriteSet(), { kind: "visibilityDue", group: "ops" }, 30_000,
   *   "visibilityDue:g1:30000");
   * ```
   */
  scheduleOnce(op: WriteSet, job: Job, dueAt: number, id: string): WriteSet {
    const memo = `${dueAt}\u0000${id}`;
    if (this.#scheduledOnce.has(memo)) return op;
    op.set(keys.job(dueAt, id), { id, job, runs: 0 } satisfies StoredJob);
    this.#ring(op, dueAt - this.#clock());
    op.onCommitted(() => {
      if (this.#scheduledOnce.size >= this.#pruneOnceAt) {
        const now = this.#clock();
        for (const [key, at] of this.#scheduledOnce) if (at < now) this.#scheduledOnce.delete(key);
        // Forgetting is linear: run it again only once as many more are remembered.
        this.#pruneOnceAt = Math.max(MAX_SCHEDULED_ONCE, 2 * this.#scheduledOnce.size);
      }
      this.#scheduledOnce.set(memo, dueAt);
    });
    return op;
  }

  /** Adds what wakes a scheduler `delayMs` from now: a doorbell, or the signal sweepers watch. */
  #ring(op: Writes, delayMs: number): void {
    if (this.#mode === "queue") {
      const delay = Math.min(Math.max(0, delayMs), MAX_ENQUEUE_DELAY_MS);
      op.enqueue({ kind: DOORBELL } satisfies Doorbell, { delay: Math.ceil(delay) });
    } else {
      op.sum(keys.jobSignal(), 1n);
    }
  }

  /** Starts noticing due jobs (see the module doc); resolves once the first sweep started them. */
  async start(): Promise<void> {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    if (this.#mode === "queue") {
      this.#kv.listenQueue((message) => {
        if (isDoorbell(message)) this.#kick();
      }).catch(() => {});
    } else {
      this.#watchSignal();
    }
    this.#safetyTimer = setInterval(() => this.#kick(), this.#safetySweepMs);
    await this.#sweep();
  }

  /** Stops timers and watches and waits for running jobs; the KV stays open. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#safetyTimer);
    clearTimeout(this.#nextTimer);
    await this.#watch?.cancel().catch(() => {});
    await this.#sweeping;
    await Promise.allSettled([...this.#running]);
  }

  /**
   * Runs every job due now, including jobs those jobs schedule for now, and
   * resolves when all have finished; returns how many ran. Tests drive time
   * with this after advancing a fake clock.
   */
  async runDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const ran = await this.#sweep();
      await Promise.allSettled([...this.#running]);
      total += ran;
      if (ran === 0 || this.#stopped) return total;
    }
  }

  /** One pass over the due jobs; concurrent calls share a pass and ask for one more. */
  async #sweep(): Promise<number> {
    if (this.#sweeping) {
      this.#sweepAgain = true;
      return await this.#sweeping;
    }
    let total = 0;
    do {
      this.#sweepAgain = false;
      this.#sweeping = this.#sweepOnce();
      try {
        total += await this.#sweeping;
      } finally {
        this.#sweeping = undefined;
      }
    } while (this.#sweepAgain && !this.#stopped);
    return total;
  }

  /** Due time of the earliest stored job, or undefined when there is none. */
  async nextDueAt(): Promise<number | undefined> {
    for await (const entry of this.#kv.list({ prefix: keys.jobs() }, { limit: 1 })) {
      return entry.key[1] as number;
    }
    return undefined;
  }

  /**
   * Lists one page of pending jobs (waiting or leased, in due order) or
   * failed jobs (by id).
   *
   * @throws {ValidationError} for a limit out of range or a cursor this listing did not give out.
   */
  list(options: ListJobsOptions = {}): Promise<JobPage> {
    return listJobs(this.#kv, options);
  }

  /**
   * Removes a failed job for good.
   *
   * @throws {NotFoundError} when no failed job has this id.
   */
  async removeFailed(id: string): Promise<void> {
    await this.#writeFailed(id, "remove", (op, entry) => op.delete(entry.key));
  }

  /**
   * Puts a failed job back as pending, due now, with its runs back at 0 (its
   * last error is kept until it runs again); returns it as listed.
   *
   * @throws {NotFoundError} when no failed job has this id.
   */
  async retryFailed(id: string): Promise<JobListing> {
    const now = this.#clock();
    const failed = await this.#writeFailed(id, "retry", (op, { key, value }) => {
      const stored: StoredJob = { id, job: value.job, runs: 0, lastError: value.lastError };
      op.delete(key).set(keys.job(now, id), stored);
      this.#ring(op, 0);
    });
    return { id, job: failed.job, runs: 0, lastError: failed.lastError, dueAt: now };
  }

  /**
   * Changes the failed record `id` with `write`, checked against the entry it
   * read so that two callers cannot both retry it; bounded like every retry loop.
   */
  async #writeFailed(
    id: string,
    what: string,
    write: (op: Deno.AtomicOperation, entry: Deno.KvEntry<FailedJob>) => void,
  ): Promise<FailedJob> {
    for (let attempt = 0; attempt < MAX_FAILED_JOB_WRITES; attempt++) {
      const entry = await this.#kv.get<FailedJob>(keys.failedJob(id));
      if (entry.versionstamp === null) {
        throw new NotFoundError(`Cannot ${what} failed job: no failed job has id ${id}`, { id });
      }
      const op = this.#kv.atomic().check(entry);
      write(op, entry);
      if ((await commit(op)).ok) return entry.value;
    }
    throw new ContentionError(
      `Cannot ${what} failed job ${id}: still conflicting after ${MAX_FAILED_JOB_WRITES} attempts`,
    );
  }

  #kick(): void {
    if (this.#stopped) return;
    this.#sweep().catch((error) => console.error("scheduler sweep failed", error));
  }

  async #sweepOnce(): Promise<number> {
    const now = this.#clock();
    let ran = 0;
    const iter = this.#kv.list<StoredJob>({ start: keys.jobs(), end: keys.job(now + 1, "") });
    for await (const entry of iter) {
      if (this.#stopped) break;
      if (entry.value.runs >= this.#maxAttempts) {
        await this.#failExhausted(entry, now);
        continue;
      }
      while (this.#running.size >= this.#concurrency) await Promise.race(this.#running);
      const leased = { ...entry.value, runs: entry.value.runs + 1 };
      const leaseKey = keys.job(now + this.#leaseMs, entry.value.id);
      const op = this.#kv.atomic().check(entry).delete(entry.key).set(leaseKey, leased);
      // If this process dies mid-job, the doorbell (or the signal) brings the job back.
      this.#ring(op, this.#leaseMs);
      const claim = await commit(op);
      if (!claim.ok) continue; // another process took it
      ran++;
      const lease = { key: leaseKey, versionstamp: claim.versionstamp };
      const run = this.#run(leased, lease).finally(() => this.#running.delete(run));
      this.#running.add(run);
    }
    if (!this.#stopped && this.#started) await this.#armNextTimer();
    return ran;
  }

  async #run(stored: StoredJob, lease: Deno.AtomicCheck): Promise<void> {
    try {
      await this.#handler(stored.job, { id: stored.id, runs: stored.runs });
    } catch (error) {
      this.#onError(error, stored.job, stored);
      await this.#recordFailedRun(stored, lease, describeError(error)).catch((writeError) =>
        // The lease is still there, so the job runs again when it ends.
        console.error(`job ${stored.job.kind} ${stored.id}: cannot record a failed run`, writeError)
      );
      return;
    }
    try {
      await commit(this.#kv.atomic().delete(lease.key));
    } catch (error) {
      this.#onError(error, stored.job, stored);
    }
  }

  /**
   * After run `stored.runs` threw: back to pending after its back-off, or
   * failed when it was the last attempt. Both are checked against the lease:
   * when it has changed, the lease ran out and another runner owns the job.
   */
  async #recordFailedRun(stored: StoredJob, lease: Deno.AtomicCheck, lastError: string) {
    const now = this.#clock();
    const op = this.#kv.atomic().check(lease).delete(lease.key);
    if (stored.runs < this.#maxAttempts) {
      const delayMs = jobRetryDelayMs(stored.runs);
      const retry: StoredJob = { id: stored.id, job: stored.job, runs: stored.runs, lastError };
      op.set(keys.job(now + delayMs, stored.id), retry);
      this.#ring(op, delayMs);
      await commit(op);
      return;
    }
    const failed: FailedJob = { ...stored, lastError, failedAt: now };
    op.set(keys.failedJob(stored.id), failed);
    if ((await commit(op)).ok) this.#onFailed(failed);
  }

  /** Fails a job found with its runs spent: its last runner stopped before it finished. */
  async #failExhausted(entry: Deno.KvEntry<StoredJob>, now: number): Promise<void> {
    const { id, job, runs, lastError } = entry.value;
    const failed: FailedJob = {
      id,
      job,
      runs,
      lastError: lastError === undefined
        ? RUNNER_STOPPED_ERROR
        : `${RUNNER_STOPPED_ERROR}; the error before: ${lastError}`,
      failedAt: now,
    };
    const op = this.#kv.atomic().check(entry).delete(entry.key).set(keys.failedJob(id), failed);
    if ((await commit(op)).ok) this.#onFailed(failed);
  }

  async #armNextTimer(): Promise<void> {
    if (this.#mode === "queue") return; // doorbells carry their own delay
    const next = await this.nextDueAt();
    clearTimeout(this.#nextTimer);
    if (next === undefined || this.#stopped) return;
    const wait = Math.max(0, Math.min(next - this.#clock(), this.#safetySweepMs));
    this.#nextTimer = setTimeout(() => this.#kick(), wait);
  }

  #watchSignal(): void {
    this.#watch = this.#kv.watch([keys.jobSignal()]);
    (async () => {
      for await (const _ of this.#watch!) {
        if (this.#stopped) break;
        this.#kick();
      }
    })().catch(() => {});
  }
}
