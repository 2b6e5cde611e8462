/**
 * The fund company's two scenarios (`deno task demo`) as an end-to-end test,
 * in process and as the command a new user runs: its options, its story (both
 * steps of the purchase named, shortened timings stated next to the defaults,
 * no raw broker log line) and `--keep`.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
  assertStringIncludes,
} from "@std/assert";
import { fromFileUrl } from "@std/path/from-file-url";
import { runDemo } from "../src/demo/main.ts";
import { LogCapture, summarizeCapture } from "../src/demo/log_capture.ts";
import { parseDemoArgs } from "../src/demo/options.ts";
import {
  DEFAULT_CHECK_BACK,
  DEFAULT_RETRIES,
  describeCheckBack,
  describeRetries,
  retryDelays,
} from "../src/demo/settings.ts";

const PROJECT_DIR = fromFileUrl(new URL("../", import.meta.url));
/** The permissions `deno task demo` runs with (deno.json). */
const DEMO_FLAGS = ["--allow-net", "--allow-env", "--allow-read", "--allow-write"];
/** A hang guard for one demo process; it normally ends in a few seconds. */
const PROCESS_DEADLINE_MS = 90_000;

/** Runs `deno task demo ARGS` to the end (bounded) and returns its exit code and output. */
async function demoTask(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "demo", ...args],
    cwd: PROJECT_DIR,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(PROCESS_DEADLINE_MS),
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  // `deno task` announces the command on stderr; that line is Deno's, not the demo's.
  const stderr = decode(output.stderr).split("\n").filter((l) => !l.startsWith("Task demo "))
    .join("\n");
  return { code: output.code, stdout: decode(output.stdout), stderr: stderr.trim() };
}

/** The story with its line wrapping undone, so a phrase is found wherever a line broke. */
const flat = (text: string) => text.replace(/\s+/g, " ");

Deno.test("deno task demo: Accompaniment routing and the four Discount Purchase runs all hold", async () => {
  const report = await runDemo({ quiet: true });
  assertEquals(report.failures, []);
});

Deno.test("the broker's dead-letter log line is captured while the demo runs, and console is put back after", async () => {
  const { warn, error, log } = console;
  const { writeSync } = Deno.stderr;
  const report = await runDemo({ quiet: true });
  const deadLetter = report.brokerLog.filter((line) =>
    line.text.includes(report.runs.consumerBug.messageId)
  );
  assertEquals(deadLetter.length, 1, JSON.stringify(report.brokerLog));
  assert(console.warn === warn && console.error === error && console.log === log);
  assert(Deno.stderr.writeSync === writeSync);
});

Deno.test("a log capture keeps console lines and direct stdout/stderr writes, and restores both", async () => {
  const { warn, error, log } = console;
  const capture = LogCapture.start();
  try {
    console.warn("dead-lettered message M1");
    console.error("push failed", new Error("boom"));
    console.log("info line");
    Deno.stderr.writeSync(new TextEncoder().encode("direct stderr\nhalf "));
    await Deno.stdout.write(new TextEncoder().encode("direct stdout\n"));
    Deno.stderr.writeSync(new TextEncoder().encode("a line"));
  } finally {
    capture.stop();
  }
  assert(console.warn === warn && console.error === error && console.log === log);
  const texts = capture.lines.map((line) => `${line.stream}:${line.text.split("\n")[0]}`);
  assertEquals(texts.filter((t) => !t.startsWith("stderr:    at ")), [
    "stderr:dead-lettered message M1",
    "stderr:push failed Error: boom",
    "stdout:info line",
    "stderr:direct stderr",
    "stdout:direct stdout",
    "stderr:half a line",
  ]);
});

Deno.test("the broker-log summary counts lines by level and event without repeating them", () => {
  assertEquals(summarizeCapture([]), "no lines");
  assertEquals(
    summarizeCapture([
      {
        stream: "stderr",
        via: "error",
        text: "WARN dead-lettered message M1 event=delivery.deadLettered",
      },
      { stream: "stderr", via: "error", text: '{"level":"warn","event":"delivery.deadLettered"}' },
      { stream: "stderr", via: "error", text: "something broke" },
    ]),
    "3 lines (warn delivery.deadLettered ×2, error)",
  );
});

Deno.test("the defaults the demo states are computed from the broker's own retry ladder and check-back constants", () => {
  assertEquals(retryDelays(DEFAULT_RETRIES).reduce((sum, d) => sum + d, 0), 17_140); // 4 h 45 min 40 s
  assertEquals(
    describeRetries(DEFAULT_RETRIES),
    "16 retries from 10 s to 2 h, ≈ 4 h 46 min in all",
  );
  assertEquals(
    describeRetries({ maxRetries: 3, retryDelaysSeconds: [0.2] }),
    "3 retries 0.2 s apart, 0.6 s in all",
  );
  assertEquals(
    describeCheckBack(DEFAULT_CHECK_BACK),
    "first after 6 s, then every 30 s, at most 15 checks",
  );
});

Deno.test("demo options: --help wins, --keep and --broker-log combine, anything else is refused", () => {
  assertEquals(parseDemoArgs([]), { kind: "run", keep: false, brokerLog: false });
  assertEquals(parseDemoArgs(["--keep", "--broker-log"]), {
    kind: "run",
    keep: true,
    brokerLog: true,
  });
  assertEquals(parseDemoArgs(["--keep", "-h"]), { kind: "help" });
  assertEquals(parseDemoArgs(["--fast"]).kind, "invalid");
  assertEquals(parseDemoArgs(["scenario1"]).kind, "invalid");
});

Deno.test("deno task demo --help prints what the demo shows and its options, and exits 0", async () => {
  const { code, stdout, stderr } = await demoTask(["--help"]);
  assertEquals(code, 0, stderr);
  assertStringIncludes(stdout, "Usage: deno task demo");
  for (const phrase of ["wallet recharge", "fund purchase", "--keep", "--broker-log", "--help"]) {
    assertStringIncludes(flat(stdout), phrase);
  }
  assertStringIncludes(flat(stdout), "16 retries from 10 s to 2 h, ≈ 4 h 46 min in all");
  assertNotMatch(stdout, /Scenario 1: Accompaniment \(/, "help must not run the scenarios");
  assertEquals(stderr, "");
});

Deno.test("deno task demo with an unknown option prints usage on stderr and exits 2", async () => {
  const { code, stdout, stderr } = await demoTask(["--fast"]);
  assertEquals(code, 2);
  assertStringIncludes(stderr, 'unknown option "--fast"');
  assertStringIncludes(stderr, "Usage: deno task demo");
  assertEquals(stdout, "");
});

Deno.test("deno task demo reads as one story: both purchase steps named, shortened timings next to the defaults, no raw broker log line", async () => {
  const { code, stdout, stderr } = await demoTask([]);
  assertEquals(code, 0, stdout + stderr);
  assertEquals(stderr, "", "nothing but the story may be printed");
  const story = flat(stdout);
  const scenario2 = story.slice(story.indexOf("Scenario 2: Discount Purchase"));
  // What is shortened, and the defaults, before the first run of the scenario.
  const opening = scenario2.slice(0, scenario2.indexOf("run 1"));
  for (
    const phrase of [
      "step 1, the wallet recharge",
      "step 2, the fund purchase",
      "consumer retries (group fund-purchase): 3 retries 0.2 s apart, 0.6 s in all",
      "default: 16 retries from 10 s to 2 h, ≈ 4 h 46 min in all",
      "check-back (producer group wallet): first after 0.5 s, then every 0.5 s, at most 15 checks",
      "default: first after 6 s, then every 30 s, at most 15 checks",
    ]
  ) assertStringIncludes(opening, phrase);
  // Every run says which step each line is about.
  for (const run of ["run 1", "run 2", "run 3", "run 4"]) {
    assertMatch(scenario2, new RegExp(`${run}, [a-z ]+: wallet recharge`));
    assertMatch(scenario2, new RegExp(`${run}, [a-z ]+: (the |no )?fund purchase`));
  }
  assertNotMatch(stdout, /dead-lettered message/);
  assertNotMatch(stdout, /event=|"level"|^\s*(WARN|ERROR)\b/m);
  assertStringIncludes(story, "the broker's own log while the story ran: 1 line");
  assertMatch(story, /http:\/\/localhost:\d+\/inspect\?transaction=[\w-]+/);
  assertStringIncludes(story, "deno task demo --keep");
});

Deno.test("deno task demo --keep on a port in use says so and exits 1 before running anything", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { code, stdout, stderr } = await demoTask(["--keep"], {
    PORT: String(listener.addr.port),
  });
  assertEquals(code, 1, stdout);
  assertStringIncludes(stderr, `port ${listener.addr.port}: the port is in use`);
  assertNotMatch(stdout, /Scenario 1/);
});

Deno.test("deno task demo --keep keeps serving after the story until it is killed, with links to what it did", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...DEMO_FLAGS, "src/demo/main.ts", "--keep"],
    cwd: PROJECT_DIR,
    env: { PORT: "0" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderrText = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the demo did not get there in time:\n${stdout}`)),
      PROCESS_DEADLINE_MS,
    );
  });
  try {
    while (!flat(stdout).includes("press Ctrl+C to stop it")) {
      const chunk = await Promise.race([reader.read(), deadline]);
      if (chunk.done) {
        throw new Error(`the demo exited instead of staying up:\n${stdout}${await stderrText}`);
      }
      stdout += chunk.value;
    }
    const story = flat(stdout);
    const port = Number(/the broker keeps running on http:\/\/localhost:(\d+)\//.exec(story)?.[1]);
    assert(port > 0, story);
    assertStringIncludes(story, `dashboard: http://localhost:${port}/ `);
    const transactionId = /\/inspect\?transaction=([\w-]+)/.exec(story)?.[1];
    assert(transactionId, story);
    assertStringIncludes(story, "/inspect?message=");

    // The story is over and the broker still answers, about what the demo did.
    const res = await fetch(`http://127.0.0.1:${port}/v1/transactions/${transactionId}`);
    assertEquals(res.status, 200);
    assertEquals((await res.json()).state, "committed");
    const raced = await Promise.race([child.status, Promise.resolve("running")]);
    assertEquals(raced, "running");

    child.kill("SIGTERM");
    const status = await Promise.race([child.status, deadline]);
    const stderr = await stderrText;
    assertEquals(status.code, 0, stderr);
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await reader.cancel().catch(() => {});
    await stderrText.catch(() => "");
    await child.status;
  }
});
