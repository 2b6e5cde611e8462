/**
 * The scheduler in real time, in both modes: KV queue doorbells (local KV)
 * and the watch-plus-timer sweep (where queues do not exist), and several
 * processes' worth of schedulers on one KV file.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { join } from "@std/path";
import { stub } from "@std/testing/mock";
import { FakeTime } from "@std/testing/time";
import { NotFoundError, ValidationError } from "../../../src/domain/errors.ts";
import {
  type FailedJob,
  type Job,
  JOB_RETRY_MAX_MS,
  jobRetryDelayMs,
  type StoredJob,
} from "../../../src/engine/jobs/jobs.ts";
import {
  detectSchedulerMode,
  RUNNER_STOPPED_ERROR,
  Scheduler,
  type SchedulerMode,
} from "../../../src/engine/jobs/scheduler.ts";
import { GroupCommitter } from "../../../src/store/group_commit.ts";
import { keys } from "../../../src/store/keys.ts";
import { WriteSet } from "../../../src/store/write_set.ts";

const T0 = Date.UTC(2030, 0, 1);

const job = (check: number): Job => ({ kind: "checkBackDue", transactionId: "t", check });

function collector(expected: number) {
  const seen: number[] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  return {
    seen,
    done: promise,
    handler: (j: Job) => {
      if (j.kind === "checkBackDue") seen.push(j.check);
      if (seen.length === expected) resolve();
      return Promise.resolve();
    },
  };
}

Deno.test("a local KV has queues, so the scheduler uses doorbells", async () => {
  using kv = await Deno.openKv(":memory:");
  assertEquals(await detectSchedulerMode(kv), "queue");
});

for (const mode of ["queue", "sweep"] as const satisfies SchedulerMode[]) {
  Deno.test(`${mode} mode runs jobs when they fall due, each once`, async () => {
    const dir = await Deno.makeTempDir();
    const kv = await Deno.openKv(join(dir, "jobs.kv"));
    const c = collector(3);
    const scheduler = new Scheduler(kv, c.handler, { mode, safetySweepMs: 60_000 });
    try {
      await scheduler.start();
      const op = kv.atomic();
      const now = Date.now();
      scheduler.schedule(op, job(1), now);
      scheduler.schedule(op, job(2), now + 150);
      scheduler.schedule(op, job(3), now + 300);
      await op.commit();
      await deadline(c.done, 5_000);
      assertEquals(c.seen.sort(), [1, 2, 3]);
      assertEquals(await scheduler.nextDueAt(), undefined);
    } finally {
      await scheduler.stop();
      kv.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("sweep mode: a job written by another handle on the same file wakes this one", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "jobs.kv");
  const writerKv = await Deno.openKv(path);
  const runnerKv = await Deno.openKv(path);
  const c = collector(1);
  const writer = new Scheduler(writerKv, () => Promise.reject(new Error("must not run")), {
    mode: "sweep",
  });
  const runner = new Scheduler(runnerKv, c.handler, { mode: "sweep", safetySweepMs: 60_000 });
  try {
    await runner.start();
    const op = writerKv.atomic();
    writer.schedule(op, job(7), Date.now() + 50);
    await op.commit();
    await deadline(c.done, 5_000);
    assertEquals(c.seen, [7]);
  } finally {
    await runner.stop();
    writerKv.close();
    runnerKv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two schedulers sweeping one KV file never run the same job twice", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "jobs.kv");
  const kvA = await Deno.openKv(path);
  const kvB = await Deno.openKv(path);
  const runs: number[] = [];
  const handler = async (j: Job) => {
    if (j.kind === "checkBackDue") runs.push(j.check);
    await new Promise((r) => setTimeout(r, 1));
  };
  const a = new Scheduler(kvA, handler, { mode: "sweep" });
  const b = new Scheduler(kvB, handler, { mode: "sweep" });
  try {
    const op = kvA.atomic();
    for (let i = 0; i < 200; i++) a.schedule(op, job(i), Date.now());
    await op.commit();
    const [ranA, ranB] = await Promise.all([a.runDue(), b.runDue()]);
    assertEquals(ranA + ranB, 200);
    assertEquals(runs.length, 200);
    assertEquals(new Set(runs).size, 200);
  } finally {
    await a.stop();
    await b.stop();
    kvA.close();
    kvB.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a job whose handler throws runs again once its back-off has passed", async () => {
  using time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  let attempts = 0;
  const scheduler = new Scheduler(kv, () => {
    attempts++;
    return attempts === 1 ? Promise.reject(new Error("boom")) : Promise.resolve();
  }, { mode: "sweep", leaseMs: 50, onError: () => {} });
  const op = kv.atomic();
  scheduler.schedule(op, job(1), Date.now());
  await op.commit();
  assertEquals(await scheduler.runDue(), 1);
  assert(await scheduler.nextDueAt() !== undefined, "the failed job stays stored");
  time.tick(jobRetryDelayMs(1));
  assertEquals(await scheduler.runDue(), 1);
  assertEquals(attempts, 2);
  assertEquals(await scheduler.nextDueAt(), undefined);
  await scheduler.stop();
});

// Bounded attempts, the back-off, failed jobs, and the checks that keep two
// runners of one job from both writing its outcome. Time is a FakeTime; jobs
// run only when a test calls runDue().

/** Every stored pending job (waiting or leased) with its due time. */
async function pendingJobs(kv: Deno.Kv): Promise<Array<StoredJob & { dueAt: number }>> {
  const out: Array<StoredJob & { dueAt: number }> = [];
  for await (const entry of kv.list<StoredJob>({ prefix: keys.jobs() })) {
    out.push({ ...entry.value, dueAt: entry.key[1] as number });
  }
  return out;
}

/** Every stored failed job. */
async function failedJobs(kv: Deno.Kv): Promise<FailedJob[]> {
  const out: FailedJob[] = [];
  for await (const entry of kv.list<FailedJob>({ prefix: keys.failedJobs() })) {
    out.push(entry.value);
  }
  return out;
}

/** Schedules `j` at `dueAt` and returns its id. */
async function scheduleOne(kv: Deno.Kv, scheduler: Scheduler, j: Job, dueAt: number) {
  const op = kv.atomic();
  scheduler.schedule(op, j, dueAt);
  assert((await op.commit()).ok);
  const [stored] = await pendingJobs(kv);
  assert(stored !== undefined);
  return stored.id;
}

/** A handler the test settles by hand, one run at a time. */
function heldHandler() {
  const runs: Array<PromiseWithResolvers<void>> = [];
  const started: Array<PromiseWithResolvers<void>> = [Promise.withResolvers<void>()];
  return {
    runs,
    /** Resolves once run number `n` (1-based) has started. */
    started: async (n: number) => {
      while (started.length <= n) started.push(Promise.withResolvers<void>());
      await started[n]!.promise;
    },
    handler: (): Promise<void> => {
      const run = Promise.withResolvers<void>();
      runs.push(run);
      while (started.length <= runs.length) started.push(Promise.withResolvers<void>());
      started[runs.length]!.resolve();
      return run.promise;
    },
  };
}

Deno.test("jobRetryDelayMs doubles from 1 s and stays at 5 min from the 10th run on", () => {
  const delays = Array.from({ length: 12 }, (_, i) => jobRetryDelayMs(i + 1));
  assertEquals(delays, [
    1_000,
    2_000,
    4_000,
    8_000,
    16_000,
    32_000,
    64_000,
    128_000,
    256_000,
    JOB_RETRY_MAX_MS,
    JOB_RETRY_MAX_MS,
    JOB_RETRY_MAX_MS,
  ]);
  assertEquals(JOB_RETRY_MAX_MS, 300_000);
  assertEquals(jobRetryDelayMs(1_000_000), JOB_RETRY_MAX_MS);
  assertThrows(() => jobRetryDelayMs(0), RangeError, "runs must be 1 or more");
  assertThrows(() => jobRetryDelayMs(1.5), RangeError);
});

Deno.test("a job that keeps failing is retried on its back-off and ends failed after 3 attempts with its last error", async () => {
  using time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  let attempts = 0;
  const errors: string[] = [];
  const failed: FailedJob[] = [];
  const scheduler = new Scheduler(kv, () => {
    attempts++;
    return Promise.reject(new Error(`boom ${attempts}`));
  }, {
    maxAttempts: 3,
    onError: (error, _job, stored) => errors.push(`${stored.runs}:${(error as Error).message}`),
    onFailed: (f) => failed.push(f),
  });
  const id = await scheduleOne(kv, scheduler, job(1), T0);

  assertEquals(await scheduler.runDue(), 1);
  assertEquals(await pendingJobs(kv), [
    { id, job: job(1), runs: 1, lastError: "Error: boom 1", dueAt: T0 + 1_000 },
  ]);
  time.tick(999);
  assertEquals(await scheduler.runDue(), 0, "not before its 1 s back-off");
  time.tick(1);
  assertEquals(await scheduler.runDue(), 1);
  assertEquals(await pendingJobs(kv), [
    { id, job: job(1), runs: 2, lastError: "Error: boom 2", dueAt: T0 + 3_000 },
  ]);
  time.tick(1_999);
  assertEquals(await scheduler.runDue(), 0, "not before its 2 s back-off");
  assertEquals(failed, []);
  time.tick(1);
  assertEquals(await scheduler.runDue(), 1);

  const expected: FailedJob = {
    id,
    job: job(1),
    runs: 3,
    lastError: "Error: boom 3",
    failedAt: T0 + 3_000,
  };
  assertEquals(await pendingJobs(kv), []);
  assertEquals(await failedJobs(kv), [expected]);
  assertEquals(failed, [expected], "onFailed once, with the stored record");
  assertEquals(errors, ["1:boom 1", "2:boom 2", "3:boom 3"]);
  assertEquals(await scheduler.list({ state: "failed" }), {
    jobs: [{ id, job: job(1), runs: 3, lastError: "Error: boom 3", failedAt: T0 + 3_000 }],
  });
  await scheduler.stop();
});

Deno.test("a failed job is not run again, however long the scheduler keeps sweeping", async () => {
  using time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  let attempts = 0;
  const scheduler = new Scheduler(kv, () => {
    attempts++;
    return Promise.reject(new Error("boom"));
  }, { maxAttempts: 1, onError: () => {}, onFailed: () => {} });
  await scheduleOne(kv, scheduler, job(1), T0);
  assertEquals(await scheduler.runDue(), 1);
  assertEquals((await failedJobs(kv)).length, 1);
  for (let i = 0; i < 5; i++) {
    time.tick(24 * 3600_000);
    assertEquals(await scheduler.runDue(), 0);
  }
  assertEquals(attempts, 1);
  assertEquals(await scheduler.nextDueAt(), undefined);
  await scheduler.stop();
});

Deno.test("retryFailed puts a failed job back due now with runs 0, and it runs", async () => {
  using time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  let healthy = false;
  const ran: Job[] = [];
  const scheduler = new Scheduler(kv, (j) => {
    ran.push(j);
    return healthy ? Promise.resolve() : Promise.reject(new Error("down"));
  }, { maxAttempts: 2, onError: () => {}, onFailed: () => {} });
  const id = await scheduleOne(kv, scheduler, job(4), T0);
  await scheduler.runDue();
  time.tick(jobRetryDelayMs(1));
  await scheduler.runDue();
  assertEquals((await failedJobs(kv)).map((f) => f.id), [id]);

  time.tick(60_000);
  healthy = true;
  const retried = await scheduler.retryFailed(id);
  assertEquals(retried, {
    id,
    job: job(4),
    runs: 0,
    lastError: "Error: down",
    dueAt: T0 + 1_000 + 60_000,
  });
  assertEquals(await failedJobs(kv), []);
  assertEquals(await pendingJobs(kv), [{ ...retried, dueAt: T0 + 61_000 }]);
  assertEquals(await scheduler.runDue(), 1);
  assertEquals(ran, [job(4), job(4), job(4)]);
  assertEquals(await pendingJobs(kv), []);
  assertEquals(await failedJobs(kv), []);
  await assertRejects(() => scheduler.retryFailed(id), NotFoundError);
  await scheduler.stop();
});

Deno.test("removeFailed deletes a failed job for good; an unknown id is NotFoundError", async () => {
  using _time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  const scheduler = new Scheduler(kv, () => Promise.reject(new Error("x")), {
    maxAttempts: 1,
    onError: () => {},
    onFailed: () => {},
  });
  const id = await scheduleOne(kv, scheduler, job(1), T0);
  await scheduler.runDue();
  await scheduler.removeFailed(id);
  assertEquals(await failedJobs(kv), []);
  assertEquals(await pendingJobs(kv), []);
  await assertRejects(() => scheduler.removeFailed(id), NotFoundError, id);
  await scheduler.stop();
});

Deno.test("a leased job whose runs already reached maxAttempts is failed by the sweep, not run", async () => {
  using _time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  let attempts = 0;
  const failed: FailedJob[] = [];
  const scheduler = new Scheduler(kv, () => {
    attempts++;
    return Promise.resolve();
  }, { maxAttempts: 3, onFailed: (f) => failed.push(f) });
  // What a runner that crashed on its 3rd run leaves behind: its lease, now ended.
  await kv.set(keys.job(T0 - 1, "crashed"), { id: "crashed", job: job(1), runs: 3 });
  await kv.set(keys.job(T0 - 1, "crashed-after-error"), {
    id: "crashed-after-error",
    job: job(2),
    runs: 3,
    lastError: "Error: boom",
  });
  assertEquals(await scheduler.runDue(), 0);
  assertEquals(attempts, 0);
  assertEquals(await pendingJobs(kv), []);
  const expected: FailedJob[] = [
    { id: "crashed", job: job(1), runs: 3, lastError: RUNNER_STOPPED_ERROR, failedAt: T0 },
    {
      id: "crashed-after-error",
      job: job(2),
      runs: 3,
      lastError: `${RUNNER_STOPPED_ERROR}; the error before: Error: boom`,
      failedAt: T0,
    },
  ];
  assertEquals(await failedJobs(kv), expected);
  assertEquals(failed, expected);
  await scheduler.stop();
});

Deno.test("a runner that stops mid-job on its last attempt leaves a lease that the next sweep fails, once", async () => {
  using time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  const leaseMs = 15_000;
  const crashed = heldHandler();
  const failed: FailedJob[] = [];
  // The first process: run 1 throws, run 2 hangs as if the process had died.
  const first = new Scheduler(kv, crashed.handler, {
    leaseMs,
    maxAttempts: 2,
    onError: () => {},
    onFailed: (f) => failed.push(f),
  });
  let secondRuns = 0;
  const second = new Scheduler(kv, () => {
    secondRuns++;
    return Promise.resolve();
  }, { leaseMs, maxAttempts: 2, onFailed: (f) => failed.push(f) });
  const id = await scheduleOne(kv, first, job(1), T0);
  const run1 = first.runDue();
  await crashed.started(1);
  crashed.runs[0]!.reject(new Error("boom"));
  await run1;
  time.tick(jobRetryDelayMs(1));
  const run2 = first.runDue();
  await crashed.started(2);
  assertEquals((await pendingJobs(kv)).map((j) => [j.runs, j.dueAt]), [[2, T0 + 1_000 + leaseMs]]);

  time.tick(leaseMs - 1);
  assertEquals(await second.runDue(), 0);
  assertEquals(failed, [], "not while the lease lasts");
  time.tick(1);
  assertEquals(await second.runDue(), 0, "the job is not run a third time");
  assertEquals(secondRuns, 0);
  assertEquals(await pendingJobs(kv), []);
  assertEquals(failed, [{
    id,
    job: job(1),
    runs: 2,
    lastError: `${RUNNER_STOPPED_ERROR}; the error before: Error: boom`,
    failedAt: T0 + 1_000 + leaseMs,
  }]);
  // The stuck run ends after all, with an error: its lease is gone, so it changes nothing.
  crashed.runs[1]!.reject(new Error("late"));
  await run2;
  assertEquals(failed.length, 1, "reported once");
  assertEquals((await failedJobs(kv)).map((f) => f.lastError), [
    `${RUNNER_STOPPED_ERROR}; the error before: Error: boom`,
  ]);
  await first.stop();
  await second.stop();
});

Deno.test("a runner that outlived its lease writes nothing when its run throws: the other runner's retry stands", async () => {
  using time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  const leaseMs = 15_000;
  const slow = heldHandler();
  const a = new Scheduler(kv, slow.handler, { leaseMs, onError: () => {} });
  const b = new Scheduler(kv, () => Promise.reject(new Error("b failed")), {
    leaseMs,
    onError: () => {},
  });
  const id = await scheduleOne(kv, a, job(1), T0);
  const runA = a.runDue();
  await slow.started(1);
  time.tick(leaseMs);
  assertEquals(await b.runDue(), 1, "b takes the job over once a's lease ended");
  const afterB = [{
    id,
    job: job(1),
    runs: 2,
    lastError: "Error: b failed",
    dueAt: T0 + leaseMs + jobRetryDelayMs(2),
  }];
  assertEquals(await pendingJobs(kv), afterB);
  slow.runs[0]!.reject(new Error("a failed late"));
  await runA;
  assertEquals(await pendingJobs(kv), afterB, "a's late failure must not add a second copy");
  assertEquals(await failedJobs(kv), []);
  await a.stop();
  await b.stop();
});

Deno.test("a runner that outlived its lease cannot undo the other runner's failing of the job", async () => {
  using time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  const leaseMs = 15_000;
  const slow = heldHandler();
  const failed: string[] = [];
  const options = { leaseMs, maxAttempts: 2, onError: () => {} };
  const a = new Scheduler(kv, slow.handler, { ...options, onFailed: () => failed.push("a") });
  const b = new Scheduler(kv, () => Promise.reject(new Error("b failed")), {
    ...options,
    onFailed: () => failed.push("b"),
  });
  const id = await scheduleOne(kv, a, job(1), T0);
  const runA = a.runDue();
  await slow.started(1);
  time.tick(leaseMs);
  assertEquals(await b.runDue(), 1);
  slow.runs[0]!.reject(new Error("a failed late"));
  await runA;
  assertEquals(await pendingJobs(kv), [], "a's late failure must not put the job back");
  time.tick(JOB_RETRY_MAX_MS);
  assertEquals(await a.runDue(), 0);
  assertEquals(await failedJobs(kv), [{
    id,
    job: job(1),
    runs: 2,
    lastError: "Error: b failed",
    failedAt: T0 + leaseMs,
  }]);
  assertEquals(failed, ["b"], "logged once, by the runner whose commit made it failed");
  await a.stop();
  await b.stop();
});

Deno.test("two schedulers sweeping one exhausted lease fail it once and report it once", async () => {
  using _time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  const failed: string[] = [];
  const a = new Scheduler(kv, () => Promise.resolve(), {
    maxAttempts: 1,
    onFailed: () => failed.push("a"),
  });
  const b = new Scheduler(kv, () => Promise.resolve(), {
    maxAttempts: 1,
    onFailed: () => failed.push("b"),
  });
  await kv.set(keys.job(T0, "x"), { id: "x", job: job(1), runs: 1 });
  await Promise.all([a.runDue(), b.runDue()]);
  assertEquals(failed.length, 1, `reported by ${failed.join(" and ")}`);
  assertEquals((await failedJobs(kv)).length, 1);
  await a.stop();
  await b.stop();
});

Deno.test("two concurrent retries of one failed job: one puts it back, the other is NotFoundError", async () => {
  using _time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  const a = new Scheduler(kv, () => Promise.resolve());
  const b = new Scheduler(kv, () => Promise.resolve());
  const record: FailedJob = { id: "f", job: job(1), runs: 10, lastError: "x", failedAt: T0 };
  await kv.set(keys.failedJob("f"), record);
  const results = await Promise.allSettled([a.retryFailed("f"), b.retryFailed("f")]);
  assertEquals(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
  const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
  assert(rejected.reason instanceof NotFoundError, String(rejected.reason));
  assertEquals((await pendingJobs(kv)).map((j) => [j.id, j.runs]), [["f", 0]]);
  await a.stop();
  await b.stop();
});

Deno.test("the default failure log is one console.error line with kind, id, runs and last error, written after the commit", async () => {
  using _time = new FakeTime(T0);
  using kv = await Deno.openKv(":memory:");
  using _warnLog = stub(console, "warn");
  const scheduler = new Scheduler(kv, () => Promise.reject(new Error("boom\nsecond line")), {
    maxAttempts: 1,
  });
  const id = await scheduleOne(kv, scheduler, {
    kind: "checkBack",
    transactionId: "tx-secret-payload",
    check: 2,
  }, T0);
  // A read started as the line is written sees the failed record only if it was committed first.
  let storedAtLog: Promise<Deno.KvEntryMaybe<FailedJob>> | undefined;
  using errorLog = stub(console, "error", () => {
    storedAtLog = kv.get<FailedJob>(keys.failedJob(id));
  });
  await scheduler.runDue();
  assertEquals(errorLog.calls.length, 1);
  assertEquals(errorLog.calls[0]!.args, [
    `job failed: checkBack ${id} after 1 runs: Error: boom second line`,
  ]);
  assert(!String(errorLog.calls[0]!.args[0]).includes("tx-secret-payload"), "no payload logged");
  assert(storedAtLog !== undefined);
  assertEquals((await storedAtLog).value?.lastError, "Error: boom second line");
  await scheduler.stop();
});

Deno.test("a Scheduler refuses a maxAttempts below 1", async () => {
  using kv = await Deno.openKv(":memory:");
  assertThrows(() => new Scheduler(kv, () => Promise.resolve(), { maxAttempts: 0 }), RangeError);
});

Deno.test("list refuses a limit outside 1..1000 and a cursor it did not give out", async () => {
  using kv = await Deno.openKv(":memory:");
  const scheduler = new Scheduler(kv, () => Promise.resolve());
  for (const limit of [0, 1001, 2.5]) {
    await assertRejects(() => scheduler.list({ limit }), ValidationError, "limit");
  }
  await assertRejects(() => scheduler.list({ cursor: "not-a-cursor" }), ValidationError, "cursor");
  assertEquals(await scheduler.list({ limit: 1000 }), { jobs: [] });
});

Deno.test("scheduleOnce: many schedules of one id and time are one job, remembered only once a commit stored it", async () => {
  using kv = await Deno.openKv(":memory:");
  const ran: Job[] = [];
  const scheduler = new Scheduler(kv, (j) => {
    ran.push(j);
    return Promise.resolve();
  }, { clock: () => T0 });
  const visibility: Job = { kind: "visibilityDue", group: "ops" };
  const jobs = () => Array.fromAsync(kv.list<StoredJob>({ prefix: keys.jobs() }));
  // A commit that fails leaves nothing stored, and nothing remembered.
  const lost = new WriteSet().check({ key: ["taken"], versionstamp: null });
  await kv.set(["taken"], 1);
  scheduler.scheduleOnce(lost, visibility, T0, "vis:g1:0");
  assertEquals(await new GroupCommitter(kv).commit(lost), false);
  assertEquals((await jobs()).length, 0);
  const committer = new GroupCommitter(kv);
  for (let i = 0; i < 3; i++) {
    const op = scheduler.scheduleOnce(new WriteSet(), visibility, T0, "vis:g1:0");
    assertEquals(await committer.commit(op), true);
  }
  const stored = await jobs();
  assertEquals(stored.map((e) => e.value.id), ["vis:g1:0"]);
  // After the first commit the id is remembered: the next schedules write nothing.
  assertEquals(scheduler.scheduleOnce(new WriteSet(), visibility, T0, "vis:g1:0").mutations, 0);
  assertEquals(await scheduler.runDue(), 1);
  assertEquals(ran, [visibility]);
});
