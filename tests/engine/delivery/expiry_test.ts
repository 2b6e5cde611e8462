/**
 * Expiry by shared timers: the leases of a group that end within one
 * expiry step share one `visibilityDue` job, due at the end of the step, so
 * a receive round writes no job of its own, and every delivery still in
 * flight when its visibility ends is failed by that job, never before.
 */
import { assertEquals } from "@std/assert/equals";
import type { StoredJob } from "../../../src/engine/jobs/jobs.ts";
import { EXPIRY_STEP_MS } from "../../../src/engine/delivery/records.ts";
import { keys } from "../../../src/store/keys.ts";
import { openBroker } from "../../_support/broker.ts";

/** A second and a half into a step: the leases end mid-step. */
const T0 = Date.UTC(2030, 0, 1) + 500;

/** A broker on a manual clock at T0, with the topic Orders and the group ops (30 s visibility). */
async function open() {
  const t = await openBroker({ clock: { manual: T0 } });
  await t.broker.topics.create("Orders");
  await t.broker.groups.put("ops", {
    subscriptions: [{ topic: "Orders" }],
    visibilityTimeoutSeconds: 30,
  });
  return t;
}

Deno.test("the leases of a group that end in one step share one expiry job, which fails them once they ended", async () => {
  await using t = await open();
  for (let i = 0; i < 6; i++) await t.broker.publisher.publish("Orders", { body: i });
  for (let i = 0; i < 3; i++) {
    assertEquals((await t.broker.deliveries.receive("ops", { max: 1 })).length, 1);
    t.advance(100); // three leases, ending 100 ms apart within one step
  }
  const jobs = async () =>
    (await Array.fromAsync(t.kv.list<StoredJob>({ prefix: keys.jobs() })))
      .filter((e) => e.value.job.kind === "visibilityDue");
  const [job, ...others] = await jobs();
  assertEquals(others.length, 0, "one expiry job for the three leases");
  const end = T0 + 30_000;
  assertEquals(job!.key[1], Math.ceil(end / EXPIRY_STEP_MS) * EXPIRY_STEP_MS);

  // A lease in the next step gets a job of its own.
  t.advance(1_000);
  assertEquals((await t.broker.deliveries.receive("ops", { max: 1 })).length, 1);
  assertEquals((await jobs()).length, 2);

  // Not before the first leases end, whatever runs.
  t.advance(end - 1 - t.now());
  await t.broker.scheduler.runDue();
  assertEquals((await t.broker.groups.stats("ops")).inFlight, 4);
  t.advance(Number(job!.key[1]) - t.now());
  await t.broker.scheduler.runDue();
  const stats = await t.broker.groups.stats("ops");
  assertEquals([stats.inFlight, stats.retrying], [1, 3]);
});

Deno.test("more leases ending in one step than one expiry run reads are all expired: the run schedules the rest", async () => {
  await using t = await open();
  // 2,001 leases (one per receive of one message): one more than an expiry run reads.
  const n = 2_001;
  for (let i = 0; i < n; i += 1_000) {
    const size = Math.min(1_000, n - i);
    await t.broker.publisher.publishBatch(
      "Orders",
      Array.from({ length: size }, (_, j) => ({ body: i + j })),
    );
  }
  for (let i = 0; i < n; i++) {
    assertEquals((await t.broker.deliveries.receive("ops", { max: 1 })).length, 1);
  }
  assertEquals((await Array.fromAsync(t.kv.list({ prefix: ["lease"] }))).length, n);
  t.advance(31_000);
  await t.broker.scheduler.runDue();
  const stats = await t.broker.groups.stats("ops");
  assertEquals([stats.inFlight, stats.retrying], [0, n]);
});
