import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import {
  NatsServer,
  natsServerVersion,
  parseNatsListening,
  parseNatsVersion,
} from "../../../src/bench/peers/nats_server.ts";
import { resolvePeer } from "../../../src/bench/peers/peer.ts";

const INSTALLED = natsServerVersion("nats-server") !== undefined;

Deno.test("parseNatsVersion() reads `nats-server --version`", () => {
  assertEquals(parseNatsVersion("nats-server: v2.9.10\n"), "2.9.10");
  assertEquals(parseNatsVersion("nats-server: v2.10.0-beta.1"), "2.10.0-beta.1");
  assertEquals(parseNatsVersion("command not found"), undefined);
});

Deno.test("parseNatsListening() finds the client port in the server's log", () => {
  const line =
    "[24947] 2026/12/02 00:22:49.988502 [INF] Listening for client connections on 127.0.0.1:43507";
  assertEquals(parseNatsListening(line), "nats://127.0.0.1:43507");
  assertEquals(parseNatsListening("[24947] [INF] Starting JetStream"), undefined);
});

Deno.test("natsServerVersion() is undefined for a binary that is not there", () => {
  assertEquals(natsServerVersion("/nonexistent/nats-server"), undefined);
});

Deno.test("resolvePeer() skips NATS with a clear line when nats-server cannot be run", () => {
  const outcome = resolvePeer({ peer: "nats", natsServer: "/nonexistent/nats-server" });
  assertEquals(outcome.peer, undefined);
  assertMatch(outcome.note, /NATS skipped, \/nonexistent\/nats-server cannot be run/);
});

Deno.test("resolvePeer() runs no peer with --no-peer, without asking for a version", () => {
  let asked = false;
  const outcome = resolvePeer({ peer: "none", natsServer: "nats-server" }, () => {
    asked = true;
    return "2.9.10";
  });
  assertEquals([outcome.peer, asked], [undefined, false]);
});

Deno.test("resolvePeer() names the peer by the version the binary reports", () => {
  const outcome = resolvePeer({ peer: "auto", natsServer: "/opt/nats" }, () => "2.9.10");
  assertEquals(outcome.peer, { name: "NATS JetStream 2.9.10", binary: "/opt/nats" });
});

Deno.test("NatsServer.start() refuses a binary that exits, and leaves no folder behind", async () => {
  const before = [...Deno.readDirSync(Deno.env.get("TMPDIR") ?? "/tmp")]
    .filter((e) => e.name.startsWith("escrow-bench-nats-")).length;
  // `false` exits at once with code 1, as a broken nats-server would.
  await assertRejects(() => NatsServer.start({ binary: "false" }), Error, "exited with code 1");
  const after = [...Deno.readDirSync(Deno.env.get("TMPDIR") ?? "/tmp")]
    .filter((e) => e.name.startsWith("escrow-bench-nats-")).length;
  assertEquals(after, before);
});

Deno.test({
  name: "NatsServer listens on 127.0.0.1, reports its CPU and memory, and removes its store",
  ignore: !INSTALLED,
  async fn() {
    const server = await NatsServer.start();
    try {
      assertMatch(server.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
      const sample = server.sample();
      assert(sample.cpuMicros >= 0 && sample.rssMb > 0, JSON.stringify(sample));
      assert(Deno.statSync(`${server.dataDir}/jetstream`).isDirectory);
    } finally {
      await server.stop();
    }
    assertEquals(server.sample().cpuMicros, NaN);
    await assertRejects(() => Deno.stat(server.dataDir), Deno.errors.NotFound);
  },
});
