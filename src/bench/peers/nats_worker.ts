/**
 * Entry point of the NATS peer's client processes:
 * `deno run --allow-all src/bench/peers/nats_worker.ts '<config JSON>'`,
 * where the configuration's `role` is `publisher` ({@linkcode NatsPublisherConfig})
 * or `consumer`, its `url` the server's `nats://` address. It speaks the same
 * protocol as Escrow's client processes (`worker.ts`): connects and looks up
 * its durables, prints `ready`, waits for `go`, works, prints its `result`.
 *
 * @module
 */
import { connect } from "nats";
import type { ConsumerConfig, WorkerResult } from "../protocol.ts";
import { WorkerControl } from "../worker_control.ts";
import { natsConsume } from "./nats_consumer.ts";
import { natsPublish } from "./nats_publisher.ts";
import { NATS_STREAM, natsDurablesOf, type NatsPublisherConfig } from "./nats_workload.ts";

/** A NATS client process's configuration. */
export type NatsWorkerConfig = NatsPublisherConfig | ConsumerConfig;

if (import.meta.main) {
  const control = WorkerControl.listen();
  try {
    const config = JSON.parse(Deno.args[0] ?? "") as NatsWorkerConfig;
    const nc = await connect({ servers: config.url, name: `escrow-bench-${config.role}` });
    const js = nc.jetstream();
    // Warm up before `ready`: the stream and every durable must be there.
    const jsm = await nc.jetstreamManager();
    await jsm.streams.info(NATS_STREAM);
    if (config.role === "consumer") {
      for (const group of config.groups) {
        for (const { durable } of natsDurablesOf(group)) {
          await jsm.consumers.info(NATS_STREAM, durable);
        }
      }
    }
    control.emit({ type: "ready" });
    const started = await Promise.race([
      control.go.then(() => true),
      control.stopped.then(() => false),
    ]);
    if (started) {
      const result: WorkerResult = config.role === "publisher"
        ? await natsPublish(js, config)
        : await natsConsume(js, config, control);
      control.emit({ type: "result", result });
    }
    await nc.close();
  } catch (error) {
    control.emit({
      type: "error",
      message: error instanceof Error ? error.stack ?? "" : `${error}`,
    });
  }
  Deno.exit(0);
}
