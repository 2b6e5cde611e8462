/**
 * The grpc-js half of the gRPC front: the `MessagingService` server and the
 * connection injectors that hand it sockets, plaintext or TLS. This module
 * pulls in grpc-js, protobuf.js and the parsed `.proto` files (about 5 MB
 * of heap and 15 MB of resident memory), so {@linkcode GrpcFront} imports
 * it at the first connection, not at start-up.
 *
 * @module
 */
import type { Duplex } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { MAX_BODY_BYTES } from "../domain/names.ts";
import { messagingService } from "./proto.ts";
import { messagingHandlers, type ServiceOptions } from "./service.ts";
import type { TlsPair } from "./tls.ts";

/** Room for a message's headers and properties above its body. */
const FRAME_SLACK_BYTES = 1024 * 1024;

/** Takes a connection a listener accepted and serves the protocol on it. */
export interface Injector {
  /** Serves gRPC on `connection` (its first bytes already read back with `unshift`). */
  inject(connection: Duplex): void;
}

/** A running `MessagingService` server fed by injected connections. */
export interface MessagingServer {
  /** Serves plaintext (h2c) connections. */
  readonly plain: Injector;
  /** Serves TLS connections with the certificate `pair`. */
  secure(pair: TlsPair): Injector;
  /** Ends open calls gracefully, then closes every connection. */
  shutdown(): Promise<void>;
}

/**
 * Builds the server over the service's handlers.
 *
 * @example
 * ```ts
 * import { createMessagingServer } from "./messaging_server.ts";
 * declare const options: import("./service.ts").ServiceOptions;
 * const server = createMessagingServer(options);
 * await server.shutdown();
 * ```
 */
export function createMessagingServer(options: ServiceOptions): MessagingServer {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_BODY_BYTES + FRAME_SLACK_BYTES,
    "grpc.max_send_message_length": -1,
    "grpc.keepalive_permit_without_calls": 1,
  });
  server.addService(messagingService(), messagingHandlers(options));
  const injector = (credentials: grpc.ServerCredentials): Injector => {
    const made = server.createConnectionInjector(credentials);
    return { inject: (connection) => made.injectConnection(connection) };
  };
  return {
    plain: injector(grpc.ServerCredentials.createInsecure()),
    // A small rootCerts: without it grpc-js passes the whole system bundle as `ca`, and
    // Deno's node:tls then fails every handshake.
    secure: (pair) =>
      injector(grpc.ServerCredentials.createSsl(Buffer.from(pair.cert), [{
        private_key: Buffer.from(pair.key),
        cert_chain: Buffer.from(pair.cert),
      }], false)),
    shutdown: async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
    },
  };
}
