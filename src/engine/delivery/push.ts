/**
 * Push delivery: for every push group, a pump receives ready messages (at
 * most `maxConcurrency` in flight) and POSTs each to the group's URL through
 * the outbound policy. A 2xx within `timeoutSeconds` acks it; anything else
 * (a redirect, a refused URL, a timeout) fails the attempt, which the
 * retry schedule takes from there. The visibility timeout of a pushed
 * message is the request timeout plus a grace period, so a broker that dies
 * mid-request leaves the message to be retried.
 *
 * @module
 */
import { signedPost } from "../../domain/signature.ts";
import { keys } from "../../store/keys.ts";
import type { ReceivedMessage } from "../../domain/wire.ts";
import type { Deliveries } from "./deliveries.ts";
import type { EngineDeps } from "../deps.ts";
import type { DeliveryConfig, GroupRecord, Groups } from "../groups/groups.ts";
import { toWireMessage } from "../../domain/wire.ts";

/** Extra visibility beyond the request timeout before a pushed message counts as failed. */
export const PUSH_GRACE_SECONDS = 5;
/** Longest a pump waits for work before it looks at its configuration again. */
const IDLE_WAIT_MS = 10_000;

type PushConfig = Extract<DeliveryConfig, { mode: "push" }>;

/**
 * Builds the push request for a message, signed when the group has a secret.
 *
 * @example
 * ```ts
 * import { pushRequest } from "./push.ts";
 * declare const message: import("../../domain/wire.ts").ReceivedMessage;
 * const request = await pushRequest("http://127.0.0.1:9000/hook", message, "s3cret", Date.now());
 * ```
 */
export async function pushRequest(
  url: string,
  message: ReceivedMessage,
  secret: string | undefined,
  now: number,
): Promise<Request> {
  return await signedPost(
    url,
    toWireMessage(message, { withHandle: false }),
    {
      "escrow-message-id": message.messageId,
      "escrow-attempt": String(message.attempt),
    },
    secret,
    now,
  );
}

/**
 * Runs one pump per push group and keeps the set in step with the groups.
 *
 * @example
 * ```ts
 * import { PushDispatcher } from "./push.ts";
 * declare const dispatcher: PushDispatcher;
 * await dispatcher.start();
 * await dispatcher.stop();
 * ```
 */
export class PushDispatcher {
  readonly #deps: EngineDeps;
  readonly #groups: Groups;
  readonly #deliveries: Deliveries;
  readonly #pumps = new Map<string, Pump>();
  /** Pumps of groups gone or no longer push, finishing the requests they have in flight. */
  readonly #stopping = new Set<Promise<void>>();
  #watch: ReadableStream<Deno.KvEntryMaybe<unknown>[]> | undefined;
  #stopped = false;

  /** Creates the dispatcher; pumps run once {@linkcode start} is called. */
  constructor(deps: EngineDeps, groups: Groups, deliveries: Deliveries) {
    this.#deps = deps;
    this.#groups = groups;
    this.#deliveries = deliveries;
  }

  /** Starts pumps for the push groups and follows changes to groups. */
  async start(): Promise<void> {
    await this.#sync();
    this.#watch = this.#deps.kv.watch([keys.groupsVersion()]);
    (async () => {
      for await (const _ of this.#watch!) {
        if (this.#stopped) break;
        await this.#sync().catch((error) => console.error("push sync failed", error));
      }
    })().catch(() => {});
  }

  /** Stops every pump and waits for requests in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#watch?.cancel().catch(() => {});
    await Promise.all([...this.#pumps.values()].map((pump) => pump.stop()));
    this.#pumps.clear();
    await Promise.all([...this.#stopping]);
  }

  async #sync(): Promise<void> {
    if (this.#stopped) return;
    const push = new Map<string, GroupRecord>();
    for (const group of await this.#groups.list()) {
      if (group.delivery.mode === "push") push.set(group.name, group);
    }
    for (const [name, pump] of this.#pumps) {
      if (!push.has(name)) {
        this.#pumps.delete(name);
        // Not awaited: a slow endpoint's requests in flight (up to its timeout) must not
        // hold up the other groups' pumps, which this same sync starts and reconfigures.
        const stopped = pump.stop().finally(() => this.#stopping.delete(stopped));
        this.#stopping.add(stopped);
      }
    }
    for (const [name, group] of push) {
      const existing = this.#pumps.get(name);
      if (existing) existing.configure(group.delivery as PushConfig);
      else {
        const pump = new Pump(name, group.delivery as PushConfig, this.#deps, this.#deliveries);
        this.#pumps.set(name, pump);
        pump.run();
      }
    }
  }
}

/** One push group's loop. */
class Pump {
  readonly #name: string;
  readonly #deps: EngineDeps;
  readonly #deliveries: Deliveries;
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #config: PushConfig;
  #loop: Promise<void> | undefined;

  constructor(name: string, config: PushConfig, deps: EngineDeps, deliveries: Deliveries) {
    this.#name = name;
    this.#config = config;
    this.#deps = deps;
    this.#deliveries = deliveries;
  }

  configure(config: PushConfig): void {
    this.#config = config;
  }

  run(): void {
    this.#loop = this.#run().catch((error) => {
      if (!this.#abort.signal.aborted) console.error(`push pump ${this.#name} stopped`, error);
    });
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const free = this.#config.maxConcurrency - this.#inFlight.size;
      if (free <= 0) {
        await Promise.race(this.#inFlight);
        continue;
      }
      let messages: ReceivedMessage[];
      try {
        messages = await this.#deliveries.receive(this.#name, {
          max: free,
          waitMs: IDLE_WAIT_MS,
          visibilityTimeoutSeconds: this.#config.timeoutSeconds + PUSH_GRACE_SECONDS,
          signal,
        });
      } catch (error) {
        if (signal.aborted) return;
        console.error(`push pump ${this.#name}: receive failed`, error);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        continue;
      }
      for (const message of messages) {
        const push = this.#push(message).finally(() => this.#inFlight.delete(push));
        this.#inFlight.add(push);
      }
    }
  }

  async #push(message: ReceivedMessage): Promise<void> {
    const { url, secret, timeoutSeconds } = this.#config;
    let error: string | undefined;
    // Through the outbound policy: checked again and pinned, no redirect followed (a 3xx
    // fails the attempt), at most 64 KiB of the answer read, all within the timeout.
    const result = await this.#deps.outbound.send(
      await pushRequest(url, message, secret, this.#deps.clock()),
      { timeoutMs: timeoutSeconds * 1000, field: "delivery.url" },
    );
    if (!result.ok) {
      error = result.timedOut
        ? `no answer within ${timeoutSeconds} s`
        : result.status !== undefined
        ? `endpoint ${result.error}`
        : result.error;
    } else if (result.status < 200 || result.status >= 300) {
      error = `endpoint answered HTTP ${result.status}`;
    }
    if (error !== undefined) {
      // The origin only: a push URL's path or query may carry a token.
      let origin = "an invalid URL";
      try {
        origin = new URL(url).origin;
      } catch { /* kept as is */ }
      this.#deps.logger.warn(
        "push.failed",
        `push of message ${message.messageId} to group ${this.#name} failed (attempt ${message.attempt}): ${error}`,
        {
          messageId: message.messageId,
          group: this.#name,
          attempt: message.attempt,
          origin,
          error,
        },
      );
    }
    try {
      if (error === undefined) await this.#deliveries.ack(this.#name, [message.receiptHandle]);
      else await this.#deliveries.fail(this.#name, [message.receiptHandle], error);
    } catch (cause) {
      // The visibility timeout retries it: nothing is lost.
      console.error(`push pump ${this.#name}: settling ${message.messageId} failed`, cause);
    }
  }
}
