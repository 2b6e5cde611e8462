/**
 * The publish loop every publisher role shares (Escrow over HTTP or the
 * SDK, NATS): ids in index order, failures counted, not confirmed.
 */
import { assertEquals } from "@std/assert";
import type { PublisherConfig } from "../../src/bench/protocol.ts";
import { runPublishLoop } from "../../src/bench/publish_loop.ts";

const CONFIG: PublisherConfig = {
  role: "publisher",
  url: "",
  topic: "T",
  range: { start: 10, end: 16 },
  inflight: 3,
  bodyBytes: 0,
  deadlineMs: 5_000,
};

Deno.test("runPublishLoop() records each confirmed message's id at its index, with the tags sent", async () => {
  const result = await runPublishLoop(CONFIG, (index) => Promise.resolve({ id: `m${index}` }));
  assertEquals(result.ids, ["m10", "m11", "m12", "m13", "m14", "m15"]);
  assertEquals([result.confirmed, result.errors, result.timedOut], [6, 0, false]);
  assertEquals(result.tags.length, 6);
});

Deno.test("runPublishLoop() counts a refused or thrown send as a failure and leaves its id null", async () => {
  const result = await runPublishLoop(CONFIG, (index) => {
    if (index === 11) return Promise.resolve({ failure: "publish: 400 bad" });
    if (index === 12) return Promise.reject(new Error("connection reset"));
    return Promise.resolve({ id: `m${index}` });
  });
  assertEquals(result.ids, ["m10", null, null, "m13", "m14", "m15"]);
  assertEquals([result.confirmed, result.errors], [4, 2]);
  assertEquals(result.errorSamples, ["publish: 400 bad", "publish: connection reset"]);
});

Deno.test("runPublishLoop() keeps at most `inflight` sends open in a closed loop", async () => {
  let open = 0;
  let most = 0;
  await runPublishLoop(CONFIG, async (index) => {
    most = Math.max(most, ++open);
    await Promise.resolve();
    open--;
    return { id: `m${index}` };
  });
  assertEquals(most, 3);
});
