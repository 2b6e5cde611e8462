/**
 * The `Settings` a client is answered with on its Telemetry stream: the
 * client declares what it is (producer, simple or push consumer, its topics
 * or subscriptions); the server answers with the limits and policies it
 * applies. The Node client waits for this answer with no timeout, needs an
 * exponential back-off and a body limit, and consumers need a batch size,
 * `fifo` and a long-polling timeout.
 *
 * @module
 */
import { MAX_BODY_BYTES } from "../domain/names.ts";
import type { GroupRecord } from "../engine/groups/mod.ts";
import { protoTime } from "./message.ts";

/** A `Settings` message (camelCase, as the loader gives it). */
export interface ProtoSettings {
  clientType?: string;
  accessPoint?: unknown;
  backoffPolicy?: unknown;
  requestTimeout?: unknown;
  publishing?: {
    topics?: { name?: string }[];
    maxBodySize?: number;
    validateMessageType?: boolean;
  };
  subscription?: {
    group?: { name?: string };
    subscriptions?: {
      topic?: { name?: string };
      expression?: { type?: string; expression?: string };
    }[];
    fifo?: boolean;
    receiveBatchSize?: number;
    longPollingTimeout?: unknown;
  };
  userAgent?: unknown;
  pubSub?: string;
}

/** Messages one receive asks for when the client leaves it to the server. */
export const RECEIVE_BATCH_SIZE = 32;
/** How long a consumer's receive waits for a message, in ms. */
export const LONG_POLLING_TIMEOUT_MS = 20_000;

/**
 * The answer to a client's settings. A producer retries sends up to 3
 * times; a consumer's attempts are the group's (`maxRetries` + 1, plus one
 * so that the Node push consumer leaves dead-lettering to the broker) and
 * its back-off runs from the group's first retry delay to its last.
 *
 * @param client What the client sent.
 * @param group The consumer group, for a consumer.
 * @returns The settings to send back.
 *
 * @example
 * ```ts
 * import { settingsReply } from "./settings.ts";
 * settingsReply({ clientType: "PRODUCER", publishing: { topics: [] } }).publishing?.maxBodySize;
 * ```
 */
export function settingsReply(client: ProtoSettings, group?: GroupRecord): ProtoSettings {
  const base = {
    ...(client.clientType !== undefined ? { clientType: client.clientType } : {}),
    ...(client.accessPoint !== undefined ? { accessPoint: client.accessPoint } : {}),
    requestTimeout: client.requestTimeout ?? protoTime(3_000),
    ...(client.userAgent !== undefined ? { userAgent: client.userAgent } : {}),
  };
  if (client.subscription) {
    const delays = group?.retryDelaysSeconds ?? [1];
    const first = Math.max(delays[0] ?? 1, 1) * 1000;
    const last = Math.max(delays[delays.length - 1] ?? 1, 1) * 1000;
    return {
      ...base,
      backoffPolicy: {
        maxAttempts: (group?.maxRetries ?? 16) + 2,
        exponentialBackoff: { initial: protoTime(first), max: protoTime(last), multiplier: 2 },
      },
      subscription: {
        ...client.subscription,
        fifo: group?.ordered ?? false,
        receiveBatchSize: RECEIVE_BATCH_SIZE,
        longPollingTimeout: protoTime(LONG_POLLING_TIMEOUT_MS),
      },
    };
  }
  return {
    ...base,
    backoffPolicy: {
      maxAttempts: 3,
      exponentialBackoff: { initial: protoTime(10), max: protoTime(1_000), multiplier: 2 },
    },
    publishing: {
      topics: client.publishing?.topics ?? [],
      maxBodySize: MAX_BODY_BYTES,
      validateMessageType: false,
    },
  };
}
