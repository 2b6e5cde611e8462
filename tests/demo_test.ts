/** The fund company's two scenarios (`deno task demo`) as an end-to-end test. */
import { assertEquals } from "@std/assert";
import { runDemo } from "../src/demo/main.ts";

Deno.test("deno task demo: Accompaniment routing and the four Discount Purchase runs all hold", async () => {
  const failures = await runDemo({ quiet: true });
  assertEquals(failures, []);
});
