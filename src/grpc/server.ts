/**
 * The gRPC front: a grpc-js server on `node:http2` (Deno.serve cannot send
 * gRPC trailers) serving `apache.rocketmq.v2.MessagingService` on one port
 * for plaintext and TLS alike, as the RocketMQ proxy's permissive mode: the
 * first byte of a connection tells them apart (0x16 opens a TLS handshake),
 * and the connection is handed to the server with the matching credentials.
 * The port listens from start-up; grpc-js and the protocol definition
 * ({@linkcode createMessagingServer}) load at the first connection, so a
 * broker nobody reaches over gRPC does not hold them in memory.
 *
 * @module
 */
import * as net from "node:net";
import type { Broker } from "../engine/broker.ts";
import { TokenSet } from "../http/auth/token_set.ts";
import { ensureGroup } from "./consumer.ts";
import type { Injector, MessagingServer } from "./messaging_server.ts";
import type { ServiceOptions } from "./service.ts";
import { type ProtoSettings, settingsReply } from "./settings.ts";
import { TelemetryHub } from "./telemetry.ts";
import type { TlsPair } from "./tls.ts";

/** Options of {@linkcode GrpcFront.start}. */
export interface GrpcFrontOptions {
  /** TCP port; 0 picks one. @default {8081} */
  readonly port?: number;
  /** Interface to listen on. @default {"0.0.0.0"} */
  readonly hostname?: string;
  /** Tokens clients sign with (MQv2-HMAC-SHA1); none: open. @default {an empty set} */
  readonly tokens?: TokenSet;
  /** Create a consumer group a client names and Escrow lacks. @default {true} */
  readonly autoCreateGroups?: boolean;
  /**
   * Certificate for TLS connections, or a function that makes it, called on
   * the first TLS connection (a self-signed pair costs a 2048-bit RSA key
   * and a certificate library, so a broker nobody reaches over TLS never
   * pays for it); without it only plaintext is served. @default {undefined}
   */
  readonly tls?: TlsPair | (() => Promise<TlsPair>);
  /** Producer group of transactions prepared over gRPC. @default {undefined} */
  readonly producerGroup?: string;
  /** First check-back of a gRPC transaction after this many seconds. @default {6} */
  readonly checkAfterSeconds?: number;
  /**
   * Builds the grpc-js server, called once, at the first connection (tests
   * count the calls). @default {the import of `./messaging_server.ts`}
   */
  readonly loadServer?: (options: ServiceOptions) => Promise<MessagingServer>;
}

/** Imports the grpc-js half of the front and builds its server. */
async function loadMessagingServer(options: ServiceOptions): Promise<MessagingServer> {
  const { createMessagingServer } = await import("./messaging_server.ts");
  return createMessagingServer(options);
}

/**
 * A value made at most once, on first use; a failure is not kept, so the
 * next use tries again.
 */
function onDemand<T>(make: () => Promise<T>): { get(): Promise<T>; readonly made?: Promise<T> } {
  let made: Promise<T> | undefined;
  return {
    get: () =>
      made ??= make().catch((error) => {
        made = undefined;
        throw error;
      }),
    get made() {
      return made;
    },
  };
}

/**
 * The running gRPC front.
 *
 * @example
 * ```ts
 * import { GrpcFront } from "./server.ts";
 * declare const broker: import("../engine/broker.ts").Broker;
 * declare const kv: Deno.Kv;
 * const front = await GrpcFront.start(broker, kv, { port: 0, hostname: "127.0.0.1" });
 * console.log(front.port);
 * await front.close();
 * ```
 */
export class GrpcFront {
  /** The port it listens on. */
  readonly port: number;
  /** Whether TLS connections are served too. */
  readonly tls: boolean;
  readonly #server: { readonly made?: Promise<MessagingServer> };
  readonly #listener: net.Server;
  readonly #hub: TelemetryHub;
  readonly #broker: Broker;
  readonly #sockets: Set<net.Socket>;

  private constructor(
    broker: Broker,
    server: { readonly made?: Promise<MessagingServer> },
    listener: net.Server,
    hub: TelemetryHub,
    tls: boolean,
    sockets: Set<net.Socket>,
  ) {
    this.#sockets = sockets;
    this.#broker = broker;
    this.#server = server;
    this.#listener = listener;
    this.#hub = hub;
    this.tls = tls;
    this.port = (listener.address() as net.AddressInfo).port;
  }

  /** Serves the protocol for `broker` and routes its check-backs to live producers. */
  static async start(
    broker: Broker,
    kv: Deno.Kv,
    options: GrpcFrontOptions = {},
  ): Promise<GrpcFront> {
    const autoCreateGroups = options.autoCreateGroups ?? true;
    const hub = new TelemetryHub(
      broker,
      kv,
      async (_clientId, settings: ProtoSettings, principal) => {
        const name = settings.subscription?.group?.name;
        if (!name) return settingsReply(settings);
        const group = await ensureGroup(
          broker,
          name,
          settings.subscription?.subscriptions ?? [],
          autoCreateGroups,
          principal,
        ).catch(() => undefined); // a receive answers why (CONSUMER_GROUP_NOT_FOUND, a bad filter)
        return settingsReply(settings, group);
      },
    );
    const serviceOptions: ServiceOptions = {
      broker,
      hub,
      tokens: options.tokens ?? new TokenSet(),
      autoCreateGroups,
      ...(options.producerGroup !== undefined ? { producerGroup: options.producerGroup } : {}),
      ...(options.checkAfterSeconds !== undefined
        ? { checkAfterSeconds: options.checkAfterSeconds }
        : {}),
    };
    const load = options.loadServer ?? loadMessagingServer;
    const server = onDemand(() => load(serviceOptions));
    const tls = options.tls;
    const secure = onDemand(async (): Promise<Injector> => {
      const pair = typeof tls === "function" ? await tls() : tls!;
      return (await server.get()).secure(pair);
    });
    const sockets = new Set<net.Socket>();
    const listener = net.createServer({ pauseOnConnect: true }, (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.once("readable", () => {
        const first: Buffer | null = socket.read();
        if (first === null) return socket.destroy();
        socket.unshift(first);
        const injector = first[0] !== 0x16 || tls === undefined
          ? server.get().then((built) => built.plain)
          : secure.get();
        injector.then(
          (chosen) => chosen.inject(socket),
          // No server or no certificate: the connection cannot be answered.
          () => socket.destroy(),
        );
      });
      socket.resume();
      socket.pause();
    });
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(options.port ?? 8081, options.hostname ?? "0.0.0.0", () => resolve());
    });
    hub.start();
    broker.checkBacks.routeLive((request) => hub.route(request));
    return new GrpcFront(broker, server, listener, hub, tls !== undefined, sockets);
  }

  /** Stops serving: open streams end, connections close, check-backs go to URLs again. */
  async close(): Promise<void> {
    this.#broker.checkBacks.routeLive(undefined);
    await this.#hub.close();
    const server = await this.#server.made?.catch(() => undefined);
    await server?.shutdown();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#listener.close(() => resolve()));
  }
}
