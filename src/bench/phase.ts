/**
 * What every phase shares: its environment (options and a progress log),
 * the flat metrics it returns, a fresh broker for each phase, and the
 * broker's CPU per message between two samples.
 *
 * @module
 */
import { BrokerProcess, type BrokerSample } from "./broker_process.ts";
import type { BenchOptions } from "./options.ts";
import { clockTicksPerSecond } from "./proc_stats.ts";
import type { ClientKind } from "./protocol.ts";

const TICKS_PER_SECOND = clockTicksPerSecond();

/** A phase's figures for one run, by metric name. */
export type Metrics = Record<string, number>;

/** What a phase runs with. */
export interface PhaseEnv {
  readonly options: BenchOptions;
  /** Writes a progress line to stderr. */
  readonly log: (message: string) => void;
}

/**
 * The prefix of a phase's metrics for one way of talking to Escrow: plain
 * HTTP keeps the phase's own name (`publish.msgPerSec`), the SDK's figures
 * are `sdk.`-prefixed (`sdk.publish.msgPerSec`), as the peer's are `nats.`.
 *
 * @example
 * ```ts
 * import { metricPrefix } from "./phase.ts";
 * console.log(metricPrefix("http", "e2e"), metricPrefix("sdk", "e2e")); // "e2e" "sdk.e2e"
 * ```
 */
export function metricPrefix(client: ClientKind, phase: string): string {
  return client === "sdk" ? `sdk.${phase}` : phase;
}

/**
 * Starts a fresh broker as `env.options` say (its own KV file and port).
 *
 * @example
 * ```ts ignore
 * import { startBroker } from "./phase.ts";
 * declare const env: import("./phase.ts").PhaseEnv;
 * await using broker = await startBroker(env);
 * ```
 */
export async function startBroker(env: PhaseEnv): Promise<BrokerProcess> {
  return await BrokerProcess.start({
    mainPath: env.options.mainPath,
    denoFlags: env.options.brokerFlags,
  });
}

/**
 * Broker CPU µs per message between two samples.
 *
 * @example
 * ```ts
 * import { cpuMicrosPerMessage } from "./phase.ts";
 * const machine = { busy: 0, total: 0 };
 * const before = { cpuMicros: 0, threadCpuMicros: {}, machine, rssMb: 0, peakMb: 0 };
 * const after = { ...before, cpuMicros: 1_000_000 };
 * console.log(cpuMicrosPerMessage(before, after, 20_000)); // 50
 * ```
 */
export function cpuMicrosPerMessage(
  before: BrokerSample,
  after: BrokerSample,
  messages: number,
): number {
  return messages > 0 ? (after.cpuMicros - before.cpuMicros) / messages : NaN;
}

/**
 * Messages per second between two epoch-ms times (NaN when there is no span).
 *
 * @example
 * ```ts
 * import { ratePerSecond } from "./phase.ts";
 * console.log(ratePerSecond(5_000, 1_000, 1_500)); // 10000
 * ```
 */
export function ratePerSecond(count: number, from: number, to: number): number {
  const span = to - from;
  return span > 0 ? (count * 1000) / span : NaN;
}

/**
 * The larger of `a` and `b`, treating NaN as absent.
 *
 * @example
 * ```ts
 * import { maxKnown } from "./phase.ts";
 * console.log(maxKnown(NaN, 3)); // 3
 * ```
 */
export function maxKnown(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return Math.max(a, b);
}

/**
 * Metrics of the broker's CPU between two samples: per message for each
 * thread name (`${prefix}.thread.${name}.cpuUsPerMsg`, names made safe), and
 * how busy the whole machine was (`${prefix}.machineBusyPct`, all cores).
 *
 * @example
 * ```ts
 * import { cpuBreakdown } from "./phase.ts";
 * const before = {
 *   cpuMicros: 0, threadCpuMicros: { deno: 0 }, machine: { busy: 0, total: 100 }, rssMb: 0,
 *   peakMb: 0,
 * };
 * const after = { ...before, threadCpuMicros: { deno: 500 }, machine: { busy: 50, total: 200 } };
 * console.log(cpuBreakdown("e2e", before, after, 10));
 * // { "e2e.thread.deno.cpuUsPerMsg": 50, "e2e.machineBusyPct": 50 }
 * ```
 */
export function cpuBreakdown(
  prefix: string,
  before: BrokerSample,
  after: BrokerSample,
  messages: number,
): Metrics {
  const metrics: Metrics = {};
  for (const [name, micros] of Object.entries(after.threadCpuMicros)) {
    const used = micros - (before.threadCpuMicros[name] ?? 0);
    const safe = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
    metrics[`${prefix}.thread.${safe}.cpuUsPerMsg`] = used / messages;
  }
  const total = after.machine.total - before.machine.total;
  metrics[`${prefix}.machineBusyPct`] = total > 0
    ? (100 * (after.machine.busy - before.machine.busy)) / total
    : NaN;
  return metrics;
}

/**
 * The share of all cores that processes other than the broker, the client
 * processes and this one used between two broker samples, in percent: load
 * from elsewhere (another test run, a build) that the figures suffered.
 * An estimate: the clients report their own CPU over a slightly different span.
 *
 * @example
 * ```ts
 * import { otherCpuPercent } from "./phase.ts";
 * const before = {
 *   cpuMicros: 0, threadCpuMicros: {}, machine: { busy: 0, total: 200 }, rssMb: 0, peakMb: 0,
 * };
 * const after = { ...before, cpuMicros: 500_000, machine: { busy: 150, total: 400 } };
 * // 1.5 s busy of 2 s on all cores, 0.5 s broker, 0.5 s clients: 0.5 s of 2 s elsewhere
 * console.log(otherCpuPercent(before, after, 500_000, 0)); // 25
 * ```
 */
export function otherCpuPercent(
  before: BrokerSample,
  after: BrokerSample,
  clientCpuMicros: number,
  orchestratorCpuMicros: number,
): number {
  const total = after.machine.total - before.machine.total;
  if (!(total > 0)) return NaN;
  const microsPerTick = 1_000_000 / TICKS_PER_SECOND;
  const busyMicros = (after.machine.busy - before.machine.busy) * microsPerTick;
  const ours = after.cpuMicros - before.cpuMicros + clientCpuMicros + orchestratorCpuMicros;
  return Math.max(0, (100 * (busyMicros - ours)) / (total * microsPerTick));
}
