/**
 * A child process for the crash test of large uploads: opens a broker on the
 * KV file given as the first argument and stages a 4 MiB body for message
 * `crash-upload` the way a publish does; after the second staging commit it
 * prints `staged <n> of <total>` and waits to be killed.
 *
 * Run: `deno run --allow-all tests/_support/upload_child.ts <kv file>`.
 *
 * @module
 */
import { Broker } from "../../src/engine/broker.ts";
import { MAX_BODY_BYTES } from "../../src/domain/names.ts";

/** The message id the child stages a body for. */
export const CRASH_MESSAGE_ID = "crash-upload";

if (import.meta.main) {
  const path = Deno.args[0];
  if (!path) throw new TypeError("Cannot stage: give the KV file as the first argument");
  const kv = await Deno.openKv(path);
  const broker = await Broker.open(kv, { schedulerMode: "sweep" });
  const bytes = new Uint8Array(MAX_BODY_BYTES).map((_, i) => i % 251);
  setInterval(() => {}, 1_000); // keeps the process alive while it waits for the kill
  await broker.uploads.stageIfLarge(CRASH_MESSAGE_ID, { encoding: "bytes", bytes }, {
    afterCommit: async (stored, total) => {
      if (stored < 20) return;
      console.log(`staged ${stored} of ${total}`);
      await new Promise(() => {});
    },
  });
}
