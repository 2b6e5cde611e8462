/** One receive returns at most about 4 MiB of bodies; the rest waits for the next. */
import { assertEquals } from "@std/assert";
import { encodeBase64 } from "@std/encoding/base64";
import { MAX_RECEIVE_BYTES } from "../../../src/engine/delivery/deliveries.ts";
import { openBroker } from "../../_support/broker.ts";

const BODY = 256 * 1024;

Deno.test("a receive of large bodies stops at the byte budget; the rest comes next time", async () => {
  await using fixture = await openBroker();
  const { broker } = fixture;
  await broker.topics.create("Files");
  await broker.groups.put("archive", { subscriptions: [{ topic: "Files" }] });
  const body = encodeBase64(new Uint8Array(BODY).fill(7));
  for (let i = 0; i < 20; i++) await broker.publisher.publish("Files", { bodyBase64: body });
  const first = await broker.deliveries.receive("archive", { max: 256 });
  assertEquals(first.length, MAX_RECEIVE_BYTES / BODY);
  const second = await broker.deliveries.receive("archive", { max: 256 });
  assertEquals(second.length, 20 - first.length);
  assertEquals(new Set([...first, ...second].map((m) => m.messageId)).size, 20);
});
