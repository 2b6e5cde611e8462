/**
 * Consuming: `ReceiveMessage` (a long poll answered as a status then the
 * messages), `AckMessage`, `ChangeInvisibleDuration` and
 * `ForwardMessageToDeadLetterQueue`, onto the same deliveries as the HTTP
 * API. The group decides retries and dead letters: a push consumer's
 * failure (its `ChangeInvisibleDuration`) fails the attempt on the group's
 * schedule, whatever delay the client asked for.
 *
 * @module
 */
import type * as grpc from "@grpc/grpc-js";
import { NotFoundError, ValidationError } from "../domain/errors.ts";
import type { SubscriptionSpec } from "../domain/subscription.ts";
import type { Broker } from "../engine/broker.ts";
import type { GroupRecord } from "../engine/groups/mod.ts";
import { grants, scoped } from "../http/auth/permission.ts";
import type { Principal } from "../http/auth/token_set.ts";
import { requirePermission } from "./auth.ts";
import { bodyBytes, millisOf, type ProtoTime, toProtoMessage } from "./message.ts";
import { LONG_POLLING_TIMEOUT_MS, RECEIVE_BATCH_SIZE } from "./settings.ts";
import { type Status, status, StatusError } from "./status.ts";

/** What the consuming RPCs need. */
export interface ConsumerContext {
  readonly broker: Broker;
  readonly principal: Principal;
  /** Create a missing group from the client's subscription (else CONSUMER_GROUP_NOT_FOUND). */
  readonly autoCreateGroups: boolean;
  /** Whether the caller is a push consumer (its ChangeInvisibleDuration is a failure). */
  readonly pushConsumer: boolean;
}

/** A `FilterExpression` and its topic. */
export interface ProtoSubscription {
  topic?: { name?: string };
  expression?: { type?: string; expression?: string };
}

/** Longest a receive waits, in ms (a client's deadline is its own poll plus its timeout). */
const MAX_WAIT_MS = 30_000;

/**
 * The Escrow subscription of a RocketMQ one: `SQL` is an SQL92 filter,
 * anything else a tag expression (`*` when empty).
 *
 * @example
 * ```ts
 * import { toSpec } from "./consumer.ts";
 * toSpec({ topic: { name: "Trade" }, expression: { type: "TAG", expression: "A || B" } });
 * ```
 */
export function toSpec(entry: ProtoSubscription): SubscriptionSpec {
  const topic = entry.topic?.name ?? "";
  const expression = entry.expression?.expression?.trim() ?? "";
  return entry.expression?.type === "SQL"
    ? { topic, sql: expression }
    : { topic, tags: expression === "" ? "*" : expression };
}

/**
 * The group `name`, created from `subscriptions` when missing and allowed
 * (starting at the end of its topics, as an HTTP group does). Creating a
 * group takes `admin`, as `PUT /v1/groups/{group}` does.
 *
 * @example
 * ```ts
 * import { ensureGroup } from "./consumer.ts";
 * declare const broker: import("../engine/broker.ts").Broker;
 * import { ANONYMOUS } from "../http/auth/token_set.ts";
 * await ensureGroup(broker, "audit", [{ topic: { name: "Trade" } }], true, ANONYMOUS);
 * ```
 */
export async function ensureGroup(
  broker: Broker,
  name: string,
  subscriptions: readonly ProtoSubscription[],
  autoCreate: boolean,
  principal: Principal,
): Promise<GroupRecord> {
  try {
    return await broker.groups.require(name);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    if (!autoCreate) {
      throw new StatusError(
        "CONSUMER_GROUP_NOT_FOUND",
        `Cannot find group: ${name} (ESCROW_GRPC_AUTO_CREATE_GROUPS=false: create it over HTTP)`,
      );
    }
  }
  if (!grants(principal.permissions, "admin")) {
    throw new StatusError(
      "FORBIDDEN",
      `Cannot create group ${name}: token ${principal.name} lacks admin (as PUT /v1/groups/${name} needs); create the group over HTTP`,
    );
  }
  try {
    const { group } = await broker.groups.put(name, { subscriptions: subscriptions.map(toSpec) });
    return group;
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new StatusError("ILLEGAL_FILTER_EXPRESSION", error.message);
    }
    throw error;
  }
}

/** A `ReceiveMessageRequest` (the fields used). */
export interface ReceiveRequest {
  group?: { name?: string };
  messageQueue?: { topic?: { name?: string } };
  filterExpression?: { type?: string; expression?: string };
  batchSize?: number;
  invisibleDuration?: ProtoTime;
  autoRenew?: boolean;
  longPollingTimeout?: ProtoTime;
}

/**
 * Serves `ReceiveMessage`: waits up to the long-polling timeout for
 * messages, then writes a status (`OK`, or `MESSAGE_NOT_FOUND` when none)
 * and the messages, each with its receipt handle and attempt. A client that
 * goes away ends the wait, and what was started for it is released.
 *
 * @example
 * ```ts
 * import { receiveMessage } from "./consumer.ts";
 * declare const context: import("./consumer.ts").ConsumerContext;
 * declare const call: import("@grpc/grpc-js").ServerWritableStream<unknown, unknown>;
 * await receiveMessage(context, call);
 * ```
 */
export async function receiveMessage(
  context: ConsumerContext,
  call: grpc.ServerWritableStream<unknown, unknown>,
): Promise<void> {
  const request = call.request as ReceiveRequest;
  const groupName = request.group?.name ?? "";
  requirePermission(context.principal, scoped("consume", groupName));
  const topic = request.messageQueue?.topic?.name ?? "";
  const group = await ensureGroup(
    context.broker,
    groupName,
    [{
      topic: { name: topic },
      ...(request.filterExpression ? { expression: request.filterExpression } : {}),
    }],
    context.autoCreateGroups,
    context.principal,
  );
  const invisibleMs = millisOf(request.invisibleDuration);
  if (invisibleMs !== undefined && invisibleMs <= 0) {
    throw new StatusError(
      "ILLEGAL_INVISIBLE_TIME",
      "Cannot receive: invisible_duration must be positive",
    );
  }
  const seconds = request.autoRenew || invisibleMs === undefined
    ? group.visibilityTimeoutSeconds
    : Math.max(1, Math.ceil(invisibleMs / 1000));
  const controller = new AbortController();
  const abort = () => controller.abort();
  call.on("cancelled", abort);
  call.on("close", abort);
  const waitMs = Math.min(
    millisOf(request.longPollingTimeout) ?? LONG_POLLING_TIMEOUT_MS,
    MAX_WAIT_MS,
  );
  const messages = await context.broker.deliveries.receive(groupName, {
    max: request.batchSize && request.batchSize > 0 ? request.batchSize : RECEIVE_BATCH_SIZE,
    waitMs,
    visibilityTimeoutSeconds: seconds,
    signal: controller.signal,
  });
  if (controller.signal.aborted && messages.length > 0) {
    await context.broker.deliveries.release(groupName, messages.map((m) => m.receiptHandle));
    return;
  }
  call.write({
    status: messages.length > 0
      ? status("OK")
      : status("MESSAGE_NOT_FOUND", "No message before the long-polling timeout"),
  });
  for (const message of messages) {
    call.write({
      message: toProtoMessage({
        messageId: message.messageId,
        topic: message.topic,
        keys: message.keys,
        properties: message.properties,
        body: bodyBytes(message),
        bornAt: message.publishedAt,
        receiptHandle: message.receiptHandle,
        attempt: message.attempt,
        invisibleMs: seconds * 1000,
        ...(message.tag !== undefined ? { tag: message.tag } : {}),
        ...(message.messageGroup !== undefined ? { messageGroup: message.messageGroup } : {}),
        ...(message.transactionId !== undefined ? { transactionId: message.transactionId } : {}),
      }),
    });
  }
}

/** An `AckMessageRequest` (the fields used). */
export interface AckRequest {
  group?: { name?: string };
  entries?: { messageId?: string; receiptHandle?: string }[];
}

/**
 * Answers `AckMessage`: one status per entry; an unknown, expired or stale
 * handle is `INVALID_RECEIPT_HANDLE`.
 *
 * @example
 * ```ts
 * import { ackMessage } from "./consumer.ts";
 * declare const context: import("./consumer.ts").ConsumerContext;
 * await ackMessage(context, { group: { name: "audit" }, entries: [] });
 * ```
 */
export async function ackMessage(
  context: ConsumerContext,
  request: AckRequest,
): Promise<{
  status: Status;
  entries: { messageId: string; receiptHandle: string; status: Status }[];
}> {
  const groupName = request.group?.name ?? "";
  requirePermission(context.principal, scoped("consume", groupName));
  const entries = request.entries ?? [];
  const result = await context.broker.deliveries.ack(
    groupName,
    entries.map((e) => e.receiptHandle ?? ""),
  );
  const failed = new Map(result.failed.map((f) => [f.receiptHandle, f.reason]));
  const answers = entries.map((entry) => {
    const reason = failed.get(entry.receiptHandle ?? "");
    return {
      messageId: entry.messageId ?? "",
      receiptHandle: entry.receiptHandle ?? "",
      status: reason === undefined ? status("OK") : status("INVALID_RECEIPT_HANDLE", reason),
    };
  });
  const bad = answers.find((a) => a.status.code !== "OK");
  return { status: bad?.status ?? status("OK"), entries: answers };
}

/** A `ChangeInvisibleDurationRequest` (the fields used). */
export interface ChangeRequest {
  group?: { name?: string };
  receiptHandle?: string;
  invisibleDuration?: ProtoTime;
  messageId?: string;
}

/**
 * Answers `ChangeInvisibleDuration`. From a simple consumer it moves the
 * visibility timeout (at least 1 s) and returns the new handle; from a push
 * consumer it is a failed attempt, retried on the group's schedule and
 * dead-lettered once the group's `maxRetries` are spent.
 *
 * @example
 * ```ts
 * import { changeInvisibleDuration } from "./consumer.ts";
 * declare const context: import("./consumer.ts").ConsumerContext;
 * await changeInvisibleDuration(context, { group: { name: "audit" }, receiptHandle: "h" });
 * ```
 */
export async function changeInvisibleDuration(
  context: ConsumerContext,
  request: ChangeRequest,
): Promise<{ status: Status; receiptHandle: string }> {
  const groupName = request.group?.name ?? "";
  requirePermission(context.principal, scoped("consume", groupName));
  const handle = request.receiptHandle ?? "";
  const { deliveries } = context.broker;
  if (context.pushConsumer) {
    const result = await deliveries.fail(groupName, [handle], "consumer failed (push listener)");
    const failed = result.failed[0];
    if (failed) throw new StatusError("INVALID_RECEIPT_HANDLE", failed.reason);
    return { status: status("OK"), receiptHandle: handle };
  }
  const ms = millisOf(request.invisibleDuration);
  if (ms === undefined || ms < 0) {
    throw new StatusError("ILLEGAL_INVISIBLE_TIME", "Cannot change: invisible_duration is missing");
  }
  const changed = await deliveries.changeVisibility(
    groupName,
    handle,
    Math.max(1, Math.ceil(ms / 1000)),
  );
  if ("failed" in changed) throw new StatusError("INVALID_RECEIPT_HANDLE", changed.failed);
  return { status: status("OK"), receiptHandle: changed.receiptHandle };
}

/**
 * Answers `ForwardMessageToDeadLetterQueue`: the group, not the client,
 * decides when a message is dead-lettered, so this fails the attempt on the
 * group's schedule (the Node push consumer only asks after the attempts the
 * server advertised, which outnumber the group's).
 *
 * @example
 * ```ts
 * import { forwardToDeadLetterQueue } from "./consumer.ts";
 * declare const context: import("./consumer.ts").ConsumerContext;
 * await forwardToDeadLetterQueue(context, { group: { name: "audit" }, receiptHandle: "h" });
 * ```
 */
export async function forwardToDeadLetterQueue(
  context: ConsumerContext,
  request: { group?: { name?: string }; receiptHandle?: string },
): Promise<{ status: Status }> {
  const groupName = request.group?.name ?? "";
  requirePermission(context.principal, scoped("consume", groupName));
  const result = await context.broker.deliveries.fail(
    groupName,
    [request.receiptHandle ?? ""],
    "consumer asked to dead-letter (ForwardMessageToDeadLetterQueue)",
  );
  const failed = result.failed[0];
  if (failed) throw new StatusError("INVALID_RECEIPT_HANDLE", failed.reason);
  return { status: status("OK") };
}
