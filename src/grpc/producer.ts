/**
 * Producing: `SendMessage` (normal, FIFO through message groups, delay,
 * transactional) and `EndTransaction` (the producer's decision and a
 * check-back's answer), onto the same publish and transaction use cases as
 * the HTTP API. Tag, keys and user properties pass as sent, the body as
 * bytes; the receipt's message id is Escrow's, the one every other view shows.
 *
 * @module
 */
import { encodeBase64 } from "@std/encoding/base64";
import type { Principal } from "../http/auth/token_set.ts";
import { scoped } from "../http/auth/permission.ts";
import { MessageFields } from "../http/schemas.ts";
import type { Broker } from "../engine/broker.ts";
import type { MessageInput } from "../domain/message.ts";
import { requirePermission } from "./auth.ts";
import { millisOf, type ProtoMessage, type ProtoTime, sentBody } from "./message.ts";
import { type Code, type Status, status, StatusError, statusOf } from "./status.ts";
import type { TelemetryHub } from "./telemetry.ts";

/** What the producing RPCs need. */
export interface ProducerContext {
  readonly broker: Broker;
  readonly hub: TelemetryHub;
  readonly principal: Principal;
  readonly clientId: string;
  /** Producer group of transactions prepared over gRPC (its checkUrl is the fallback). */
  readonly producerGroup?: string;
  /** First check-back of a gRPC transaction after this many seconds. */
  readonly checkAfterSeconds?: number;
}

/** One `SendResultEntry`. */
export interface SendResultEntry {
  status: Status;
  messageId: string;
  transactionId: string;
  offset: number;
}

const FIELD_CODES: Record<string, Code> = {
  tag: "ILLEGAL_MESSAGE_TAG",
  keys: "ILLEGAL_MESSAGE_KEY",
  properties: "ILLEGAL_MESSAGE_PROPERTY_KEY",
  delaySeconds: "ILLEGAL_DELIVERY_TIME",
  messageGroup: "ILLEGAL_MESSAGE_GROUP",
  dedupId: "ILLEGAL_MESSAGE_ID",
};

const TRANSACTION_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * The Escrow message a RocketMQ message maps to, checked against the same
 * limits as an HTTP publish (a wrong field answers the protocol's code for it).
 *
 * @example
 * ```ts
 * import { toInput } from "./producer.ts";
 * toInput({ topic: { name: "Trade" }, systemProperties: { tag: "Ops", keys: ["k"] } }, 0).tag;
 * ```
 */
export function toInput(message: ProtoMessage, now: number): MessageInput {
  const system = (message.systemProperties ?? {}) as {
    tag?: string;
    keys?: string[];
    messageId?: string;
    messageGroup?: string;
    deliveryTimestamp?: ProtoTime;
  };
  const body = sentBody(message);
  const deliverAt = millisOf(system.deliveryTimestamp);
  const input = {
    ...(body.length > 0 ? { bodyBase64: encodeBase64(body) } : {}),
    ...(system.tag !== undefined && system.tag !== "" ? { tag: system.tag } : {}),
    ...(system.keys && system.keys.length > 0 ? { keys: system.keys } : {}),
    ...(message.userProperties && Object.keys(message.userProperties).length > 0
      ? { properties: message.userProperties }
      : {}),
    ...(deliverAt !== undefined && deliverAt > now
      ? { delaySeconds: (deliverAt - now) / 1000 }
      : {}),
    ...(system.messageGroup !== undefined && system.messageGroup !== ""
      ? { messageGroup: system.messageGroup }
      : {}),
    ...(system.messageId ? { dedupId: system.messageId } : {}),
  };
  const parsed = MessageFields.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? "message");
    const code = field === "properties" && /bytes|properties/.test(issue.message)
      ? "MESSAGE_PROPERTIES_TOO_LARGE"
      : FIELD_CODES[field] ?? "BAD_REQUEST";
    throw new StatusError(code, `Cannot accept message: ${issue.path.join(".")} ${issue.message}`);
  }
  return input;
}

/** Sends one message: a publish, or a prepare for a TRANSACTION message. */
async function sendOne(context: ProducerContext, message: ProtoMessage): Promise<SendResultEntry> {
  const { broker, principal } = context;
  const topic = message.topic?.name ?? "";
  requirePermission(principal, scoped("publish", topic));
  const input = toInput(message, Date.now());
  if (message.systemProperties?.messageType === "TRANSACTION") {
    const { dedupId, ...rest } = input;
    const { view } = await broker.transactions.prepare(topic, {
      ...rest,
      ...(dedupId !== undefined && TRANSACTION_ID.test(dedupId) ? { transactionId: dedupId } : {}),
      ...(context.producerGroup !== undefined ? { producerGroup: context.producerGroup } : {}),
      ...(context.checkAfterSeconds !== undefined
        ? { checkAfterSeconds: context.checkAfterSeconds }
        : {}),
    });
    await context.hub.noteTopic(context.clientId, topic);
    return {
      status: status("OK"),
      messageId: view.messageId,
      transactionId: view.transactionId,
      offset: 0,
    };
  }
  const result = await broker.publisher.publish(topic, input);
  return { status: status("OK"), messageId: result.messageId, transactionId: "", offset: 0 };
}

/**
 * Answers `SendMessage`: one entry per message, the first failure as the
 * call's status.
 *
 * @example
 * ```ts
 * import { sendMessage } from "./producer.ts";
 * declare const context: import("./producer.ts").ProducerContext;
 * await sendMessage(context, { messages: [{ topic: { name: "Trade" }, body: new Uint8Array([1]) }] });
 * ```
 */
export async function sendMessage(
  context: ProducerContext,
  request: { messages?: ProtoMessage[] },
): Promise<{ status: Status; entries: SendResultEntry[] }> {
  const messages = request.messages ?? [];
  if (messages.length === 0) {
    return { status: status("BAD_REQUEST", "Cannot send: no message"), entries: [] };
  }
  const entries: SendResultEntry[] = [];
  for (const message of messages) {
    try {
      entries.push(await sendOne(context, message));
    } catch (error) {
      entries.push({ status: statusOf(error), messageId: "", transactionId: "", offset: 0 });
    }
  }
  const failed = entries.find((entry) => entry.status.code !== "OK");
  return { status: failed?.status ?? status("OK"), entries };
}

/** An `EndTransactionRequest` (the fields used). */
export interface EndTransactionRequest {
  topic?: { name?: string };
  messageId?: string;
  transactionId?: string;
  resolution?: string;
  source?: string;
}

/**
 * Answers `EndTransaction`: COMMIT or ROLLBACK decides the transaction
 * (the producer's or a check-back's answer alike); UNSPECIFIED changes
 * nothing. The message id must be the transaction's.
 *
 * @example
 * ```ts
 * import { endTransaction } from "./producer.ts";
 * declare const context: import("./producer.ts").ProducerContext;
 * await endTransaction(context, { transactionId: "t1", messageId: "m1", resolution: "COMMIT" });
 * ```
 */
export async function endTransaction(
  context: ProducerContext,
  request: EndTransactionRequest,
): Promise<{ status: Status }> {
  const transactionId = request.transactionId ?? "";
  const view = await context.broker.transactions.get(transactionId);
  if (request.messageId !== view.messageId) {
    throw new StatusError(
      "INVALID_TRANSACTION_ID",
      `Cannot end transaction ${transactionId}: message_id ${request.messageId} is not its message (${view.messageId})`,
    );
  }
  requirePermission(context.principal, scoped("decide", view.producerGroup ?? "*"));
  if (request.resolution !== "COMMIT" && request.resolution !== "ROLLBACK") {
    return { status: status("OK", "No decision: the transaction stays open") };
  }
  await context.broker.transactions.decide(
    transactionId,
    request.resolution === "COMMIT" ? "commit" : "rollback",
  );
  return { status: status("OK") };
}
