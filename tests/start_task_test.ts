/**
 * `deno task start` itself, with the permissions `deno.json` gives it: the
 * broker comes up with its HTTP API and its RocketMQ gRPC front (which needs
 * `--allow-sys`), and stops on SIGTERM.
 */
import { assertStringIncludes } from "@std/assert";
import { PROJECT_DIR } from "./_process.ts";

Deno.test("deno task start serves HTTP and gRPC with the task's own permissions", async () => {
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: PROJECT_DIR,
    env: {
      PORT: "0",
      HOSTNAME: "127.0.0.1",
      ESCROW_KV_PATH: `${dir}/escrow.kv`,
      ESCROW_GRPC_PORT: "0",
      NO_COLOR: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let output = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += decoder.decode(chunk);
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const deadline = Date.now() + 30_000;
  while (!output.includes("Escrow listening") && Date.now() < deadline) {
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 100)),
    ]);
    if (exited) break;
  }
  try {
    child.kill("SIGTERM");
  } catch {
    // it has exited already: the assertions below say why
  }
  await child.status;
  await drained;
  await Deno.remove(dir, { recursive: true });
  assertStringIncludes(output, "RocketMQ gRPC endpoint: 127.0.0.1:");
  assertStringIncludes(output, "Escrow listening on http://127.0.0.1:");
});
