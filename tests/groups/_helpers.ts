/**
 * What the consumer-group tests share: a broker and its app over an in-memory
 * KV whose clock is `Date.now` (so a `FakeTime` moves it, or the real clock
 * runs for long polls), and the group calls through `app.request()` with
 * their answers checked and typed.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import type { z } from "@hono/zod-openapi";
import type { FakeTime } from "@std/testing/time";
import type {
  DeadLetterSchema,
  GroupDetailSchema,
  GroupSchema,
  MessageSchema,
  ReceivedMessageSchema,
} from "../../src/http/schemas.ts";
import { openBroker } from "../_support/broker.ts";
import { createTopic, prepare, publish, type TestApi, testApi } from "../http/_helpers.ts";

export { createTopic, prepare, publish };
export type { TestApi };

/** A consumer group as JSON. */
export type GroupJson = z.infer<typeof GroupSchema>;
/** A consumer group with its counts as JSON. */
export type GroupDetailJson = z.infer<typeof GroupDetailSchema>;
/** A received message as JSON. */
export type ReceivedJson = z.infer<typeof ReceivedMessageSchema>;
/** A dead letter as JSON. */
export type DeadLetterJson = z.infer<typeof DeadLetterSchema>;
/** A message with its deliveries as JSON. */
export type MessageJson = z.infer<typeof MessageSchema>;
/** The answer of ack. */
export interface AckJson {
  acked: number;
  failed: { receiptHandle: string; reason: string }[];
}
/** The answer of nack. */
export interface NackJson {
  nacked: number;
  failed: { receiptHandle: string; reason: string }[];
}

/**
 * Opens a broker on `:memory:` (jobs not started: tests run them with
 * `scheduler.runDue()`) whose clock is `Date.now`, and its app. With `time`,
 * `advance()` ticks that fake clock; without it the real clock runs and
 * `advance()` throws.
 *
 * @example
 * ```ts
 * import { FakeTime } from "@std/testing/time";
 * import { openGroupsApi } from "./_helpers.ts";
 * using time = new FakeTime(Date.UTC(2030, 0, 1));
 * await using api = await openGroupsApi({ time });
 * api.advance(1_000);
 * ```
 */
export async function openGroupsApi(options: { time?: FakeTime } = {}): Promise<TestApi> {
  return testApi(await openBroker({ clock: options.time ? { fake: options.time } : "real" }));
}

/** Creates a group through the API, failing the test unless it answers 201. */
export async function createGroup(
  api: TestApi,
  name: string,
  body: Record<string, unknown>,
): Promise<GroupJson> {
  const res = await api.put<GroupJson>(`/v1/groups/${name}`, body);
  assertEquals(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** Reads a group with its counts, failing the test unless it answers 200. */
export async function getGroup(api: TestApi, name: string): Promise<GroupDetailJson> {
  const res = await api.get<GroupDetailJson>(`/v1/groups/${name}`);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** A group's counts only. */
export async function countsOfGroup(
  api: TestApi,
  name: string,
): Promise<Pick<GroupDetailJson, "backlog" | "inFlight" | "retrying" | "deadLettered" | "acked">> {
  const { backlog, inFlight, retrying, deadLettered, acked } = await getGroup(api, name);
  return { backlog, inFlight, retrying, deadLettered, acked };
}

/** Receives through the API, failing the test unless it answers 200. */
export async function receive(
  api: TestApi,
  group: string,
  body: Record<string, unknown> = {},
): Promise<ReceivedJson[]> {
  const res = await api.post<{ messages: ReceivedJson[] }>(`/v1/groups/${group}/receive`, body);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body.messages;
}

/** Acks through the API, failing the test unless it answers 200. */
export async function ack(api: TestApi, group: string, receiptHandles: string[]): Promise<AckJson> {
  const res = await api.post<AckJson>(`/v1/groups/${group}/ack`, { receiptHandles });
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** Nacks through the API, failing the test unless it answers 200. */
export async function nack(
  api: TestApi,
  group: string,
  receiptHandles: string[],
  delaySeconds?: number,
): Promise<NackJson> {
  const res = await api.post<NackJson>(`/v1/groups/${group}/nack`, {
    receiptHandles,
    ...(delaySeconds !== undefined ? { delaySeconds } : {}),
  });
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** The receipt handle of a received message (always present on a pull receive). */
export function handleOf(message: ReceivedJson): string {
  assert(typeof message.receiptHandle === "string", `no receipt handle: ${message.messageId}`);
  return message.receiptHandle;
}

/**
 * Receives and acks until the group has nothing ready; returns the message
 * ids in the order received (duplicates kept, so a test can spot them).
 */
export async function drain(api: TestApi, group: string): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const messages = await receive(api, group, { max: 256 });
    if (messages.length === 0) return ids;
    ids.push(...messages.map((m) => m.messageId));
    const result = await ack(api, group, messages.map(handleOf));
    assertEquals(result, { acked: messages.length, failed: [] });
  }
}

/** Commits or rolls back a transaction through the API, failing the test unless 200. */
export async function decide(
  api: TestApi,
  transactionId: string,
  decision: "commit" | "rollback",
): Promise<void> {
  const res = await api.post(`/v1/transactions/${transactionId}/${decision}`);
  assertEquals(res.status, 200, JSON.stringify(res.body));
}

/** Reads a message with its deliveries, failing the test unless it answers 200. */
export async function getMessage(api: TestApi, messageId: string): Promise<MessageJson> {
  const res = await api.get<MessageJson>(`/v1/messages/${messageId}`);
  assertEquals(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** Sorted copy, for comparing id sets whatever the delivery order. */
export const sorted = (ids: Iterable<string>): string[] => [...ids].sort();
