import { assertEquals, assertThrows } from "@std/assert";
import { DEFAULT_KV_PATH, readConfig } from "../src/config.ts";
import { DEFAULT_LIMITS } from "../src/http/limits/mod.ts";
import { TokenSet } from "../src/http/auth/mod.ts";

Deno.test("readConfig() defaults to port 8000 and the local KV file", () => {
  assertEquals(readConfig({}), {
    port: 8000,
    hostname: "0.0.0.0",
    kvPath: DEFAULT_KV_PATH,
    apiToken: undefined,
    inspectorUrl: "https://stately.ai/inspect",
    logLevel: "info",
    logFormat: "text",
    limits: DEFAULT_LIMITS,
    tokens: new TokenSet(),
    outboundAllow: undefined,
    grpc: {
      port: 8081,
      tlsCert: undefined,
      tlsKey: undefined,
      autoCreateGroups: true,
      producerGroup: undefined,
    },
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

Deno.test("readConfig() reads ESCROW_OUTBOUND_ALLOW and refuses an entry it cannot read", () => {
  assertEquals(readConfig({}).outboundAllow, undefined);
  assertEquals(readConfig({ ESCROW_OUTBOUND_ALLOW: " " }).outboundAllow, undefined);
  const allow = "127.0.0.0/8,::1,localhost,10.20.0.0/16";
  assertEquals(readConfig({ ESCROW_OUTBOUND_ALLOW: allow }).outboundAllow, allow);
  assertThrows(
    () => readConfig({ ESCROW_OUTBOUND_ALLOW: "10.0.0.0/33" }),
    RangeError,
    "ESCROW_OUTBOUND_ALLOW",
  );
});
