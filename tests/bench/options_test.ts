import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { parseBenchOptions, startTaskV8Flags, USAGE } from "../../src/bench/options.ts";
import { curvePoints } from "../../src/bench/phases/curve.ts";

Deno.test("parseBenchOptions() leaves the peer to nats-server's presence by default", () => {
  const options = parseBenchOptions([], {});
  assertEquals([options.peer, options.natsServer], ["auto", "nats-server"]);
});

Deno.test("parseBenchOptions() reads --peer nats, --peer=nats and --no-peer", () => {
  assertEquals(parseBenchOptions(["--peer", "nats"], {}).peer, "nats");
  assertEquals(parseBenchOptions(["--quick", "--peer=nats"], {}).peer, "nats");
  assertEquals(parseBenchOptions(["--no-peer", "--quick"], {}).peer, "none");
});

Deno.test("parseBenchOptions() refuses a peer it does not know, naming it", () => {
  assertThrows(
    () => parseBenchOptions(["--peer", "rabbitmq"], {}),
    RangeError,
    "Cannot read --peer: current value is rabbitmq",
  );
});

Deno.test("parseBenchOptions() refuses --peer nats together with --no-peer", () => {
  assertThrows(
    () => parseBenchOptions(["--peer", "nats", "--no-peer"], {}),
    RangeError,
    "--no-peer is given too",
  );
});

Deno.test("parseBenchOptions() takes the nats-server binary from ESCROW_BENCH_NATS_SERVER", () => {
  const options = parseBenchOptions([], { ESCROW_BENCH_NATS_SERVER: "/opt/nats/nats-server" });
  assertEquals(options.natsServer, "/opt/nats/nats-server");
});

Deno.test("parseBenchOptions() still reads the other options around the peer flags", () => {
  const options = parseBenchOptions(["--no-peer", "--quick", "--phases", "publish"], {});
  assertEquals([options.quick, options.n, options.phases], [true, 5_000, ["publish"]]);
});

Deno.test("USAGE documents --peer nats, --no-peer and ESCROW_BENCH_NATS_SERVER", () => {
  assertStringIncludes(USAGE, "--peer nats");
  assertStringIncludes(USAGE, "--no-peer");
  assertStringIncludes(USAGE, "ESCROW_BENCH_NATS_SERVER");
});

Deno.test("parseBenchOptions() runs both ways of talking to Escrow by default, SDK first", () => {
  assertEquals(parseBenchOptions([], {}).clients, ["sdk", "http"]);
  assertEquals(parseBenchOptions(["--quick"], {}).clients, ["sdk", "http"]);
  assertEquals(parseBenchOptions(["--clients", "http"], {}).clients, ["http"]);
  assertEquals(parseBenchOptions(["--clients=http,sdk"], {}).clients, ["sdk", "http"]);
  assertStringIncludes(USAGE, "--clients");
});

Deno.test("parseBenchOptions() refuses a way of talking to Escrow it does not know", () => {
  assertThrows(
    () => parseBenchOptions(["--clients", "grpc"], {}),
    RangeError,
    "Cannot read --clients: unknown client grpc",
  );
  assertThrows(() => parseBenchOptions(["--clients", ","], {}), RangeError, "empty");
});

Deno.test("the broker runs with the V8 flags of its own deno task start, plus ESCROW_BENCH_BROKER_FLAGS", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const v8 = (config.tasks.start as string).split(/\s+/).filter((a) => a.startsWith("--v8-flags="));
  assertEquals(v8.length, 1);
  assertEquals(parseBenchOptions([], {}).brokerFlags, v8);
  assertEquals(parseBenchOptions([], { ESCROW_BENCH_BROKER_FLAGS: "--cpu-prof" }).brokerFlags, [
    ...v8,
    "--cpu-prof",
  ]);
  // Another broker (ESCROW_BENCH_MAIN) is run as its own deno.json starts it; none, without one.
  const dir = await Deno.makeTempDir();
  try {
    const other = { ESCROW_BENCH_MAIN: `${dir}/main.ts` };
    assertEquals(parseBenchOptions([], other).brokerFlags, []);
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        tasks: { start: "deno run -A --v8-flags=--max-semi-space-size=4 main.ts" },
      }),
    );
    assertEquals(startTaskV8Flags(`${dir}/main.ts`), ["--v8-flags=--max-semi-space-size=4"]);
    assertEquals(parseBenchOptions([], other).brokerFlags, ["--v8-flags=--max-semi-space-size=4"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseBenchOptions() runs the backlog curve only when --phases names it, with its own sizes", () => {
  assertEquals(parseBenchOptions([], {}).phases.includes("curve"), false);
  const named = parseBenchOptions(["--phases", "curve,publish"], {});
  assertEquals(named.phases, ["publish", "curve"]);
  assertEquals([named.curveN, named.curveGroups], [1_000_000, 100]);
  const quick = parseBenchOptions(["--quick", "--phases", "curve"], {});
  assertEquals([quick.curveN, quick.curveGroups], [50_000, 20]);
  const set = parseBenchOptions(
    ["--phases", "curve", "--curve-n", "2000", "--curve-groups", "7"],
    {},
  );
  assertEquals([set.curveN, set.curveGroups], [2_000, 7]);
});

Deno.test("the backlog curve is probed at 1 %, 10 %, 25 %, 50 % and 100 % of its messages, each size once", () => {
  assertEquals(curvePoints(1_000_000), [10_000, 100_000, 250_000, 500_000, 1_000_000]);
  assertEquals(curvePoints(100), [1, 10, 25, 50, 100]);
  assertEquals(curvePoints(1), [1]);
});
