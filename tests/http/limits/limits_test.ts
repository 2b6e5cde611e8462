import { assertEquals } from "@std/assert/equals";
import { assertThrows } from "@std/assert/throws";
import { DEFAULT_LIMITS, readLimits } from "../../../src/http/limits/limits.ts";

Deno.test("readLimits() gives the defaults for unset or empty variables", () => {
  assertEquals(readLimits({}), DEFAULT_LIMITS);
  assertEquals(readLimits({ ESCROW_MAX_LONG_POLLS: "" }), DEFAULT_LIMITS);
});

Deno.test("readLimits() reads every variable; 0 turns a limit off", () => {
  assertEquals(
    readLimits({
      ESCROW_MAX_CONCURRENT_REQUESTS: "100",
      ESCROW_MAX_CONCURRENT_REQUESTS_PER_TOKEN: "10",
      ESCROW_MAX_LONG_POLLS: "0",
      ESCROW_MAX_LONG_POLLS_PER_TOKEN: "5",
      ESCROW_RATE_PER_TOKEN: "50",
      ESCROW_BURST_PER_TOKEN: "200",
    }),
    {
      maxConcurrentRequests: 100,
      maxConcurrentRequestsPerToken: 10,
      maxLongPolls: 0,
      maxLongPollsPerToken: 5,
      ratePerToken: 50,
      burstPerToken: 200,
    },
  );
});

Deno.test("readLimits() raises a burst below the rate to the rate", () => {
  const limits = readLimits({ ESCROW_RATE_PER_TOKEN: "50", ESCROW_BURST_PER_TOKEN: "0" });
  assertEquals([limits.ratePerToken, limits.burstPerToken], [50, 50]);
});

Deno.test("readLimits() refuses a value that is not a non-negative integer, naming the variable", () => {
  for (const text of ["-1", "1.5", "ten", "1e3", "99999999999999999999"]) {
    assertThrows(
      () => readLimits({ ESCROW_RATE_PER_TOKEN: text }),
      RangeError,
      `Cannot read ESCROW_RATE_PER_TOKEN: current value is ${text}`,
    );
  }
});
