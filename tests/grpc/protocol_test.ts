import { assertEquals, assertMatch } from "@std/assert";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { LOADER_OPTIONS, protoRoot } from "../../src/grpc/proto.ts";
import { UNSUPPORTED_RPCS } from "../../src/grpc/mod.ts";
import { kvSnapshot } from "../http/_helpers.ts";
import { CLIENT_TEST, startFront } from "./_front.ts";

type Answer = { status: { code: string; message: string } } & Record<string, unknown>;
type Raw = Record<
  string,
  (request: unknown, metadata: grpc.Metadata, cb: grpc.requestCallback<Answer>) => void
>;

/** A bare grpc-js client of MessagingService (for what the official client never sends). */
function rawClient(endpoints: string): Disposable & {
  call(rpc: string, request: unknown): Promise<Answer>;
} {
  const definition = loader.loadSync("apache/rocketmq/v2/service.proto", {
    ...LOADER_OPTIONS,
    includeDirs: [protoRoot()],
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    apache: { rocketmq: { v2: { MessagingService: grpc.ServiceClientConstructor } } };
  };
  const client = new pkg.apache.rocketmq.v2.MessagingService(
    endpoints,
    grpc.credentials.createInsecure(),
  ) as unknown as Raw & grpc.Client;
  return {
    call: (rpc, request) =>
      new Promise((resolve, reject) =>
        client[rpc]!(
          request,
          new grpc.Metadata(),
          (error, answer) => error ? reject(error) : resolve(answer!),
        )
      ),
    [Symbol.dispose]: () => client.close(),
  };
}

const state = async (kv: Deno.Kv) =>
  (await kvSnapshot(kv)).filter((line) => !line.includes('"grpc_'));

Deno.test({
  name: "RPCs Escrow does not serve answer UNSUPPORTED with a reason, at once",
  ...CLIENT_TEST,
  async fn() {
    await using live = await startFront();
    using client = rawClient(live.endpoints);
    for (const rpc of ["UpdateOffset", "GetOffset", "QueryOffset", "RecallMessage"]) {
      const answer = await client.call(rpc, {});
      assertEquals(answer.status.code, "UNSUPPORTED");
      assertMatch(answer.status.message, new RegExp(`${rpc} is not supported`));
    }
    assertEquals(Object.keys(UNSUPPORTED_RPCS).includes("PullMessage"), true);
  },
});

Deno.test({
  name: "EndTransaction with another message's id is INVALID_TRANSACTION_ID and decides nothing",
  ...CLIENT_TEST,
  async fn() {
    await using live = await startFront({ topics: ["Trade"] });
    using client = rawClient(live.endpoints);
    const sent = await client.call("SendMessage", {
      messages: [{
        topic: { name: "Trade" },
        body: new TextEncoder().encode("x"),
        systemProperties: { messageType: "TRANSACTION", messageId: "01ABC" },
      }],
    });
    assertEquals(sent.status.code, "OK");
    const entry = (sent.entries as { messageId: string; transactionId: string }[])[0]!;
    const before = await state(live.kv);
    const wrong = await client.call("EndTransaction", {
      topic: { name: "Trade" },
      transactionId: entry.transactionId,
      messageId: "someone-else",
      resolution: "COMMIT",
    });
    assertEquals(wrong.status.code, "INVALID_TRANSACTION_ID");
    assertEquals(await state(live.kv), before);
    const right = await client.call("EndTransaction", {
      topic: { name: "Trade" },
      transactionId: entry.transactionId,
      messageId: entry.messageId,
      resolution: "COMMIT",
    });
    assertEquals(right.status.code, "OK");
    assertEquals((await live.broker.transactions.get(entry.transactionId)).state, "committed");
  },
});

Deno.test({
  name: "a bad tag or too many keys answers the protocol's code and stores nothing",
  ...CLIENT_TEST,
  async fn() {
    await using live = await startFront({ topics: ["Trade"] });
    using client = rawClient(live.endpoints);
    const before = await state(live.kv);
    const badTag = await client.call("SendMessage", {
      messages: [{ topic: { name: "Trade" }, systemProperties: { tag: "no spaces allowed" } }],
    });
    assertEquals(badTag.status.code, "ILLEGAL_MESSAGE_TAG");
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    const tooManyKeys = await client.call("SendMessage", {
      messages: [{ topic: { name: "Trade" }, systemProperties: { keys } }],
    });
    assertEquals(tooManyKeys.status.code, "ILLEGAL_MESSAGE_KEY");
    const tooLarge = await client.call("SendMessage", {
      messages: [{ topic: { name: "Trade" }, body: new Uint8Array(4 * 1024 * 1024 + 1) }],
    });
    assertEquals(tooLarge.status.code, "MESSAGE_BODY_TOO_LARGE");
    assertEquals(await state(live.kv), before);
  },
});
