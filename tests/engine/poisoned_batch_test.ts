/**
 * One publish that Deno KV refuses (a message key of 7,000 characters makes
 * its by-key index entry's KV key too large), committed among concurrent good
 * publishes that share its group commit, fails alone with its own 400; every
 * good publish is stored and delivered.
 * The HTTP edge bounds every field, so this is driven through the engine,
 * where nothing stops a record from growing past KV's limit.
 */
import { assertEquals, assertRejects } from "@std/assert";
import { ValidationError } from "../../src/domain/errors.ts";
import { openBroker } from "../_support/broker.ts";

Deno.test("a poisoned publish among 40 concurrent good ones fails alone with 400", async () => {
  await using t = await openBroker();
  const { broker } = t;
  await broker.topics.create("Trade");
  await broker.groups.put("all", { subscriptions: [{ topic: "Trade", tags: "*" }] });
  const good = Array.from(
    { length: 40 },
    (_, i) => broker.publisher.publish("Trade", { tag: "Ops", body: { i } }),
  );
  const poisoned = broker.publisher.publish("Trade", {
    tag: "Ops",
    keys: ["k".repeat(7_000)],
    body: { poisoned: true },
  });
  const refused = assertRejects(() => poisoned, ValidationError, "Key too large");
  const results = await Promise.all(good);
  await refused;
  assertEquals(results.filter((r) => !r.duplicate).length, 40);
  const received = await broker.deliveries.receive("all", { max: 32 });
  const more = await broker.deliveries.receive("all", { max: 32 });
  const bodies = [...received, ...more].map((m) => (m.body as { i: number }).i).sort((a, b) =>
    a - b
  );
  assertEquals(bodies, Array.from({ length: 40 }, (_, i) => i));
});
