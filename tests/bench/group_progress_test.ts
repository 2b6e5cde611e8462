/** What every consumer role keeps per group: delivered ids, wrong tags, acks, the done time. */
import { assertEquals } from "@std/assert";
import { GroupProgress } from "../../src/bench/group_progress.ts";

Deno.test("GroupProgress counts a tag its expression refuses as wrong and keeps duplicates in ids", () => {
  const group = new GroupProgress("compliance", "Ops || Orchestration", 2);
  group.delivered("a", "Ops", 10, 4, true);
  group.delivered("b", "CS", 11, undefined, true);
  group.delivered("a", "Ops", 12, 4, false);
  assertEquals(group.report().ids, ["a", "b", "a"]);
  assertEquals(group.wrongTag, 1);
  assertEquals(group.latenciesMs, [6]);
});

Deno.test("GroupProgress is done at the ack of its expected distinct messages, not at a repeat", () => {
  const group = new GroupProgress("ops", "Ops", 2);
  assertEquals(group.acked("a", 5), true);
  assertEquals(group.acked("a", 6), false);
  assertEquals([group.done, group.report().doneAt], [false, NaN]);
  group.acked("b", 9);
  assertEquals([group.done, group.ackedCount, group.report().doneAt], [true, 2, 9]);
  group.doneAt = 12;
  assertEquals(group.report().doneAt, 12, "a confirmed final ack's time wins");
});
