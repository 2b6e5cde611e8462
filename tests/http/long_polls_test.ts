/**
 * 2,000 long polls at once, under the default limits, in memory
 * (`app.request()`: the broker's cost per poll, without 4,000 sockets):
 * 100 polls on each of 20 groups, each group on its own topic. Every poll
 * answers, with a message when one was published to its topic, empty at
 * its deadline otherwise; the process's watches stay one per key waited on,
 * and its heap grows by a bounded amount while they all wait.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertGreaterOrEqual } from "@std/assert/greater-or-equal";
import { assertLess } from "@std/assert/less";
import { WakeHub } from "../../src/engine/delivery/long_poll.ts";
import { createApp } from "../../src/http/app.ts";
import { Overload, readLimits } from "../../src/http/limits/mod.ts";
import { waitFor } from "../_process.ts";
import { openBroker } from "../_support/broker.ts";

const GROUPS = 20;
const POLLS_PER_GROUP = 100;
const POLLS = GROUPS * POLLS_PER_GROUP;
/** Long enough that all 2,000 wait (about 1 s here) and the publishes land well before it. */
const WAIT_SECONDS = 12;
/** Groups whose topic gets one message while the polls wait: one poll of each answers with it. */
const PUBLISHED = 10;
/**
 * Heap growth allowed while the 2,000 polls wait: 160 MiB, 80 KiB a poll.
 * Measured here (Deno 2.9.6, `--v8-flags=--expose-gc`), a waiting poll
 * retains about 27 KiB: ~5 KiB the bare Hono request, ~5 KiB the broker's
 * wait (promise, timer, two listeners, signals), ~4 KiB the body limit's
 * stream, the rest validation and context. Without a forced collection the
 * heap also holds the garbage of handling 2,000 requests: ~38 KiB a poll in
 * all. The bound is twice that, so collection timing cannot fail the test,
 * and a leak of one KV value (64 KiB) per poll does. Watches are bounded
 * apart from memory: one per key waited on, checked below.
 */
const MAX_HEAP_GROWTH = 160 * 1024 * 1024;

/** `gc()` when the test runs with `--v8-flags=--expose-gc`. */
const collect = (globalThis as { gc?: () => void }).gc ?? (() => {});

Deno.test({
  name:
    "2,000 long polls all answer, on a publish or at their deadline, with one watch per key and bounded memory",
  sanitizeOps: false,
  fn: async () => {
    await using fixture = await openBroker({
      setUp: async (broker) => {
        for (let g = 0; g < GROUPS; g++) {
          await broker.topics.create(`Topic${g}`);
          await broker.groups.put(`group${g}`, { subscriptions: [{ topic: `Topic${g}` }] });
        }
      },
    });
    const { broker, kv } = fixture;
    const overload = new Overload(readLimits({}));
    const app = createApp(broker, { overload });
    // Aborted only when the test fails midway, so nothing outlives the broker.
    const giveUp = new AbortController();
    const receive = async (group: number, waitSeconds: number): Promise<Response> =>
      await app.request(`/v1/groups/group${group}/receive`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ max: 1, waitSeconds }),
        signal: giveUp.signal,
      });
    // Warm up every group's path once (compiled groups, JIT) before measuring.
    for (let g = 0; g < GROUPS; g++) await (await receive(g, 0)).body?.cancel();
    collect();
    const heapBefore = Deno.memoryUsage().heapUsed;

    const opened = Date.now();
    const polls = Array.from({ length: POLLS }, (_, i) => {
      const group = i % GROUPS;
      const sent = Date.now();
      return receive(group, WAIT_SECONDS).then(async (res) => ({
        group,
        status: res.status,
        messages: (await res.json()).messages as { messageId: string }[],
        elapsed: Date.now() - sent,
      }));
    });
    const hub = WakeHub.of(kv);
    const published = new Map<number, string>();
    let answers: Awaited<(typeof polls)[number]>[];
    try {
      // Each group waits on its signal and its topic's head: two listeners a poll.
      await waitFor(() => hub.counts, (counts) => counts.listeners === POLLS * 2, {
        timeoutMs: (WAIT_SECONDS - 4) * 1000,
        what: "2,000 long polls to wait",
      });
      const openingMs = Date.now() - opened;
      assertEquals(hub.counts.watches, GROUPS * 2, "one watch per key waited on, not per poll");
      assertEquals(overload.counts, { requests: POLLS, longPolls: POLLS });
      collect();
      const heapGrowth = Deno.memoryUsage().heapUsed - heapBefore;
      console.log(
        `2,000 long polls waiting after ${openingMs} ms; heap +${
          (heapGrowth / 1024 / 1024).toFixed(1)
        } MiB (${Math.round(heapGrowth / POLLS)} B a poll)`,
      );
      assertLess(heapGrowth, MAX_HEAP_GROWTH);

      for (let g = 0; g < PUBLISHED; g++) {
        published.set(g, (await broker.publisher.publish(`Topic${g}`, { body: { g } })).messageId);
      }
      answers = await Promise.all(polls);
    } finally {
      giveUp.abort();
      await Promise.allSettled(polls);
    }

    assert(answers.every((a) => a.status === 200));
    const withMessage = answers.filter((a) => a.messages.length > 0);
    assertEquals(withMessage.length, PUBLISHED, "each message went to one poll of its group");
    for (const answer of withMessage) {
      assertEquals(answer.messages.map((m) => m.messageId), [published.get(answer.group)]);
      assertLess(answer.elapsed, WAIT_SECONDS * 1000, "woken by the publish, not the deadline");
    }
    for (const answer of answers.filter((a) => a.messages.length === 0)) {
      assertGreaterOrEqual(answer.elapsed, WAIT_SECONDS * 1000 - 5, "empty only at the deadline");
    }
    assertEquals(hub.counts, { watches: 0, listeners: 0 }, "every watch closed");
    assertEquals(overload.counts, { requests: 0, longPolls: 0 }, "every slot given back");
  },
});
