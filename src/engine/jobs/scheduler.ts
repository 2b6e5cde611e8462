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
 * (moves its key `leaseMs` into the future under an optimistic check), so two
 * processes never run the same job at once, and a process that dies mid-job
 * leaves it to run again once the lease ends.
 *
 * @module
 */
import { monotonicUlid } from "@std/ulid";
import { commit } from "../../store/commit.ts";
import { keys } from "../../store/keys.ts";
import type { Writes } from "../../store/write_set.ts";
import type { Job, StoredJob } from "./jobs.ts";

/** How due jobs are noticed. */
export type SchedulerMode = "queue" | "sweep";

/** Runs one job; a throw leaves the job to run again after its lease. */
export type JobHandler = (job: Job) => Promise<void>;

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
  /** Called when a job handler throws. @default {console.error} */
  onError?: (error: unknown, job: Job) => void;
}

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
  readonly #onError: (error: unknown, job: Job) => void;
  readonly #running = new Set<Promise<void>>();
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
    this.#onError = options.onError ?? ((error, job) => console.error("job failed", job, error));
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
      while (this.#running.size >= this.#concurrency) await Promise.race(this.#running);
      const leased = { ...entry.value, runs: entry.value.runs + 1 };
      const leaseKey = keys.job(now + this.#leaseMs, entry.value.id);
      const op = this.#kv.atomic().check(entry).delete(entry.key).set(leaseKey, leased);
      // If this process dies mid-job, the doorbell (or the signal) brings the job back.
      this.#ring(op, this.#leaseMs);
      const claim = await commit(op);
      if (!claim.ok) continue; // another process took it
      ran++;
      const run = this.#run(leased, leaseKey).finally(() => this.#running.delete(run));
      this.#running.add(run);
    }
    if (!this.#stopped && this.#started) await this.#armNextTimer();
    return ran;
  }

  async #run(job: StoredJob, leaseKey: Deno.KvKey): Promise<void> {
    try {
      await this.#handler(job.job);
      await commit(this.#kv.atomic().delete(leaseKey));
    } catch (error) {
      this.#onError(error, job.job);
    }
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
