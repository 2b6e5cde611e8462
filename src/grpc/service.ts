/**
 * The `MessagingService` implementation: every RPC authenticated, mapped to
 * its use case, and every failure answered with the protocol's own status
 * in the response (never a hang, never a bare gRPC error); what Escrow
 * does not support answers `UNSUPPORTED` saying so.
 *
 * @module
 */
import type * as grpc from "@grpc/grpc-js";
import type { Broker } from "../engine/broker.ts";
import type { Principal, TokenSet } from "../http/auth/token_set.ts";
import { authenticate } from "./auth.ts";
import {
  ackMessage,
  changeInvisibleDuration,
  type ConsumerContext,
  forwardToDeadLetterQueue,
  receiveMessage,
} from "./consumer.ts";
import { endTransaction, type ProducerContext, sendMessage } from "./producer.ts";
import { queryAssignment, queryRoute } from "./route.ts";
import { type Status, status, statusOf } from "./status.ts";
import type { TelemetryHub } from "./telemetry.ts";

/** Settings of the service. */
export interface ServiceOptions {
  readonly broker: Broker;
  readonly hub: TelemetryHub;
  readonly tokens: TokenSet;
  readonly autoCreateGroups: boolean;
  readonly producerGroup?: string;
  readonly checkAfterSeconds?: number;
}

/** RPCs of the protocol Escrow does not serve, and why. */
export const UNSUPPORTED_RPCS: Readonly<Record<string, string>> = {
  PullMessage: "Escrow has no queue offsets: use a SimpleConsumer or PushConsumer",
  UpdateOffset: "Escrow has no queue offsets: use a SimpleConsumer or PushConsumer",
  GetOffset: "Escrow has no queue offsets: use a SimpleConsumer or PushConsumer",
  QueryOffset: "Escrow has no queue offsets: use a SimpleConsumer or PushConsumer",
  RecallMessage: "Escrow does not recall delayed messages",
  SyncLiteSubscription: "Escrow has no lite topics",
};

type Unary = (call: grpc.ServerUnaryCall<unknown, unknown>, principal: Principal) => Promise<
  { status: Status }
>;

function clientIdOf(call: { metadata: grpc.Metadata }): string {
  return String(call.metadata.get("x-mq-client-id")[0] ?? "");
}

/**
 * The handlers, by RPC name, for `server.addService`.
 *
 * @example
 * ```ts
 * import { messagingHandlers } from "./service.ts";
 * declare const options: import("./service.ts").ServiceOptions;
 * Object.keys(messagingHandlers(options)).includes("SendMessage"); // true
 * ```
 */
export function messagingHandlers(options: ServiceOptions): grpc.UntypedServiceImplementation {
  const { broker, hub, tokens } = options;
  const producer = (call: { metadata: grpc.Metadata }, principal: Principal): ProducerContext => ({
    broker,
    hub,
    principal,
    clientId: clientIdOf(call),
    ...(options.producerGroup !== undefined ? { producerGroup: options.producerGroup } : {}),
    ...(options.checkAfterSeconds !== undefined
      ? { checkAfterSeconds: options.checkAfterSeconds }
      : {}),
  });
  const consumer = (call: { metadata: grpc.Metadata }, principal: Principal): ConsumerContext => ({
    broker,
    principal,
    autoCreateGroups: options.autoCreateGroups,
    pushConsumer: hub.settingsOf(clientIdOf(call))?.clientType === "PUSH_CONSUMER",
  });
  const unary = (handler: Unary) =>
  (
    call: grpc.ServerUnaryCall<unknown, unknown>,
    callback: grpc.sendUnaryData<unknown>,
  ) => {
    (async () => {
      try {
        return await handler(call, authenticate(call.metadata, tokens));
      } catch (error) {
        return { status: statusOf(error) };
      }
    })().then((answer) => callback(null, answer), (error) => callback(error as Error));
  };
  const handlers: grpc.UntypedServiceImplementation = {
    QueryRoute: unary(async (call) => await queryRoute(broker.topics, call.request as never)),
    QueryAssignment: unary(async (call) =>
      await queryAssignment(broker.topics, call.request as never)
    ),
    Heartbeat: unary(() => Promise.resolve({ status: status("OK") })),
    NotifyClientTermination: unary(() => Promise.resolve({ status: status("OK") })),
    SendMessage: unary(async (call, principal) =>
      await sendMessage(producer(call, principal), call.request as never)
    ),
    EndTransaction: unary(async (call, principal) =>
      await endTransaction(producer(call, principal), call.request as never)
    ),
    AckMessage: unary(async (call, principal) =>
      await ackMessage(consumer(call, principal), call.request as never)
    ),
    ChangeInvisibleDuration: unary(async (call, principal) =>
      await changeInvisibleDuration(consumer(call, principal), call.request as never)
    ),
    ForwardMessageToDeadLetterQueue: unary(async (call, principal) =>
      await forwardToDeadLetterQueue(consumer(call, principal), call.request as never)
    ),
    ReceiveMessage: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      (async () => {
        try {
          await receiveMessage(consumer(call, authenticate(call.metadata, tokens)), call);
        } catch (error) {
          call.write({ status: statusOf(error) });
        }
      })().finally(() => call.end());
    },
    Telemetry: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      let principal: Principal;
      try {
        principal = authenticate(call.metadata, tokens);
      } catch (error) {
        call.write({ status: statusOf(error) });
        call.end();
        return;
      }
      hub.attach(call, principal);
    },
  };
  for (const [name, why] of Object.entries(UNSUPPORTED_RPCS)) {
    const answer = { status: status("UNSUPPORTED", `${name} is not supported: ${why}`) };
    handlers[name] = name === "PullMessage"
      ? (call: grpc.ServerWritableStream<unknown, unknown>) => {
        call.write(answer);
        call.end();
      }
      : (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, answer);
  }
  return handlers;
}
