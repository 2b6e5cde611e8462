import { assertEquals, assertThrows } from "@std/assert";
import { readConfig } from "../../src/config.ts";

Deno.test("ESCROW_GRPC_PORT defaults to 8081, reads a port, and off disables the front", () => {
  assertEquals(readConfig({}).grpc.port, 8081);
  assertEquals(readConfig({ ESCROW_GRPC_PORT: "9876" }).grpc.port, 9876);
  assertEquals(readConfig({ ESCROW_GRPC_PORT: "off" }).grpc.port, undefined);
  assertEquals(readConfig({ DENO_DEPLOYMENT_ID: "x" }).grpc.port, undefined);
  assertThrows(() => readConfig({ ESCROW_GRPC_PORT: "80x" }), RangeError, "ESCROW_GRPC_PORT");
});

Deno.test("ESCROW_GRPC_TLS_CERT without ESCROW_GRPC_TLS_KEY stops start-up", () => {
  assertThrows(
    () => readConfig({ ESCROW_GRPC_TLS_CERT: "/etc/escrow.crt" }),
    RangeError,
    "set both or neither",
  );
  const both = readConfig({ ESCROW_GRPC_TLS_CERT: "/c.pem", ESCROW_GRPC_TLS_KEY: "/k.pem" }).grpc;
  assertEquals([both.tlsCert, both.tlsKey], ["/c.pem", "/k.pem"]);
});

Deno.test("ESCROW_GRPC_AUTO_CREATE_GROUPS is true unless false, and nothing else", () => {
  assertEquals(readConfig({}).grpc.autoCreateGroups, true);
  assertEquals(
    readConfig({ ESCROW_GRPC_AUTO_CREATE_GROUPS: "false" }).grpc.autoCreateGroups,
    false,
  );
  assertThrows(
    () => readConfig({ ESCROW_GRPC_AUTO_CREATE_GROUPS: "no" }),
    RangeError,
    "ESCROW_GRPC_AUTO_CREATE_GROUPS",
  );
});
