import { assertEquals } from "@std/assert/equals";
import { assertThrows } from "@std/assert/throws";
import { TokenBucket } from "../../../src/http/limits/token_bucket.ts";

Deno.test("a token bucket allows its burst at once, then refuses with the ms until a token is back", () => {
  let now = 0;
  const buckets = new TokenBucket({ ratePerSecond: 4, burst: 3, clock: () => now });
  assertEquals([buckets.take("a"), buckets.take("a"), buckets.take("a")], [0, 0, 0]);
  assertEquals(buckets.take("a"), 250);
  now += 100;
  assertEquals(buckets.take("a"), 150, "a refusal spends nothing");
  now += 150;
  assertEquals(buckets.take("a"), 0);
  assertEquals(buckets.take("a"), 250);
});

Deno.test("a token bucket refills at its rate up to its burst, never above", () => {
  let now = 0;
  const buckets = new TokenBucket({ ratePerSecond: 10, burst: 2, clock: () => now });
  buckets.take("a");
  buckets.take("a");
  now += 60_000;
  assertEquals([buckets.take("a"), buckets.take("a")], [0, 0]);
  assertEquals(buckets.take("a"), 100);
});

Deno.test("each key has its own token bucket", () => {
  const buckets = new TokenBucket({ ratePerSecond: 1, burst: 1, clock: () => 0 });
  assertEquals(buckets.take("wallet"), 0);
  assertEquals(buckets.take("wallet"), 1000);
  assertEquals(buckets.take("trading"), 0);
});

Deno.test("a token bucket keeps at most ~10,000 buckets: refilled ones are dropped", () => {
  let now = 0;
  const buckets = new TokenBucket({ ratePerSecond: 1, burst: 1, clock: () => now });
  for (let i = 0; i < 10_000; i++) buckets.take(`k${i}`);
  now += 1_000;
  buckets.take("one more");
  assertEquals(buckets.size, 1);
});

Deno.test("a token bucket refuses a rate or burst it cannot keep", () => {
  assertThrows(() => new TokenBucket({ ratePerSecond: 0, burst: 1 }), RangeError, "rate > 0");
  assertThrows(() => new TokenBucket({ ratePerSecond: 1, burst: 0.5 }), RangeError);
});
