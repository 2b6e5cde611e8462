/**
 * The shared broker builder keeps its promises: each KV choice is opened and
 * cleaned up as documented, each clock moves as documented, and a served
 * broker answers on 127.0.0.1 until disposed.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertRejects } from "@std/assert/rejects";
import { assertThrows } from "@std/assert/throws";
import { FakeTime } from "@std/testing/time";
import { openBroker, serveBroker, tempKvFile } from "./broker.ts";

const T0 = Date.UTC(2030, 0, 1);

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("openBroker() defaults to a :memory: KV in sweep mode; disposing closes the KV", async () => {
  const t = await openBroker();
  assertEquals(t.broker.scheduler.mode, "sweep");
  await t.broker.topics.create("Orders");
  await t[Symbol.asyncDispose]();
  await assertRejects(() => t.kv.get(["anything"]));
});

Deno.test("two brokers on one temp file see each other's writes; the file goes once both are done", async () => {
  const file = await tempKvFile();
  {
    await using a = await openBroker({ kv: { path: file.path } });
    await using b = await openBroker({ kv: { path: file.path } });
    await a.broker.topics.create("Orders");
    assertEquals((await b.broker.topics.list()).map((topic) => topic.name), ["Orders"]);
  }
  assert(await exists(file.path), "a path given is left in place");
  await file[Symbol.asyncDispose]();
  assertEquals(await exists(file.dir), false);
});

Deno.test("a KV handle given is left open on dispose", async () => {
  using kv = await Deno.openKv(":memory:");
  {
    await using t = await openBroker({ kv: { handle: kv } });
    await t.broker.topics.create("Orders");
  }
  assertEquals((await kv.list({ prefix: [] }).next()).done, false);
});

Deno.test("a manual clock starts where told, moves only by advance(), and is the broker's clock", async () => {
  await using t = await openBroker({ clock: { manual: T0 } });
  assertEquals(t.now(), T0);
  t.advance(1_500);
  assertEquals(t.now(), T0 + 1_500);
  await t.broker.topics.create("Orders");
  const { messageId } = await t.broker.publisher.publish("Orders", { body: 1 });
  assertEquals((await t.broker.messages.get(messageId)).publishedAt, T0 + 1_500);
});

Deno.test("a FakeTime clock is ticked by advance(); the real clock refuses advance()", async () => {
  {
    using time = new FakeTime(T0);
    await using t = await openBroker({ clock: { fake: time } });
    t.advance(2_000);
    assertEquals([t.now(), Date.now()], [T0 + 2_000, T0 + 2_000]);
  }
  await using real = await openBroker();
  assertThrows(() => real.advance(1), TypeError, "real clock");
});

Deno.test("serveBroker() answers on 127.0.0.1 until disposed", async () => {
  const live = await serveBroker();
  assert(live.url.startsWith("http://127.0.0.1:"));
  const res = await fetch(`${live.url}/healthz`);
  await res.body?.cancel();
  assertEquals(res.status, 200);
  await live[Symbol.asyncDispose]();
  await assertRejects(() => fetch(`${live.url}/healthz`));
});
