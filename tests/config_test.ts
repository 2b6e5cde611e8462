import { assertEquals, assertThrows } from "@std/assert";
import { DEFAULT_KV_PATH, readConfig } from "../src/config.ts";

Deno.test("readConfig() defaults to port 8000 and the local KV file", () => {
  assertEquals(readConfig({}), {
    port: 8000,
    hostname: "0.0.0.0",
    kvPath: DEFAULT_KV_PATH,
    apiToken: undefined,
    inspectorUrl: "https://stately.ai/inspect",
    logLevel: "info",
    logFormat: "text",
  });
});

Deno.test("readConfig() leaves the KV path to the platform on Deno Deploy", () => {
  assertEquals(readConfig({ DENO_DEPLOYMENT_ID: "abc" }).kvPath, undefined);
  assertEquals(
    readConfig({ DENO_DEPLOYMENT_ID: "abc", ESCROW_KV_PATH: ":memory:" }).kvPath,
    ":memory:",
  );
});

Deno.test("readConfig() reads PORT, HOSTNAME and ESCROW_API_TOKEN", () => {
  const config = readConfig({ PORT: "0", HOSTNAME: "127.0.0.1", ESCROW_API_TOKEN: "t0k" });
  assertEquals([config.port, config.hostname, config.apiToken], [0, "127.0.0.1", "t0k"]);
});

Deno.test("readConfig() refuses a PORT that is not a port number", () => {
  assertThrows(() => readConfig({ PORT: "http" }), RangeError, "Cannot read PORT");
  assertThrows(() => readConfig({ PORT: "70000" }), RangeError);
});
