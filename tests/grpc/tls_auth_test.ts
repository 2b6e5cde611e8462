import { assertEquals, assertMatch, assertRejects } from "@std/assert";
import { join } from "@std/path";
import { Producer, SimpleConsumer } from "rocketmq-client-nodejs";
import { loadCertificate } from "../../src/grpc/mod.ts";
import { TokenSet } from "../../src/http/auth/token_set.ts";
import { kvSnapshot } from "../http/_helpers.ts";
import { PROJECT_DIR } from "../_process.ts";
import { CLIENT_TEST, QUIET_LOGGER, startFront } from "./_front.ts";

Deno.test({
  name:
    "one port serves TLS (the official client with sslEnabled) and plaintext; the certificate is loaded at the first TLS connection",
  ...CLIENT_TEST,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "escrow_grpc_tls_" });
    try {
      const tls = await loadCertificate({ dataDir: dir });
      assertEquals(await loadCertificate({ dataDir: dir }), tls); // made once, then kept
      let loads = 0;
      await using live = await startFront({
        tls: () => {
          loads++;
          return loadCertificate({ dataDir: dir });
        },
      });
      await live.broker.topics.create("Trade");
      const plain = live.track(
        new Producer({ endpoints: live.endpoints, logger: QUIET_LOGGER } as never),
      );
      await plain.startup();
      const overPlain = await plain.send({ topic: "Trade", body: Buffer.from("plain") } as never);
      assertEquals(loads, 0); // plaintext alone never loads (or makes) a certificate
      const child = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "tests/grpc/_tls_client.ts",
          `localhost:${live.front.port}`,
        ],
        cwd: PROJECT_DIR,
        // The Node client verifies against grpc-js's default roots: this file stands for them.
        env: { GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: join(dir, "grpc-selfsigned.crt") },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(child.stdout);
      assertEquals(child.code, 0, new TextDecoder().decode(child.stderr));
      const { messageId } = JSON.parse(out.trim().split("\n").pop()!);
      assertEquals(loads, 1); // the TLS client's connections share one load
      const ids = [overPlain.messageId, messageId];
      for (const id of ids) assertEquals((await live.broker.messages.get(id)).topic, "Trade");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "with tokens, MQv2-HMAC-SHA1 credentials are required: a wrong secret is refused",
  ...CLIENT_TEST,
  async fn() {
    const tokens = TokenSet.of([
      { name: "wallet", token: "w-secret", permissions: ["publish:Trade"] },
      { name: "reader", token: "r-secret", permissions: ["read"] },
    ]);
    await using live = await startFront({ tokens });
    await live.broker.topics.create("Trade");
    const producer = (accessKey: string, accessSecret: string) =>
      live.track(
        new Producer({
          endpoints: live.endpoints,
          logger: QUIET_LOGGER,
          maxAttempts: 1,
          sessionCredentials: { accessKey, accessSecret },
        } as never),
      );
    const good = producer("wallet", "w-secret");
    await good.startup();
    const receipt = await good.send({ topic: "Trade", body: Buffer.from("signed") } as never);
    assertEquals((await live.broker.messages.get(receipt.messageId)).topic, "Trade");

    const state = async () =>
      (await kvSnapshot(live.kv)).filter((line) => !line.includes('"grpc_'));
    const before = await state();
    const wrong = producer("wallet", "not-the-secret");
    const refused = await assertRejects(() =>
      wrong.startup().then(() =>
        wrong.send({ topic: "Trade", body: Buffer.from("forged") } as never)
      )
    );
    assertMatch(String(refused), /40100|UNAUTHORIZED|signature/i);
    const anonymous = live.track(
      new Producer({ endpoints: live.endpoints, logger: QUIET_LOGGER, maxAttempts: 1 } as never),
    );
    await assertRejects(() =>
      anonymous.startup().then(() =>
        anonymous.send({ topic: "Trade", body: Buffer.from("anonymous") } as never)
      )
    );
    const reader = producer("reader", "r-secret");
    const forbidden = await assertRejects(() =>
      reader.startup().then(() =>
        reader.send({ topic: "Trade", body: Buffer.from("not allowed") } as never)
      )
    );
    assertMatch(String(forbidden), /40300|FORBIDDEN|permission/i);
    assertEquals(await state(), before);
  },
});

Deno.test({
  name:
    "over gRPC as over HTTP, creating a consumer group takes admin; consuming an existing one, consume",
  ...CLIENT_TEST,
  async fn() {
    const tokens = TokenSet.of([
      { name: "auditor", token: "a-secret", permissions: ["consume:audit", "consume:other"] },
    ]);
    await using live = await startFront({ tokens });
    await live.broker.topics.create("Trade");
    await live.broker.groups.put("audit", { subscriptions: [{ topic: "Trade" }] });
    const consumer = (group: string) =>
      live.track(
        new SimpleConsumer({
          endpoints: live.endpoints,
          namespace: "",
          consumerGroup: group,
          subscriptions: new Map([["Trade", "*"]]),
          awaitDuration: 500,
          logger: QUIET_LOGGER,
          sessionCredentials: { accessKey: "auditor", accessSecret: "a-secret" },
        }),
      );
    const allowed = consumer("audit");
    await allowed.startup();
    assertEquals(await allowed.receive(1, 10_000), []);
    const creating = consumer("other");
    await creating.startup();
    const refused = await assertRejects(() => creating.receive(1, 10_000));
    assertMatch(String(refused), /40300|FORBIDDEN|lacks admin/);
    assertEquals((await live.broker.groups.list()).map((g) => g.name), ["audit"]);
  },
});
