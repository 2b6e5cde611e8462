/**
 * The RocketMQ 5 protocol definition (`apache.rocketmq.v2`), loaded from the
 * `.proto` files the official Node.js client package ships, so the server
 * speaks exactly what that client was built against and no copy of the
 * protocol lives in this repository.
 *
 * @module
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";

/** How messages are turned into JS objects: camelCase fields, enums as names, int64 as numbers. */
export const LOADER_OPTIONS: loader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
};

/**
 * The folder holding `apache/rocketmq/v2/*.proto` (inside the pinned
 * `rocketmq-client-nodejs` package).
 *
 * @example
 * ```ts
 * import { protoRoot } from "./proto.ts";
 * console.log(protoRoot());
 * ```
 */
export function protoRoot(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("rocketmq-client-nodejs/package.json")), "proto");
}

let cached: grpc.ServiceDefinition | undefined;

/**
 * The `MessagingService` definition, loaded once.
 *
 * @example
 * ```ts
 * import { messagingService } from "./proto.ts";
 * console.log(Object.keys(messagingService()).includes("SendMessage")); // true
 * ```
 */
export function messagingService(): grpc.ServiceDefinition {
  if (cached) return cached;
  const definition = loader.loadSync("apache/rocketmq/v2/service.proto", {
    ...LOADER_OPTIONS,
    includeDirs: [protoRoot()],
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    apache: { rocketmq: { v2: { MessagingService: grpc.ServiceClientConstructor } } };
  };
  cached = pkg.apache.rocketmq.v2.MessagingService.service;
  return cached;
}
