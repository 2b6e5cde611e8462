/**
 * The scheduler in real time, in both modes: KV queue doorbells (local KV)
 * and the watch-plus-timer sweep (where queues do not exist), and several
 * processes' worth of schedulers on one KV file.
 */
import { assert, assertEquals } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { join } from "@std/path";
import type { Job } from "../../../src/engine/jobs/jobs.ts";
import {
  detectSchedulerMode,
  Scheduler,
  type SchedulerMode,
} from "../../../src/engine/jobs/scheduler.ts";

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

Deno.test("a job whose handler throws runs again once its lease ends", async () => {
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
  await new Promise((r) => setTimeout(r, 60));
  assertEquals(await scheduler.runDue(), 1);
  assertEquals(attempts, 2);
  assertEquals(await scheduler.nextDueAt(), undefined);
  await scheduler.stop();
});
