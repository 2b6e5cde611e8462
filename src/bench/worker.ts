/**
 * Entry point of the benchmark's client processes:
 * `deno run --allow-all src/bench/worker.ts '<config JSON>'`, where the
 * configuration's `role` is `publisher`, `consumer` or `producer` (a
 * publisher or consumer with `client: "sdk"` talks through the SDK). The
 * process opens its connections, prints `ready`, waits for `go`, does its
 * work, prints its `result` and exits; on a failure it prints `error`.
 *
 * @module
 */
import { consume } from "./consumer.ts";
import { warmUp } from "./http_client.ts";
import { produce } from "./producer.ts";
import type { WorkerConfig, WorkerResult } from "./protocol.ts";
import { publish } from "./publisher.ts";
import { consumeWithSdk } from "./sdk_consumer.ts";
import { WorkerControl } from "./worker_control.ts";

/** How many connections each role opens before `ready`. */
function connectionsOf(config: WorkerConfig): number {
  switch (config.role) {
    case "publisher":
      return config.ratePerSecond === undefined ? config.inflight : 16;
    case "producer":
      return config.inflight;
    case "consumer":
      return config.groups.length * config.receivers * 2;
    default: {
      const never: never = config;
      throw new TypeError(`Cannot run worker: unknown role in ${JSON.stringify(never)}`);
    }
  }
}

/** Runs `config`'s role once `go` has come. */
async function run(config: WorkerConfig, control: WorkerControl): Promise<WorkerResult> {
  switch (config.role) {
    case "publisher":
      return await publish(config);
    case "producer":
      return await produce(config);
    case "consumer":
      return config.client === "sdk"
        ? await consumeWithSdk(config, control)
        : await consume(config, control);
    default: {
      const never: never = config;
      throw new TypeError(`Cannot run worker: unknown role in ${JSON.stringify(never)}`);
    }
  }
}

if (import.meta.main) {
  const control = WorkerControl.listen();
  try {
    const config = JSON.parse(Deno.args[0] ?? "") as WorkerConfig;
    await warmUp(config.url, connectionsOf(config));
    control.emit({ type: "ready" });
    const started = await Promise.race([
      control.go.then(() => true),
      control.stopped.then(() => false),
    ]);
    if (started) control.emit({ type: "result", result: await run(config, control) });
  } catch (error) {
    control.emit({
      type: "error",
      message: error instanceof Error ? error.stack ?? "" : `${error}`,
    });
  }
  Deno.exit(0);
}
