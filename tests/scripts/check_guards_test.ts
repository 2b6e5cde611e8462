/**
 * Every entry of `deno task guards` still names code that is there: its
 * snippet, and each of its further edits, occurs exactly once in its file,
 * and its test files exist. The full run (which removes each check and runs
 * its tests) takes minutes and is not part of CI; this keeps its entries
 * from going stale unnoticed when the code they point at changes.
 *
 * @module
 */
import { assertEquals } from "@std/assert/equals";
import { fromFileUrl } from "@std/path/from-file-url";
import { join } from "@std/path/join";
import { GUARDS, occurrences } from "../../scripts/check_guards.ts";

const ROOT = fromFileUrl(new URL("../../", import.meta.url));

Deno.test("every guard's snippets occur exactly once in their files, and its tests exist", async () => {
  const stale: string[] = [];
  for (const guard of GUARDS) {
    for (const edit of [guard, ...(guard.also ?? [])]) {
      const text = await Deno.readTextFile(join(ROOT, edit.file));
      const n = occurrences(text, edit.find);
      if (n !== 1) stale.push(`${guard.name}: ${edit.file} has its snippet ${n} times`);
    }
    for (const test of guard.tests) {
      const found = await Deno.stat(join(ROOT, test)).then(() => true, () => false);
      if (!found) stale.push(`${guard.name}: no test file ${test}`);
    }
  }
  assertEquals(stale, []);
});

Deno.test("guard names are unique, so --only picks one entry each", () => {
  const names = GUARDS.map((g) => g.name);
  assertEquals(names.length, new Set(names).size);
});
