/**
 * The ack batcher: acks made while one settles wait and settle together,
 * each answered with its own part; a handle is never settled twice in one
 * batch; a batch that throws fails its own calls only.
 */
import { assertEquals } from "@std/assert/equals";
import { assertRejects } from "@std/assert/rejects";
import { AckBatcher } from "../../../src/engine/delivery/ack_batcher.ts";

Deno.test("acks made while one settles wait for it and settle together, each answered with its own part", async () => {
  const batches: string[][] = [];
  const batcher = new AckBatcher((texts) => {
    batches.push([...texts]);
    return Promise.resolve({
      settled: texts.filter((t) => t !== "bad").length,
      failed: texts.includes("bad") ? [{ receiptHandle: "bad", reason: "malformed" }] : [],
    });
  });
  const results = await Promise.all([
    batcher.ack(["a"]),
    batcher.ack(["b", "bad"]),
    batcher.ack(["c", "c"]),
  ]);
  assertEquals(batches, [["a"], ["b", "bad", "c"]]);
  assertEquals(results, [
    { settled: 1, failed: [] },
    { settled: 1, failed: [{ receiptHandle: "bad", reason: "malformed" }] },
    { settled: 1, failed: [] },
  ]);
  assertEquals(batcher.idle, true);
});

Deno.test("a handle named by two waiting acks is settled in two batches, one after the other", async () => {
  const batches: string[][] = [];
  const batcher = new AckBatcher((texts) => {
    batches.push([...texts]);
    return Promise.resolve({ settled: texts.length, failed: [] });
  });
  await Promise.all([batcher.ack(["a"]), batcher.ack(["b"]), batcher.ack(["b", "c"])]);
  assertEquals(batches, [["a"], ["b"], ["b", "c"]]);
});

Deno.test("a batch that throws rejects its own calls, and the acks waiting behind it still settle", async () => {
  let calls = 0;
  const batcher = new AckBatcher((texts) => {
    calls++;
    if (calls === 2) return Promise.reject(new Error("store down"));
    return Promise.resolve({ settled: texts.length, failed: [] });
  });
  const first = batcher.ack(["a"]);
  const second = batcher.ack(["b"]);
  const third = batcher.ack(["b"]);
  assertEquals(await first, { settled: 1, failed: [] });
  await assertRejects(() => second, Error, "store down");
  assertEquals(await third, { settled: 1, failed: [] });
});
