/**
 * The gRPC front: a grpc-js server on `node:http2` (Deno.serve cannot send
 * gRPC trailers) serving `apache.rocketmq.v2.MessagingService` on one port
 * for plaintext and TLS alike, as the RocketMQ proxy's permissive mode: the
 * first byte of a connection tells them apart (0x16 opens a TLS handshake),
 * and the connection is handed to the server with the matching credentials.
 *
 * @module
 */
import * as net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { MAX_BODY_BYTES } from "../domain/names.ts";
import type { Broker } from "../engine/broker.ts";
import { TokenSet } from "../http/auth/token_set.ts";
import { ensureGroup } from "./consumer.ts";
import { messagingService } from "./proto.ts";
import { messagingHandlers } from "./service.ts";
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
}

/** Room for a message's headers and properties above its body. */
const FRAME_SLACK_BYTES = 1024 * 1024;

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
  readonly #server: grpc.Server;
  readonly #listener: net.Server;
  readonly #hub: TelemetryHub;
  readonly #broker: Broker;
  readonly #sockets: Set<net.Socket>;

  private constructor(
    broker: Broker,
    server: grpc.Server,
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
    const server = new grpc.Server({
      "grpc.max_receive_message_length": MAX_BODY_BYTES + FRAME_SLACK_BYTES,
      "grpc.max_send_message_length": -1,
      "grpc.keepalive_permit_without_calls": 1,
    });
    server.addService(
      messagingService(),
      messagingHandlers({
        broker,
        hub,
        tokens: options.tokens ?? new TokenSet(),
        autoCreateGroups,
        ...(options.producerGroup !== undefined ? { producerGroup: options.producerGroup } : {}),
        ...(options.checkAfterSeconds !== undefined
          ? { checkAfterSeconds: options.checkAfterSeconds }
          : {}),
      }),
    );
    const plain = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    // A small rootCerts: without it grpc-js passes the whole system bundle as `ca`, and
    // Deno's node:tls then fails every handshake.
    const tls = options.tls;
    const secureFor = (pair: TlsPair) =>
      server.createConnectionInjector(
        grpc.ServerCredentials.createSsl(Buffer.from(pair.cert), [{
          private_key: Buffer.from(pair.key),
          cert_chain: Buffer.from(pair.cert),
        }], false),
      );
    let secure: Promise<ReturnType<typeof secureFor>> | undefined;
    const secureInjector = tls === undefined
      ? undefined
      : () =>
        secure ??= (typeof tls === "function" ? tls() : Promise.resolve(tls)).then(secureFor)
          .catch((error) => {
            secure = undefined; // the next TLS connection tries again
            throw error;
          });
    const sockets = new Set<net.Socket>();
    const listener = net.createServer({ pauseOnConnect: true }, (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.once("readable", () => {
        const first: Buffer | null = socket.read();
        if (first === null) return socket.destroy();
        socket.unshift(first);
        if (first[0] !== 0x16 || !secureInjector) return plain.injectConnection(socket);
        secureInjector().then(
          (injector) => injector.injectConnection(socket),
          () => socket.destroy(), // no certificate: the handshake cannot be answered
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
    await new Promise<void>((resolve) => this.#server.tryShutdown(() => resolve()));
    this.#server.forceShutdown();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#listener.close(() => resolve()));
  }
}
