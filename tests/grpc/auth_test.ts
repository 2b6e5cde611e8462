import { assertEquals, assertThrows } from "@std/assert";
import { createHmac } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { authenticate } from "../../src/grpc/auth.ts";
import { StatusError } from "../../src/grpc/status.ts";
import { TokenSet } from "../../src/http/auth/token_set.ts";

const DATE = "20261201T000000Z";

function signed(name: string, secret: string, date = DATE): grpc.Metadata {
  const metadata = new grpc.Metadata();
  const signature = createHmac("sha1", secret).update(date).digest("hex").toUpperCase();
  metadata.set(
    "authorization",
    `MQv2-HMAC-SHA1 Credential=${name}, SignedHeaders=x-mq-date-time, Signature=${signature}`,
  );
  metadata.set("x-mq-date-time", date);
  return metadata;
}

const tokens = TokenSet.of([{ name: "wallet", token: "w-secret", permissions: ["publish:Trade"] }]);

Deno.test("MQv2-HMAC-SHA1 under the token's secret names its principal", () => {
  assertEquals(authenticate(signed("wallet", "w-secret"), tokens).permissions, ["publish:Trade"]);
});

Deno.test("a wrong secret, another name, a missing or tampered date is UNAUTHORIZED", () => {
  const refused = (metadata: grpc.Metadata) =>
    assertThrows(() => authenticate(metadata, tokens), StatusError, "Cannot authenticate");
  refused(signed("wallet", "other"));
  refused(signed("nobody", "w-secret"));
  refused(new grpc.Metadata());
  const tampered = signed("wallet", "w-secret");
  tampered.set("x-mq-date-time", "20261201T000001Z");
  refused(tampered);
});

Deno.test("a token configured only as tokenSha256 cannot sign gRPC calls", () => {
  const digestOnly = new TokenSet([
    { name: "wallet", sha256: new Uint8Array(32), permissions: ["admin"] },
  ]);
  assertThrows(() => authenticate(signed("wallet", ""), digestOnly), StatusError, "tokenSha256");
});
