/**
 * One NATS peer run of a phase's load: a fresh `nats-server` with the
 * stream `ACC` (subjects `acc.>`, file storage) and the durable pull
 * consumers of the groups, then the very load Escrow's fan-out drives
 * (`driveLoad` of `fan_out.ts`: the same processes, measures and checks by
 * message id, the stream sequence here) with the NATS client processes.
 * With no groups it is the publish phase; with `dedup` the publishers send
 * `Nats-Msg-Id`s (the tx phase's peer).
 *
 * @module
 */
import { AckPolicy, connect, DeliverPolicy, StorageType } from "nats";
import { driveLoad, type FanOutOutcome, type PublishMode } from "../fan_out.ts";
import type { PhaseEnv } from "../phase.ts";
import type { GroupSpec } from "../workload.ts";
import { NatsServer } from "./nats_server.ts";
import { NATS_STREAM, natsDurablesOf } from "./nats_workload.ts";

const NATS_WORKER_PATH = new URL("./nats_worker.ts", import.meta.url).pathname;

/** A NATS load to run. */
export interface NatsLoadPlan {
  readonly groups: readonly GroupSpec[];
  readonly messages: number;
  readonly mode: PublishMode;
  readonly recordLatency: boolean;
  /** Publish with `Nats-Msg-Id` (JetStream's de-duplication). */
  readonly dedup: boolean;
}

/**
 * Creates the stream and the durables of `groups` on the server at `url`.
 *
 * @example
 * ```ts ignore
 * import { createNatsTopology } from "./nats_load.ts";
 * import { FAN_OUT_GROUPS } from "../workload.ts";
 * await createNatsTopology("nats://127.0.0.1:4222", FAN_OUT_GROUPS);
 * ```
 */
export async function createNatsTopology(
  url: string,
  groups: readonly GroupSpec[],
): Promise<void> {
  const nc = await connect({ servers: url, name: "escrow-bench-setup" });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: NATS_STREAM, subjects: ["acc.>"], storage: StorageType.File });
    for (const group of groups) {
      for (const { durable, filterSubject } of natsDurablesOf(group)) {
        await jsm.consumers.add(NATS_STREAM, {
          durable_name: durable,
          filter_subject: filterSubject,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
        });
      }
    }
  } finally {
    await nc.close();
  }
}

/**
 * Runs one load on a fresh `nats-server` (`binary`).
 *
 * @example
 * ```ts ignore
 * import { runNatsLoad } from "./nats_load.ts";
 * import { FAN_OUT_GROUPS } from "../workload.ts";
 * declare const env: import("../phase.ts").PhaseEnv;
 * const outcome = await runNatsLoad(env, "nats-server", {
 *   groups: FAN_OUT_GROUPS, messages: 5_000, recordLatency: false, dedup: false,
 *   mode: { kind: "closed", publishers: 4, inflight: 64 },
 * });
 * console.log(outcome.seconds, outcome.lost);
 * ```
 */
export async function runNatsLoad(
  env: PhaseEnv,
  binary: string,
  plan: NatsLoadPlan,
): Promise<FanOutOutcome> {
  await using server = await NatsServer.start({ binary });
  await createNatsTopology(server.url, plan.groups);
  return await driveLoad(env, server, plan, {
    topic: NATS_STREAM,
    receivers: 1,
    label: "nats-",
    workerPath: NATS_WORKER_PATH,
    publisher: { dedup: plan.dedup },
  });
}
