/**
 * Telemetry: the bidirectional stream every RocketMQ client opens. The
 * client sends its `Settings` and waits for the server's; the server pushes
 * commands on it, here `RecoverOrphanedTransactionCommand`, RocketMQ's
 * check-back. Live producers are registered in KV per topic (expiring
 * unless refreshed), and a check-back for a topic is written to the inbox
 * of the instance holding one of its producers, which pushes it: so a
 * producer connected to any instance answers the check-backs of its topic.
 *
 * @module
 */
import type * as grpc from "@grpc/grpc-js";
import { monotonicUlid } from "@std/ulid";
import type { CheckBackRequest } from "../engine/transactions/mod.ts";
import { grants, scoped } from "../http/auth/permission.ts";
import type { Principal } from "../http/auth/token_set.ts";
import type { Broker } from "../engine/broker.ts";
import { grpcKeys } from "./keys.ts";
import { bodyBytes, toProtoMessage } from "./message.ts";
import type { ProtoSettings } from "./settings.ts";
import { status } from "./status.ts";

/** How long a producer's registration lives without a refresh. */
const PRESENCE_MS = 60_000;
/** How often live registrations are refreshed, and the inbox swept without a wake-up. */
const REFRESH_MS = 20_000;
const SWEEP_MS = 2_000;
/**
 * How long an instance counts as alive after its last beat, and how often it
 * beats: a producer registered by an instance that died (kill -9) is skipped
 * once its instance's beat is this old, so check-backs find a live one.
 */
const ALIVE_MS = 4_000;
const BEAT_MS = 1_000;

/** One client's open stream. */
interface Session {
  readonly clientId: string;
  readonly call: grpc.ServerDuplexStream<unknown, unknown>;
  settings?: ProtoSettings;
  readonly topics: Set<string>;
  readonly principal: Principal;
}

/** What the hub asks of its owner when a client sends its settings. */
export type SettingsHandler = (
  clientId: string,
  settings: ProtoSettings,
  principal: Principal,
) => Promise<ProtoSettings>;

/** A waiting check-back. */
interface InboxEntry {
  readonly clientId: string;
  readonly request: CheckBackRequest;
}

/**
 * The open Telemetry streams of this instance.
 *
 * @example
 * ```ts
 * import { TelemetryHub } from "./telemetry.ts";
 * declare const broker: import("../engine/broker.ts").Broker;
 * declare const kv: Deno.Kv;
 * const hub = new TelemetryHub(broker, kv, async (_id, settings) => settings);
 * hub.start();
 * broker.checkBacks.routeLive((request) => hub.route(request));
 * await hub.close();
 * ```
 */
export class TelemetryHub {
  /** This instance, as inboxes name it. */
  readonly instance: string = monotonicUlid();
  readonly #broker: Broker;
  readonly #kv: Deno.Kv;
  readonly #onSettings: SettingsHandler;
  readonly #sessions = new Map<string, Session>();
  readonly #stop = new AbortController();
  #timers: ReturnType<typeof setInterval>[] = [];
  #watch: ReadableStream<Deno.KvEntryMaybe<unknown>[]> | undefined;
  #draining: Promise<void> = Promise.resolve();

  /** Creates the hub; {@linkcode start} begins serving inboxes. */
  constructor(broker: Broker, kv: Deno.Kv, onSettings: SettingsHandler) {
    this.#broker = broker;
    this.#kv = kv;
    this.#onSettings = onSettings;
  }

  /** Starts watching this instance's inbox and refreshing registrations. */
  start(): void {
    this.#timers.push(setInterval(() => void this.#refresh(), REFRESH_MS));
    this.#timers.push(setInterval(() => this.#drainSoon(), SWEEP_MS));
    void this.#beat();
    this.#timers.push(setInterval(() => void this.#beat(), BEAT_MS));
    this.#watch = this.#kv.watch([grpcKeys.wake(this.instance)]);
    void (async () => {
      try {
        for await (const _ of this.#watch!) {
          if (this.#stop.signal.aborted) break;
          this.#drainSoon();
        }
      } catch { /* the KV closed */ }
    })();
  }

  /** Ends every stream and stops; registrations are removed. */
  async close(): Promise<void> {
    this.#stop.abort();
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await this.#watch?.cancel().catch(() => {});
    await this.#kv.delete(grpcKeys.instance(this.instance)).catch(() => {});
    for (const session of [...this.#sessions.values()]) {
      await this.#forget(session);
      session.call.end();
    }
    await this.#draining;
  }

  /** The settings a client last sent, if its stream is open here. */
  settingsOf(clientId: string): ProtoSettings | undefined {
    return this.#sessions.get(clientId)?.settings;
  }

  /** Serves one Telemetry stream. */
  attach(call: grpc.ServerDuplexStream<unknown, unknown>, principal: Principal): void {
    const clientId = String(call.metadata.get("x-mq-client-id")[0] ?? "");
    if (clientId === "") {
      call.write({
        status: status("CLIENT_ID_REQUIRED", "Cannot open telemetry: no x-mq-client-id"),
      });
      call.end();
      return;
    }
    const previous = this.#sessions.get(clientId);
    const session: Session = {
      clientId,
      call,
      principal,
      topics: new Set(previous?.topics ?? []),
    };
    this.#sessions.set(clientId, session);
    call.on("data", (command: { settings?: ProtoSettings }) => {
      if (!command.settings) return; // results of commands the server never sends
      void this.#settings(session, command.settings);
    });
    const done = () => {
      if (this.#sessions.get(clientId) === session) {
        this.#sessions.delete(clientId);
        void this.#forget(session);
      }
    };
    call.on("end", () => {
      done();
      call.end();
    });
    call.on("error", done);
    call.on("cancelled", done);
  }

  /** A producer that sends on `topic` answers its check-backs too. */
  async noteTopic(clientId: string, topic: string): Promise<void> {
    const session = this.#sessions.get(clientId);
    if (!session || session.topics.has(topic)) return;
    session.topics.add(topic);
    await this.#register(session, topic);
  }

  /**
   * Hands a check-back to a live producer of its topic (on any instance,
   * through that instance's KV inbox); false when there is none.
   */
  async route(request: CheckBackRequest): Promise<boolean> {
    const live: { clientId: string; instance: string }[] = [];
    for await (
      const entry of this.#kv.list<{ instance: string }>({
        prefix: grpcKeys.producersOf(request.topic),
      })
    ) {
      live.push({ clientId: entry.key[2] as string, instance: entry.value.instance });
    }
    const beats = await this.#aliveInstances(live.map((p) => p.instance));
    const alive = live.filter((p) => beats.has(p.instance));
    if (alive.length === 0) return false;
    const chosen = alive[Math.floor(Math.random() * alive.length)]!;
    const entry: InboxEntry = { clientId: chosen.clientId, request };
    const result = await this.#kv.atomic()
      .set(grpcKeys.inbox(chosen.instance, monotonicUlid()), entry, { expireIn: PRESENCE_MS })
      .set(grpcKeys.wake(chosen.instance), monotonicUlid(), { expireIn: PRESENCE_MS })
      .commit();
    return result.ok;
  }

  /** Which of `instances` beat recently (an expired KV entry may still be read: the time decides). */
  async #aliveInstances(instances: readonly string[]): Promise<Set<string>> {
    const unique = [...new Set(instances)];
    const alive = new Set<string>();
    const now = Date.now();
    for (let i = 0; i < unique.length; i += 10) {
      const slice = unique.slice(i, i + 10);
      const entries = await this.#kv.getMany<{ aliveUntil: number }[]>(
        slice.map((id) => grpcKeys.instance(id)),
      );
      entries.forEach((entry, index) => {
        if (entry.value && entry.value.aliveUntil > now) alive.add(slice[index]!);
      });
    }
    return alive;
  }

  async #beat(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    await this.#kv.set(grpcKeys.instance(this.instance), { aliveUntil: Date.now() + ALIVE_MS }, {
      expireIn: ALIVE_MS * 2,
    }).catch(() => {});
  }

  async #settings(session: Session, settings: ProtoSettings): Promise<void> {
    session.settings = settings;
    try {
      const reply = await this.#onSettings(session.clientId, settings, session.principal);
      session.call.write({ status: status("OK"), settings: reply });
    } catch (error) {
      session.call.write({
        status: status("INTERNAL_ERROR", `Cannot apply settings: ${(error as Error).message}`),
        settings,
      });
    }
    // Only a producer that may publish on a topic is sent its check-backs (they carry bodies).
    for (const topic of settings.publishing?.topics ?? []) {
      if (!topic.name || session.topics.has(topic.name)) continue;
      if (grants(session.principal.permissions, scoped("publish", topic.name))) {
        session.topics.add(topic.name);
      }
    }
    if (settings.publishing) {
      for (const topic of session.topics) await this.#register(session, topic);
    }
  }

  async #register(session: Session, topic: string): Promise<void> {
    if (this.#sessions.get(session.clientId) !== session) return;
    await this.#kv.set(grpcKeys.producer(topic, session.clientId), { instance: this.instance }, {
      expireIn: PRESENCE_MS,
    }).catch(() => {});
  }

  async #forget(session: Session): Promise<void> {
    for (const topic of session.topics) {
      await this.#kv.delete(grpcKeys.producer(topic, session.clientId)).catch(() => {});
    }
  }

  async #refresh(): Promise<void> {
    for (const session of this.#sessions.values()) {
      if (!session.settings?.publishing) continue;
      for (const topic of session.topics) await this.#register(session, topic);
    }
  }

  #drainSoon(): void {
    this.#draining = this.#draining.then(() => this.#drain()).catch(() => {});
  }

  /** Pushes every waiting check-back of this instance to its producer's stream. */
  async #drain(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    for await (
      const entry of this.#kv.list<InboxEntry>({ prefix: grpcKeys.inboxOf(this.instance) })
    ) {
      await this.#kv.delete(entry.key);
      const session = this.#sessions.get(entry.value.clientId);
      if (!session) continue; // gone: the next check-back finds another producer or the URL
      const { request } = entry.value;
      const view = await this.#broker.messages.get(request.messageId).catch(() => undefined);
      if (!view) continue;
      session.call.write({
        recoverOrphanedTransactionCommand: {
          transactionId: request.transactionId,
          message: toProtoMessage({
            messageId: view.messageId,
            topic: view.topic,
            keys: view.keys,
            properties: view.properties,
            body: bodyBytes(view),
            bornAt: view.storedAt,
            transactionId: request.transactionId,
            ...(view.tag !== undefined ? { tag: view.tag } : {}),
            ...(view.messageGroup !== undefined ? { messageGroup: view.messageGroup } : {}),
          }),
        },
      });
    }
  }
}
