import { assertEquals } from "@std/assert/equals";
import { type Slot, Slots } from "../../../src/http/limits/slots.ts";

function taken(result: Slot | string): Slot {
  if (typeof result === "string") throw new Error(`refused: ${result}`);
  return result;
}

Deno.test("slots refuse a key over its share and anyone over the total", () => {
  const slots = new Slots({ total: 3, perKey: 2 });
  const a1 = taken(slots.take("a"));
  taken(slots.take("a"));
  assertEquals(slots.take("a"), "key");
  taken(slots.take("b"));
  assertEquals(slots.take("c"), "total");
  a1.release();
  assertEquals(slots.inUse, 2);
  taken(slots.take("c"));
});

Deno.test("a slot released twice is given back once, and a key holding none leaves no entry", () => {
  const slots = new Slots({ total: 0, perKey: 1 });
  const slot = taken(slots.take("a"));
  slot.release();
  slot[Symbol.dispose]();
  assertEquals([slots.inUse, slots.heldBy("a")], [0, 0]);
  taken(slots.take("a"));
  assertEquals(slots.take("a"), "key");
});

Deno.test("a shared slot counts in the total only; caps of 0 are unlimited", () => {
  const slots = new Slots({ total: 2, perKey: 1 });
  taken(slots.take("anonymous", { shared: true }));
  taken(slots.take("anonymous", { shared: true }));
  assertEquals(slots.heldBy("anonymous"), 0);
  assertEquals(slots.take("anonymous", { shared: true }), "total");
  const open = new Slots({ total: 0, perKey: 0 });
  for (let i = 0; i < 1_000; i++) taken(open.take("a"));
  assertEquals(open.inUse, 1_000);
});
