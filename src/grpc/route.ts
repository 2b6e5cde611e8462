/**
 * Routes and assignments: Escrow has no brokers or queues to balance, so
 * every topic is one read-write queue (id 0) on one broker (id 0, the
 * clients' master), reachable at the endpoint the client already uses. The
 * Node client keeps queue 0, the Java client broker 0: both find it.
 *
 * @module
 */
import type { Topics } from "../engine/publishing/mod.ts";
import { type Status, status } from "./status.ts";

/** An `Endpoints` message. */
export interface ProtoEndpoints {
  scheme?: string;
  addresses?: { host?: string; port?: number }[];
}

/** A `MessageQueue` message. */
export interface ProtoQueue {
  topic: { name: string; resourceNamespace: string };
  id: number;
  permission: string;
  broker: { name: string; id: number; endpoints: ProtoEndpoints };
  acceptMessageTypes: string[];
}

/**
 * The one queue of `topic`, on a broker at `endpoints`.
 *
 * @example
 * ```ts
 * import { queueOf } from "./route.ts";
 * queueOf("Trade", { scheme: "IPv4", addresses: [{ host: "127.0.0.1", port: 8081 }] }).id; // 0
 * ```
 */
export function queueOf(topic: string, endpoints: ProtoEndpoints, namespace = ""): ProtoQueue {
  return {
    topic: { name: topic, resourceNamespace: namespace },
    id: 0,
    permission: "READ_WRITE",
    broker: { name: "escrow", id: 0, endpoints },
    acceptMessageTypes: ["NORMAL", "FIFO", "DELAY", "TRANSACTION"],
  };
}

/** A `QueryRouteRequest` / `QueryAssignmentRequest` (the fields used). */
export interface RouteRequest {
  topic?: { name?: string; resourceNamespace?: string };
  endpoints?: ProtoEndpoints;
}

/**
 * Answers `QueryRoute`: the topic's queue, or `TOPIC_NOT_FOUND`.
 *
 * @example
 * ```ts
 * import { queryRoute } from "./route.ts";
 * declare const topics: import("../engine/publishing/mod.ts").Topics;
 * await queryRoute(topics, { topic: { name: "Trade" } });
 * ```
 */
export async function queryRoute(
  topics: Topics,
  request: RouteRequest,
): Promise<{ status: Status; messageQueues: ProtoQueue[] }> {
  const name = request.topic?.name ?? "";
  await topics.require(name);
  return {
    status: status("OK"),
    messageQueues: [
      queueOf(name, request.endpoints ?? {}, request.topic?.resourceNamespace ?? ""),
    ],
  };
}

/**
 * Answers `QueryAssignment`: the push consumer is assigned the topic's queue.
 *
 * @example
 * ```ts
 * import { queryAssignment } from "./route.ts";
 * declare const topics: import("../engine/publishing/mod.ts").Topics;
 * await queryAssignment(topics, { topic: { name: "Trade" } });
 * ```
 */
export async function queryAssignment(
  topics: Topics,
  request: RouteRequest,
): Promise<{ status: Status; assignments: { messageQueue: ProtoQueue }[] }> {
  const { messageQueues } = await queryRoute(topics, request);
  return { status: status("OK"), assignments: messageQueues.map((q) => ({ messageQueue: q })) };
}
