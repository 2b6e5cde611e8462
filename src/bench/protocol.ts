/**
 * What the orchestrator and its client processes say to each other: each
 * role's configuration (one JSON argument), the lines a client prints on
 * stdout (`ready`, `done`, `result`, `error`) and the lines it reads on stdin
 * (`go`, `expect`, `stop`). One JSON object per line both ways.
 *
 * @module
 */
import type { LatencySummary } from "./stats.ts";
import type { IndexRange } from "./workload.ts";

/**
 * The two ways a user talks to Escrow: its SDK (`EscrowClient.publish()`
 * coalescing concurrent publishes into batch requests, and its `Consumer`),
 * or plain HTTP requests (one per message published, one long poll per
 * receive).
 */
export type ClientKind = "http" | "sdk";

/** Configuration of a `publisher`: normal messages for the indexes of `range`. */
export interface PublisherConfig {
  readonly role: "publisher";
  /** How it talks to Escrow. @default {"http"} */
  readonly client?: ClientKind;
  /** Base URL of the broker, without a trailing slash. */
  readonly url: string;
  readonly topic: string;
  readonly range: IndexRange;
  /** Requests in flight at once (closed loop). */
  readonly inflight: number;
  /** Send at this many messages per second regardless of answers (open loop) instead. */
  readonly ratePerSecond?: number;
  /** Approximate size of each message body as JSON, in bytes. */
  readonly bodyBytes: number;
  /** Stop sending this long after `go`, and give up on answers soon after. */
  readonly deadlineMs: number;
}

/** One group a `consumer` process drains. */
export interface ConsumedGroup {
  readonly name: string;
  /** The group's tag expression, to count deliveries with a tag it must not get. */
  readonly tags: string;
  /** Distinct messages after which the group is done; absent: wait for an `expect` line. */
  readonly expected?: number;
}

/** Configuration of a `consumer`: pull loops over one or more groups. */
export interface ConsumerConfig {
  readonly role: "consumer";
  /** How it talks to Escrow. @default {"http"} */
  readonly client?: ClientKind;
  readonly url: string;
  readonly groups: readonly ConsumedGroup[];
  /** Receive requests in flight per group. */
  readonly receivers: number;
  /** `max` of each receive (≤ 256). */
  readonly max: number;
  /** `waitSeconds` of each receive (long poll). */
  readonly waitSeconds: number;
  /** Record publish → receipt latency from the `sentAt` in each body. */
  readonly recordLatency: boolean;
  /** Stop receiving once every group is done (a backlog probe), instead of at `stop`. */
  readonly stopWhenDone: boolean;
  readonly deadlineMs: number;
}

/** Configuration of a `producer`: transactional messages, prepared then decided. */
export interface ProducerConfig {
  readonly role: "producer";
  readonly url: string;
  readonly topic: string;
  readonly range: IndexRange;
  readonly inflight: number;
  readonly bodyBytes: number;
  readonly deadlineMs: number;
}

/** Any role's configuration. */
export type WorkerConfig = PublisherConfig | ConsumerConfig | ProducerConfig;

/** What every role reports besides its own figures. */
export interface CommonResult {
  /** Failed requests (transport errors and unexpected statuses). */
  readonly errors: number;
  /** A few failures, for the report. */
  readonly errorSamples: readonly string[];
  /** Whether the deadline cut the work short. */
  readonly timedOut: boolean;
  /** CPU time the client process used between `go` and its result, in µs. */
  readonly cpuMicros: number;
}

/** A publisher's result; times are epoch ms (`performance.timeOrigin + performance.now()`). */
export interface PublisherResult extends CommonResult {
  readonly role: "publisher";
  readonly range: IndexRange;
  /** Message id per index of the range, `null` when the publish failed. */
  readonly ids: readonly (string | null)[];
  /** The tag sent per index, as indexes into `TAGS`, one digit each. */
  readonly tags: string;
  readonly firstSendAt: number;
  readonly lastConfirmAt: number;
  readonly confirmed: number;
  /** Open loop only: sends that started more than 5 ms late. */
  readonly lateSends: number;
  /** Publish call → 201, in ms, over the confirmed messages. */
  readonly confirmMs: LatencySummary;
}

/** One group's deliveries as a consumer saw them. */
export interface GroupDeliveries {
  readonly name: string;
  /** Every delivered message id, in arrival order, duplicates included. */
  readonly ids: readonly string[];
  /** Deliveries whose tag the group's expression does not accept. */
  readonly wrongTag: number;
  /** When the ack that completed the expected count came back (NaN if never). */
  readonly doneAt: number;
  readonly receives: number;
  readonly emptyReceives: number;
  /** Receipt handles the broker refused to ack. */
  readonly ackFailed: number;
  /** Publish → receipt in ms, per delivery (latency mode only). */
  readonly latenciesMs: readonly number[];
}

/** A consumer's result. */
export interface ConsumerResult extends CommonResult {
  readonly role: "consumer";
  readonly groups: readonly GroupDeliveries[];
  readonly firstReceiveAt: number;
}

/** A producer's result. */
export interface ProducerResult extends CommonResult {
  readonly role: "producer";
  /** Message ids whose commit came back 200. */
  readonly committed: readonly string[];
  /** Message ids whose rollback came back 200. */
  readonly rolledBack: readonly string[];
  readonly firstSendAt: number;
  readonly lastDecisionAt: number;
}

/** Any role's result. */
export type WorkerResult = PublisherResult | ConsumerResult | ProducerResult;

/** A line a client prints. */
export type WorkerLine =
  | { readonly type: "ready" }
  | { readonly type: "done"; readonly at: number }
  | { readonly type: "result"; readonly result: WorkerResult }
  | { readonly type: "error"; readonly message: string };

/** A line the orchestrator sends. */
export type ControlLine =
  | { readonly type: "go" }
  | { readonly type: "expect"; readonly counts: Readonly<Record<string, number>> }
  | { readonly type: "stop" };

/**
 * Now as epoch milliseconds with sub-millisecond resolution, comparable
 * between processes on one machine.
 *
 * @example
 * ```ts
 * import { epochMs } from "./protocol.ts";
 * console.log(Math.abs(epochMs() - Date.now()) < 1000); // true
 * ```
 */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
