import { assert, assertEquals } from "@std/assert";
import { connect } from "nats";
import { parseBenchOptions } from "../../../src/bench/options.ts";
import type { PhaseEnv } from "../../../src/bench/phase.ts";
import { createNatsTopology, runNatsLoad } from "../../../src/bench/peers/nats_load.ts";
import { natsPublish } from "../../../src/bench/peers/nats_publisher.ts";
import { NatsServer, natsServerVersion } from "../../../src/bench/peers/nats_server.ts";
import { NATS_STREAM } from "../../../src/bench/peers/nats_workload.ts";
import { FAN_OUT_GROUPS, tagOf } from "../../../src/bench/workload.ts";

const INSTALLED = natsServerVersion("nats-server") !== undefined;
const env: PhaseEnv = {
  options: parseBenchOptions(["--quick", "--timeout", "30", "--body-bytes", "256"], {}),
  log: () => {},
};

Deno.test({
  name: "runNatsLoad() fans 300 messages out to the five groups: none lost, wrong or twice",
  ignore: !INSTALLED,
  async fn() {
    const outcome = await runNatsLoad(env, "nats-server", {
      groups: FAN_OUT_GROUPS,
      messages: 300,
      mode: { kind: "closed", publishers: 1, inflight: 16 },
      recordLatency: false,
      dedup: false,
    });
    assertEquals(outcome.errorSamples, []);
    assertEquals(
      [outcome.confirmed, outcome.lost, outcome.wrong, outcome.duplicates, outcome.timedOut],
      [300, 0, 0, 0, false],
    );
    const counts = { Ops: 0, CS: 0, Orchestration: 0 };
    for (let i = 0; i < 300; i++) counts[tagOf(i)]++;
    // ops + cs + orchestration + compliance (Ops, Orchestration) + datacenter (all)
    assertEquals(outcome.deliveries, 300 + counts.Ops + counts.Orchestration + 300);
    assert(Number.isFinite(outcome.seconds) && outcome.cpuMicrosPerMessage > 0);
  },
});

Deno.test({
  name: "natsPublish() with dedup counts a re-sent Nats-Msg-Id as a failure, not a message",
  ignore: !INSTALLED,
  async fn() {
    await using server = await NatsServer.start();
    await createNatsTopology(server.url, []);
    const nc = await connect({ servers: server.url });
    try {
      const config = {
        role: "publisher" as const,
        url: server.url,
        topic: NATS_STREAM,
        range: { start: 0, end: 20 },
        inflight: 4,
        bodyBytes: 128,
        deadlineMs: 10_000,
        dedup: true,
      };
      const first = await natsPublish(nc.jetstream(), config);
      const again = await natsPublish(nc.jetstream(), config);
      assertEquals([first.confirmed, first.errors], [20, 0]);
      assertEquals([again.confirmed, again.errors, again.ids.every((id) => id === null)], [
        0,
        20,
        true,
      ]);
      const info = await (await nc.jetstreamManager()).streams.info(NATS_STREAM);
      assertEquals(info.state.messages, 20);
    } finally {
      await nc.close();
    }
  },
});
