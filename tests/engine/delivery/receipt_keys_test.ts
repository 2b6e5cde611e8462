/**
 * The secrets receipt handles are signed with: created once in KV and
 * shared by every broker instance on the database, rotated with the
 * previous secret valid for one visibility period.
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertNotEquals } from "@std/assert/not-equals";
import type { ReceiptHandle } from "../../../src/domain/receipt_handle.ts";
import {
  MAX_VISIBILITY_MS,
  ReceiptKeys,
  type StoredReceiptKeys,
} from "../../../src/engine/delivery/receipt_keys.ts";
import { keys } from "../../../src/store/keys.ts";

const HANDLE: ReceiptHandle = {
  group: "ops",
  groupId: "g1",
  messageId: "m1",
  topic: "Accompaniment",
  seq: 1,
  attempt: 1,
  visibleUntil: 30_000,
};

async function withTempKv<T>(run: (path: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    return await run(`${dir}/escrow.kv`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("two instances starting at once on one KV file create one secret and verify each other's handles", async () => {
  await withTempKv(async (path) => {
    using kvA = await Deno.openKv(path);
    using kvB = await Deno.openKv(path);
    const a = new ReceiptKeys(kvA, Date.now);
    const b = new ReceiptKeys(kvB, Date.now);
    const [fromA, fromB] = await Promise.all([a.sign(HANDLE), b.sign(HANDLE)]);
    assertEquals(fromA, fromB, "both signed with one secret");
    assertEquals(await b.read(fromA), { ok: true, handle: HANDLE });
    assertEquals(await a.read(fromB), { ok: true, handle: HANDLE });
  });
});

Deno.test("a handle signed by another database's secret is refused as not signed here", async () => {
  using kvA = await Deno.openKv(":memory:");
  using kvB = await Deno.openKv(":memory:");
  const text = await new ReceiptKeys(kvA, Date.now).sign(HANDLE);
  assertEquals(await new ReceiptKeys(kvB, Date.now).read(text), {
    ok: false,
    reason: "unknown key",
  });
});

Deno.test("after a rotation, old handles verify for one visibility period, then stop", async () => {
  using kv = await Deno.openKv(":memory:");
  let now = 1_000_000;
  const receiptKeys = new ReceiptKeys(kv, () => now);
  const old = await receiptKeys.sign(HANDLE);
  await receiptKeys.rotate();
  const fresh = await receiptKeys.sign(HANDLE);
  assertNotEquals(fresh, old);
  assert((await receiptKeys.read(old)).ok);
  assert((await receiptKeys.read(fresh)).ok);
  now += MAX_VISIBILITY_MS - 1;
  assert((await receiptKeys.read(old)).ok, "still within a visibility period");
  now += 1;
  assertEquals(await receiptKeys.read(old), { ok: false, reason: "unknown key" });
  assert((await receiptKeys.read(fresh)).ok);
  // A second rotation retires the one before at once: only two secrets are kept.
  await receiptKeys.rotate();
  const stored = (await kv.get<StoredReceiptKeys>(keys.receiptKeys())).value!;
  assertEquals(Object.keys(stored).sort(), ["current", "previous"]);
});

Deno.test("an instance follows a rotation made by another one when it meets the new key id", async () => {
  await withTempKv(async (path) => {
    using kvA = await Deno.openKv(path);
    using kvB = await Deno.openKv(path);
    const a = new ReceiptKeys(kvA, Date.now);
    const b = new ReceiptKeys(kvB, Date.now);
    await b.sign(HANDLE); // b has read (and cached) the first secret
    await a.rotate();
    const fromA = await a.sign(HANDLE);
    assertEquals(await b.read(fromA), { ok: true, handle: HANDLE });
  });
});

Deno.test("a message group with the handle's separators and any text round-trips through a handle", async () => {
  using kv = await Deno.openKv(":memory:");
  const receiptKeys = new ReceiptKeys(kv, Date.now);
  for (const messageGroup of ["a.b~c", "customer 9/ü%(x)!*'", "~.~", ""]) {
    const handle = { ...HANDLE, messageGroup };
    assertEquals(await receiptKeys.read(await receiptKeys.sign(handle)), { ok: true, handle });
  }
});
