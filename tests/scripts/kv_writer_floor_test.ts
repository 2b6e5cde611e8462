import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { fromFileUrl } from "@std/path";
import { measureKvWriter } from "../../scripts/kv_writer_floor.ts";

const SCRIPT = fromFileUrl(new URL("../../scripts/kv_writer_floor.ts", import.meta.url));

Deno.test("kv writer floor: commits whole batches and reads the writer thread's CPU", async () => {
  const cost = await measureKvWriter({ bytes: 256, batch: 8, ms: 200 });
  assert(cost.values > 0);
  assertEquals(cost.values % 8, 0);
  assert(cost.commitsPerSecond > 0);
  if (Deno.build.os === "linux") {
    // Deno KV's SQLite writer is its own thread: it did the committing, not the JS thread alone.
    assert(cost.writerUsPerValue > 0, `writer µs/value ${cost.writerUsPerValue}`);
  }
});

Deno.test("kv writer floor: a bad option exits 2 with what is wrong and measures nothing", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", SCRIPT, "--batch", "0"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 2);
  assertStringIncludes(new TextDecoder().decode(out.stderr), "must be positive integers");
  assertEquals(new TextDecoder().decode(out.stdout), "");
});
