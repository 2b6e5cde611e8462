/**
 * A child process for the TLS test: the official client with `sslEnabled`
 * sends one message to the endpoint in `Deno.args[0]` and prints its
 * message id. Run with `GRPC_DEFAULT_SSL_ROOTS_FILE_PATH` naming the
 * broker's self-signed certificate (the client verifies against grpc-js's
 * default roots, which that variable replaces).
 *
 * @module
 */
import { Producer } from "rocketmq-client-nodejs";
import { QUIET_LOGGER } from "./_front.ts";

const producer = new Producer({
  endpoints: Deno.args[0]!,
  sslEnabled: true,
  logger: QUIET_LOGGER,
  maxAttempts: 1,
} as never);
await producer.startup();
const receipt = await producer.send({ topic: "Trade", body: Buffer.from("over tls") } as never);
console.log(JSON.stringify({ messageId: receipt.messageId }));
await producer.shutdown();
Deno.exit(0);
