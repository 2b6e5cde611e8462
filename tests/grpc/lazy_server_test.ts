import { assertEquals } from "@std/assert";
import { Producer } from "rocketmq-client-nodejs";
import { createMessagingServer } from "../../src/grpc/messaging_server.ts";
import type { ServiceOptions } from "../../src/grpc/service.ts";
import { CLIENT_TEST, QUIET_LOGGER, startFront } from "./_front.ts";

/** Reads from `conn` until the peer closes it; true when it did within `ms`. */
async function closedByPeer(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buffer = new Uint8Array(1024);
  const deadline = AbortSignal.timeout(ms);
  while (!deadline.aborted) {
    const read = await Promise.race([
      conn.read(buffer).catch(() => null),
      new Promise<"late">((resolve) => deadline.addEventListener("abort", () => resolve("late"))),
    ]);
    if (read === null) return true;
    if (read === "late") return false;
  }
  return false;
}

Deno.test({
  name:
    "the gRPC port listens from start-up but builds its grpc-js server at the first connection, once; a failed build refuses that connection and the next one builds again",
  ...CLIENT_TEST,
  async fn() {
    let loads = 0;
    let failNext = true;
    await using live = await startFront({
      loadServer: (options: ServiceOptions) => {
        loads++;
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error("cannot load grpc-js"));
        }
        return Promise.resolve(createMessagingServer(options));
      },
    });
    await live.broker.topics.create("Trade");
    assertEquals(loads, 0); // listening costs nothing until someone connects

    // The first connection meets a failing build: it is closed, not left hanging.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: live.front.port });
    await conn.write(new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    assertEquals(await closedByPeer(conn, 5_000), true);
    conn.close();
    assertEquals(loads, 1);

    // The official client's connections then share one successful build.
    const producers = [0, 1].map(() =>
      live.track(new Producer({ endpoints: live.endpoints, logger: QUIET_LOGGER } as never))
    );
    await Promise.all(producers.map((p) => p.startup()));
    const sent = await Promise.all(
      producers.map((p, i) => p.send({ topic: "Trade", body: Buffer.from(`m${i}`) } as never)),
    );
    assertEquals(loads, 2);
    for (const { messageId } of sent) {
      assertEquals((await live.broker.messages.get(messageId)).topic, "Trade");
    }
  },
});

Deno.test({
  name: "a gRPC front nobody connected to closes without ever building its server",
  ...CLIENT_TEST,
  async fn() {
    let loads = 0;
    const live = await startFront({
      loadServer: (options: ServiceOptions) => {
        loads++;
        return Promise.resolve(createMessagingServer(options));
      },
    });
    await live[Symbol.asyncDispose]();
    assertEquals(loads, 0);
  },
});
