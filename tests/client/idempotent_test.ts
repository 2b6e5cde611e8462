/**
 * `idempotent` on an in-memory Deno KV: a message's effects and its
 * "processed" marker commit together, so duplicates, sequential or
 * concurrent, apply once, while a check the handler added itself is retried
 * on fresh state.
 *
 * @module
 */
import { assertEquals } from "@std/assert/equals";
import { assertRejects } from "@std/assert/rejects";
import { idempotent } from "../../src/client/mod.ts";

interface Payment {
  readonly messageId: string;
  readonly amount: number;
}

async function balanceOf(kv: Deno.Kv): Promise<number> {
  return Number((await kv.get<Deno.KvU64>(["balance"])).value?.value ?? 0n);
}

Deno.test("the same message twice applies once: the second call returns false with no effect", async () => {
  using kv = await Deno.openKv(":memory:");
  const pay = idempotent(kv, (message: Payment, op) => {
    op.sum(["balance"], BigInt(message.amount));
    op.set(["payments", message.messageId], message.amount);
  });

  const first = await pay({ messageId: "m-1", amount: 100 });
  const second = await pay({ messageId: "m-1", amount: 100 });
  const other = await pay({ messageId: "m-2", amount: 5 });

  assertEquals([first, second, other], [true, false, true]);
  assertEquals(await balanceOf(kv), 105);
  assertEquals((await kv.get(["payments", "m-1"])).value, 100);
  assertEquals(typeof (await kv.get(["escrow_processed", "m-1"])).value, "number");
});

Deno.test("concurrent duplicates of a message: exactly one applies", async () => {
  using kv = await Deno.openKv(":memory:");
  let runs = 0;
  const pay = idempotent(kv, async (message: Payment, op) => {
    runs++;
    await Promise.resolve(); // let the duplicates interleave before committing
    op.sum(["balance"], BigInt(message.amount));
  });

  const results = await Promise.all(
    Array.from({ length: 20 }, () => pay({ messageId: "m-1", amount: 100 })),
  );

  assertEquals(runs, 20, "every duplicate got as far as its commit");
  assertEquals(results.filter((r) => r).length, 1);
  assertEquals(await balanceOf(kv), 100);
});

Deno.test("a failed check the handler added is retried on fresh state, and the message applies once", async () => {
  using kv = await Deno.openKv(":memory:");
  await kv.set(["stock"], 10);
  let runs = 0;
  const reserve = idempotent(kv, async (message: Payment, op) => {
    runs++;
    const stock = await kv.get<number>(["stock"]);
    if (runs === 1) await kv.set(["stock"], 8); // another writer gets in between
    op.check(stock).set(["stock"], stock.value! - message.amount);
  });

  const applied = await reserve({ messageId: "m-1", amount: 3 });

  assertEquals(applied, true);
  assertEquals(runs, 2, "the first run's check failed, the second committed");
  assertEquals((await kv.get(["stock"])).value, 5, "computed from the fresh value");
  assertEquals(await reserve({ messageId: "m-1", amount: 3 }), false);
  assertEquals((await kv.get(["stock"])).value, 5);
});

Deno.test("concurrent distinct messages contending on one key all apply through retries", async () => {
  using kv = await Deno.openKv(":memory:");
  await kv.set(["stock"], 100);
  const reserve = idempotent(kv, async (message: Payment, op) => {
    const stock = await kv.get<number>(["stock"]);
    op.check(stock).set(["stock"], stock.value! - message.amount);
  });

  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => reserve({ messageId: `m-${i}`, amount: 1 })),
  );

  assertEquals(results, Array(10).fill(true));
  assertEquals((await kv.get(["stock"])).value, 90);
});

Deno.test("a handler that throws commits nothing, so a redelivery applies the message", async () => {
  using kv = await Deno.openKv(":memory:");
  let fail = true;
  const pay = idempotent(kv, (message: Payment, op) => {
    op.sum(["balance"], BigInt(message.amount));
    if (fail) throw new Error("validation service down");
  });

  await assertRejects(() => pay({ messageId: "m-1", amount: 100 }), Error, "service down");
  assertEquals(await balanceOf(kv), 0);
  fail = false;

  assertEquals(await pay({ messageId: "m-1", amount: 100 }), true);
  assertEquals(await balanceOf(kv), 100);
});

Deno.test("markers go under the given prefix, with the given expiry", async () => {
  using kv = await Deno.openKv(":memory:");
  const pay = idempotent(kv, () => {}, { prefix: ["wallet", "seen"], expireInMs: 60_000 });

  assertEquals(await pay({ messageId: "m-1" }), true);

  assertEquals((await kv.get(["escrow_processed", "m-1"])).versionstamp, null);
  assertEquals(typeof (await kv.get(["wallet", "seen", "m-1"])).value, "number");
  assertEquals(await pay({ messageId: "m-1" }), false);
});
