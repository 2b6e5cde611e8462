/**
 * `EscrowClient`: the broker's HTTP API as typed methods, on plain `fetch`
 * (no Deno-only API, so it runs on Node and in workers too). Calls that are
 * safe to repeat are retried on network errors; a publish gets a `dedupId`
 * and a prepare a `transactionId` first, so a retry never stores twice.
 *
 * @module
 */
import type { z } from "zod";
import type {
  DeadLetterSchema,
  GroupBody,
  GroupDetailSchema,
  GroupSchema,
  MessageSchema,
  PrepareBody,
  ProducerGroupSchema,
  PublishBody,
  PublishResultSchema,
  ReceivedMessageSchema,
  TopicDetailSchema,
  TopicSchema,
  TransactionResultSchema,
  TransactionSchema,
  TransactionStateSchema,
} from "../http/schemas.ts";
import { EscrowError, EscrowNetworkError, type ProblemDetails } from "./errors.ts";
import { type BatchItemAnswer, PublishBatcher } from "./publish_batcher.ts";

export type { BatchItemAnswer } from "./publish_batcher.ts";

/** A message to publish. */
export type PublishInput = z.input<typeof PublishBody>;
/** What publishing returns. */
export type PublishResult = z.infer<typeof PublishResultSchema>;
/** A half message to prepare. */
export type PrepareInput = z.input<typeof PrepareBody>;
/** A transaction's id, message id and state. */
export type TransactionResult = z.infer<typeof TransactionResultSchema>;
/** A transaction with its history. */
export type Transaction = z.infer<typeof TransactionSchema>;
/** A transaction's state. */
export type TransactionState = z.infer<typeof TransactionStateSchema>;
/** A topic. */
export type Topic = z.infer<typeof TopicSchema>;
/** A topic with its counts. */
export type TopicDetail = z.infer<typeof TopicDetailSchema>;
/** A stored message with its history and deliveries. */
export type Message = z.infer<typeof MessageSchema>;
/** A consumer group's configuration. */
export type GroupInput = z.input<typeof GroupBody>;
/** A consumer group. */
export type Group = z.infer<typeof GroupSchema>;
/** A consumer group with its delivery counts. */
export type GroupDetail = z.infer<typeof GroupDetailSchema>;
/** A delivered message with its receipt handle. */
export type ReceivedMessage = z.infer<typeof ReceivedMessageSchema> & { receiptHandle: string };
/** A dead letter. */
export type DeadLetter = z.infer<typeof DeadLetterSchema>;
/** A producer group. */
export type ProducerGroup = z.infer<typeof ProducerGroupSchema>;
/** Receipt handles that could not be settled, and why. */
export type FailedHandle = { receiptHandle: string; reason: string };

/** Options of {@linkcode EscrowClient}. */
export interface EscrowClientOptions {
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** Timeout of one request, in ms (a long poll adds its wait). @default {10000} */
  timeoutMs?: number;
  /** Retries of a repeatable call after a network error. @default {3} */
  retries?: number;
  /** Pause before retry k is k × this, in ms. @default {200} */
  retryDelayMs?: number;
  /** The fetch to use. @default {globalThis.fetch} */
  fetch?: typeof fetch;
  /**
   * Whether concurrent `publish()` calls to one topic are sent together as
   * one batch request (`POST /v1/topics/{topic}/messages/batch`), each
   * caller still getting its own result or error. `false` sends every
   * publish as its own request. @default {true}
   */
  batchPublishes?: boolean;
  /**
   * How long, in ms, a publish waits for others to share its batch (Kafka's
   * `linger.ms`); a publish that nothing joins goes alone. @default {1}
   */
  lingerMs?: number;
}

/** Options of one request. */
interface RequestOptions {
  readonly method: "GET" | "PUT" | "POST" | "DELETE";
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string | number | undefined>;
  /** The body as JSON text already (sent as is; instead of `body`). */
  readonly text?: string;
  /** Whether repeating the call is harmless. */
  readonly repeatable: boolean;
  readonly extraTimeoutMs?: number;
  /**
   * Aborts the call while its answer's headers are awaited; once they have
   * arrived the body is read to the end regardless (see `#untilHeaders`).
   */
  readonly signal?: AbortSignal;
}

const enc = encodeURIComponent;

/**
 * A typed client of the Escrow HTTP API.
 *
 * @example
 * ```ts
 * import { EscrowClient } from "./client.ts";
 * const client = new EscrowClient("http://127.0.0.1:8000");
 * await client.createTopic("Trade");
 * const { messageId } = await client.publish("Trade", { tag: "Ops", body: { id: 1 } });
 * ```
 */
export class EscrowClient {
  /** The broker's base URL, without a trailing slash. */
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #fetch: typeof fetch;
  readonly #batcher: PublishBatcher<PublishInput, PublishResult> | undefined;

  /** Creates a client for the broker at `baseUrl`. */
  constructor(baseUrl: string, options: EscrowClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#retries = options.retries ?? 3;
    this.#retryDelayMs = options.retryDelayMs ?? 200;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#batcher = options.batchPublishes === false ? undefined : new PublishBatcher({
      one: (topic, message) => this.#publishOne(topic, message),
      many: (topic, texts) => this.#publishMany(topic, texts),
    }, options.lingerMs ?? 1);
  }

  /** Creates a topic (idempotent). */
  async createTopic(name: string): Promise<Topic> {
    return await this.#request(`/v1/topics/${enc(name)}`, { method: "PUT", repeatable: true });
  }

  /** Reads a topic with its counts. */
  async getTopic(name: string): Promise<TopicDetail> {
    return await this.#request(`/v1/topics/${enc(name)}`, { method: "GET", repeatable: true });
  }

  /** Lists topics. */
  async listTopics(): Promise<Topic[]> {
    const { topics } = await this.#request<{ topics: Topic[] }>("/v1/topics", {
      method: "GET",
      repeatable: true,
    });
    return topics;
  }

  /**
   * Publishes a message. Without a `dedupId` one is generated, so retrying
   * after a network error never stores the message twice. Publishes to one
   * topic made within `lingerMs` of each other go as one batch request
   * (unless `batchPublishes` is false); each still resolves with its own
   * result or rejects with its own {@linkcode EscrowError}, after its
   * message committed.
   */
  async publish(topic: string, message: PublishInput): Promise<PublishResult> {
    const body = { ...message, dedupId: message.dedupId ?? crypto.randomUUID() };
    return await (this.#batcher?.add(topic, body) ?? this.#publishOne(topic, body));
  }

  /**
   * Publishes many messages to one topic in one request, each with its own
   * answer in order: its result (`status` 201, or 200 for a duplicate) or
   * its problem (`status` ≥ 400; the others are stored regardless). Each
   * message without a `dedupId` is given one, so the call is retried safely.
   *
   * @example
   * ```ts ignore
   * import { EscrowClient } from "./client.ts";
   * const client = new EscrowClient("http://127.0.0.1:8000");
   * const answers = await client.publishBatch("Trade", [{ body: 1 }, { body: 2 }]);
   * console.log(answers.map((a) => a.status)); // [201, 201]
   * ```
   */
  async publishBatch(
    topic: string,
    messages: readonly PublishInput[],
  ): Promise<BatchItemAnswer<PublishResult>[]> {
    return await this.#publishMany(
      topic,
      messages.map((m) => JSON.stringify({ ...m, dedupId: m.dedupId ?? crypto.randomUUID() })),
    );
  }

  async #publishOne(topic: string, body: PublishInput): Promise<PublishResult> {
    return await this.#request(`/v1/topics/${enc(topic)}/messages`, {
      method: "POST",
      body,
      repeatable: true,
    });
  }

  /** The batch request for messages already as JSON texts (each with its dedupId). */
  async #publishMany(
    topic: string,
    texts: readonly string[],
  ): Promise<BatchItemAnswer<PublishResult>[]> {
    const { results } = await this.#request<{ results: BatchItemAnswer<PublishResult>[] }>(
      `/v1/topics/${enc(topic)}/messages/batch`,
      { method: "POST", text: `{"messages":[${texts.join(",")}]}`, repeatable: true },
    );
    return results;
  }

  /** Finds visible messages by key, newest first. */
  async messagesByKey(topic: string, key: string, limit?: number): Promise<Message[]> {
    const { messages } = await this.#request<{ messages: Message[] }>(
      `/v1/topics/${enc(topic)}/messages`,
      { method: "GET", query: { key, limit }, repeatable: true },
    );
    return messages;
  }

  /** Reads a message with its transaction and delivery history. */
  async getMessage(messageId: string): Promise<Message> {
    return await this.#request(`/v1/messages/${enc(messageId)}`, {
      method: "GET",
      repeatable: true,
    });
  }

  /**
   * Stores a half message (invisible until committed). Without a
   * `transactionId` one is generated, which makes the call repeatable.
   */
  async prepare(topic: string, input: PrepareInput): Promise<TransactionResult> {
    const body = { ...input, transactionId: input.transactionId ?? crypto.randomUUID() };
    return await this.#request(`/v1/topics/${enc(topic)}/transactions`, {
      method: "POST",
      body,
      repeatable: true,
    });
  }

  /** Commits a transaction (repeatable). */
  async commit(transactionId: string): Promise<TransactionResult> {
    return await this.#request(`/v1/transactions/${enc(transactionId)}/commit`, {
      method: "POST",
      repeatable: true,
    });
  }

  /** Rolls a transaction back (repeatable). */
  async rollback(transactionId: string): Promise<TransactionResult> {
    return await this.#request(`/v1/transactions/${enc(transactionId)}/rollback`, {
      method: "POST",
      repeatable: true,
    });
  }

  /** Reads a transaction with its history. */
  async getTransaction(transactionId: string): Promise<Transaction> {
    return await this.#request(`/v1/transactions/${enc(transactionId)}`, {
      method: "GET",
      repeatable: true,
    });
  }

  /** Lists transactions. */
  async listTransactions(
    query: { state?: TransactionState; producerGroup?: string; limit?: number } = {},
  ): Promise<Transaction[]> {
    const { transactions } = await this.#request<{ transactions: Transaction[] }>(
      "/v1/transactions",
      { method: "GET", query, repeatable: true },
    );
    return transactions;
  }

  /**
   * Sets a producer group: its check-back URL and the secret that signs its
   * check-backs (replacing both: leave `secret` out and the group has none).
   */
  async setProducerGroup(
    name: string,
    checkUrl?: string,
    options: { readonly secret?: string } = {},
  ): Promise<ProducerGroup> {
    return await this.#request(`/v1/producer-groups/${enc(name)}`, {
      method: "PUT",
      body: {
        ...(checkUrl !== undefined ? { checkUrl } : {}),
        ...(options.secret !== undefined ? { secret: options.secret } : {}),
      },
      repeatable: true,
    });
  }

  /** Creates or updates a consumer group. */
  async putGroup(name: string, config: GroupInput): Promise<Group> {
    return await this.#request(`/v1/groups/${enc(name)}`, {
      method: "PUT",
      body: config,
      repeatable: true,
    });
  }

  /** Reads a consumer group with its counts. */
  async getGroup(name: string): Promise<GroupDetail> {
    return await this.#request(`/v1/groups/${enc(name)}`, { method: "GET", repeatable: true });
  }

  /** Lists consumer groups. */
  async listGroups(): Promise<Group[]> {
    const { groups } = await this.#request<{ groups: Group[] }>("/v1/groups", {
      method: "GET",
      repeatable: true,
    });
    return groups;
  }

  /** Deletes a consumer group. */
  async deleteGroup(name: string): Promise<void> {
    await this.#request(`/v1/groups/${enc(name)}`, { method: "DELETE", repeatable: true });
  }

  /**
   * Receives up to `max` messages, long-polling up to `waitSeconds`. Not
   * retried: a lost answer's messages come back after their visibility timeout.
   *
   * `signal` ends the long poll only while the answer's headers are still
   * awaited (the call then rejects with an {@linkcode EscrowNetworkError}).
   * Once the answer has started arriving, its body is read to the end and its
   * messages are returned even if `signal` aborts meanwhile: the broker has
   * leased them to this caller, and throwing them away would leave them in
   * flight until their visibility timeout. So after aborting, a caller must
   * still settle (or release) whatever the call returns.
   *
   * @example Stopping a long poll without losing what it received
   * ```ts
   * import { EscrowClient } from "./client.ts";
   * const client = new EscrowClient("http://127.0.0.1:8000");
   * const stop = new AbortController();
   * setTimeout(() => stop.abort(), 1_000);
   * const messages = await client.receive("ops", { waitSeconds: 20, signal: stop.signal })
   *   .catch(() => []); // cut before the answer came: nothing of it is ours to settle
   * if (messages.length > 0) await client.ack("ops", messages.map((m) => m.receiptHandle));
   * ```
   */
  async receive(
    group: string,
    options: {
      max?: number;
      waitSeconds?: number;
      visibilityTimeoutSeconds?: number;
      signal?: AbortSignal;
    } = {},
  ): Promise<ReceivedMessage[]> {
    const { signal, ...body } = options;
    const { messages } = await this.#request<{ messages: ReceivedMessage[] }>(
      `/v1/groups/${enc(group)}/receive`,
      {
        method: "POST",
        body,
        repeatable: false,
        extraTimeoutMs: (options.waitSeconds ?? 0) * 1000,
        ...(signal ? { signal } : {}),
      },
    );
    return messages;
  }

  /** Acknowledges messages by receipt handle. */
  async ack(
    group: string,
    receiptHandles: string[],
  ): Promise<{ acked: number; failed: FailedHandle[] }> {
    return await this.#request(`/v1/groups/${enc(group)}/ack`, {
      method: "POST",
      body: { receiptHandles },
      repeatable: true,
    });
  }

  /**
   * Fails the current attempts, recording `reason`; they are retried after
   * `delaySeconds` or on the group's schedule.
   */
  async nack(
    group: string,
    receiptHandles: string[],
    options: { delaySeconds?: number; reason?: string } = {},
  ): Promise<{ nacked: number; failed: FailedHandle[] }> {
    return await this.#request(`/v1/groups/${enc(group)}/nack`, {
      method: "POST",
      body: { receiptHandles, ...options },
      repeatable: false,
    });
  }

  /** Extends a message's visibility; returns the new receipt handle. */
  async changeVisibility(
    group: string,
    receiptHandle: string,
    visibilityTimeoutSeconds: number,
  ): Promise<{ receiptHandle: string; visibleUntil: string }> {
    return await this.#request(`/v1/groups/${enc(group)}/visibility`, {
      method: "POST",
      body: { receiptHandle, visibilityTimeoutSeconds },
      repeatable: false,
    });
  }

  /** Lists a group's dead letters. */
  async deadLetters(
    group: string,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<{ messages: DeadLetter[]; cursor?: string }> {
    return await this.#request(`/v1/groups/${enc(group)}/dead-letters`, {
      method: "GET",
      query: options,
      repeatable: true,
    });
  }

  /** Redelivers dead letters from attempt 1 (all when `messageIds` is omitted). */
  async redrive(group: string, messageIds?: string[]): Promise<{ redriven: number }> {
    return await this.#request(`/v1/groups/${enc(group)}/dead-letters/redrive`, {
      method: "POST",
      body: messageIds ? { messageIds } : { all: true },
      repeatable: true,
    });
  }

  /**
   * Opens a consumer stream of `group` (`GET /v1/groups/{group}/stream`): a
   * WebSocket with subprotocol `escrow.v1` whose frames the README and the
   * OpenAPI document describe ({@linkcode Consumer} speaks them). The token
   * goes as `Authorization: Bearer` where the runtime's WebSocket can send
   * headers (Deno), else as the subprotocol `escrow.bearer.<base64url>`.
   *
   * @example
   * ```ts ignore
   * import { EscrowClient } from "./client.ts";
   * const socket = new EscrowClient("http://127.0.0.1:8000").openStream("ops");
   * socket.onopen = () => socket.send(JSON.stringify({ type: "credit", n: 16 }));
   * ```
   */
  openStream(group: string, options: { visibilityTimeoutSeconds?: number } = {}): WebSocket {
    const url = new URL(`${this.baseUrl}/v1/groups/${enc(group)}/stream`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (options.visibilityTimeoutSeconds !== undefined) {
      url.searchParams.set("visibilityTimeoutSeconds", String(options.visibilityTimeoutSeconds));
    }
    const protocols = ["escrow.v1"];
    if (this.#token && "Deno" in globalThis) {
      const init = { protocols, headers: { authorization: `Bearer ${this.#token}` } };
      return new WebSocket(url, init as unknown as string[]);
    }
    if (this.#token) {
      const base64url = btoa(this.#token).replaceAll("+", "-").replaceAll("/", "_")
        .replaceAll("=", "");
      protocols.push(`escrow.bearer.${base64url}`);
    }
    return new WebSocket(url, protocols);
  }

  async #request<T>(path: string, options: RequestOptions): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { ...options.headers };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const bodyText = options.text ??
      (options.body !== undefined ? JSON.stringify(options.body) : undefined);
    if (bodyText !== undefined) headers["content-type"] = "application/json";
    const attempts = options.repeatable ? this.#retries + 1 : 1;
    for (let attempt = 1;; attempt++) {
      let response: Response;
      let text: string;
      try {
        const timeout = AbortSignal.timeout(this.#timeoutMs + (options.extraTimeoutMs ?? 0));
        response = await this.#untilHeaders(options.signal, (signal) =>
          this.#fetch(url, {
            method: options.method,
            headers,
            ...(bodyText !== undefined ? { body: bodyText } : {}),
            signal: AbortSignal.any([timeout, signal]),
          }));
        // Reading the answer is part of the exchange: a connection that breaks here is retried too.
        text = await response.text();
      } catch (error) {
        if (attempt >= attempts || options.signal?.aborted) {
          throw new EscrowNetworkError(
            `Cannot reach ${url.origin}: ${error instanceof Error ? error.message : error}`,
            error,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, this.#retryDelayMs * attempt));
        continue;
      }
      if (response.status === 204) return undefined as T;
      let payload: unknown;
      try {
        payload = text ? JSON.parse(text) : undefined;
      } catch {
        payload = undefined;
      }
      if (!response.ok) {
        throw new EscrowError(
          payload && typeof payload === "object" ? payload as ProblemDetails : {
            type: "about:blank",
            title: response.statusText,
            status: response.status,
            detail: text,
          },
        );
      }
      return payload as T;
    }
  }

  /**
   * Runs `send` with a signal that follows `signal` only until `send`
   * resolves (the answer's headers arrived): a later abort must not cut the
   * body, which may carry messages the broker has already leased to us.
   */
  async #untilHeaders(
    signal: AbortSignal | undefined,
    send: (signal: AbortSignal) => Promise<Response>,
  ): Promise<Response> {
    const cut = new AbortController();
    if (signal?.aborted) cut.abort(signal.reason);
    let arrived = false;
    // The cut waits one microtask, no longer. Headers whose promise had
    // settled when the abort fired have their continuation below queued
    // ahead of it, so they are kept. Anything else is cut before a timer or
    // I/O runs: every moment of delay is one in which the broker may answer
    // a request about to be cut, and such an answer is lost on the wire with
    // neither side seeing an abort (a broker in this process, as in tests,
    // would get that moment on our own event loop).
    const onAbort = () =>
      queueMicrotask(() => {
        if (!arrived) cut.abort(signal?.reason);
      });
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await send(cut.signal);
      arrived = true;
      return response;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }
}
