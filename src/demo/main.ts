/**
 * `deno task demo`: the fund company's two scenarios, narrated, against a
 * broker on a temporary KV. The broker runs in this process, so its log lines
 * are captured while the story is told and only counted at the end
 * (`--broker-log` prints them); `--keep` leaves the broker serving afterwards
 * so the dashboard and the inspector can show what the demo did. Exits 0 only
 * when every check holds (see `--help`).
 *
 * @module
 */
import { readConfig } from "../config.ts";
import { runAccompaniment } from "./accompaniment.ts";
import {
  type DiscountPurchaseRuns,
  FUND_PURCHASE_GROUP,
  runDiscountPurchase,
} from "./discount_purchase.ts";
import { type DemoBroker, Narrator, startDemoBroker } from "./harness.ts";
import { type CapturedLine, LogCapture, summarizeCapture } from "./log_capture.ts";
import { parseDemoArgs, usage, USAGE_EXIT_CODE } from "./options.ts";

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  /** Print nothing; only collect the checks. @default {false} */
  readonly quiet?: boolean;
  /** Port of the broker on 127.0.0.1 (0: any free one). @default {0} */
  readonly port?: number;
  /** Leave the broker running: the report's `broker` is then the caller's to dispose. @default {false} */
  readonly keep?: boolean;
}

/** What a run of the demo found. */
export interface DemoReport {
  /** The checks that failed; empty when every check held. */
  readonly failures: readonly string[];
  /** What the broker (and anything else but the narrator) printed while the story ran. */
  readonly brokerLog: readonly CapturedLine[];
  /** The Discount Purchase's runs, for links. */
  readonly runs: DiscountPurchaseRuns;
  /** Where the broker served. */
  readonly url: string;
  /** The port it served on. */
  readonly port: number;
  /** The broker, still running, with `keep`. */
  readonly broker?: DemoBroker;
  /** The narrator, to go on telling after the story. */
  readonly narrator: Narrator;
}

/**
 * Runs both scenarios on a fresh broker with its log captured; returns what
 * failed, what the broker logged and the runs' ids.
 *
 * @example
 * ```ts
 * import { runDemo } from "./main.ts";
 * const report = await runDemo({ quiet: true });
 * console.log(report.failures.length === 0);
 * ```
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const capture = LogCapture.start();
  const narrator = new Narrator({ quiet: options.quiet ?? false, write: capture.write });
  let broker: DemoBroker | undefined;
  try {
    broker = await startDemoBroker({ port: options.port ?? 0 });
    narrator.line(
      "Escrow demo: a fund company's two scenarios, narrated and checked (--help says more)",
    );
    narrator.step(`broker running at ${broker.url} on a temporary database`);
    await runAccompaniment(broker.client, narrator);
    const runs = await runDiscountPurchase(broker.client, narrator);
    const { url, port } = broker;
    if (!options.keep) {
      // Inside the capture: whatever the broker logs while stopping stays out of the story.
      await broker[Symbol.asyncDispose]();
      broker = undefined;
    }
    capture.stop();
    return {
      failures: narrator.failures,
      brokerLog: capture.lines,
      runs,
      url,
      port,
      narrator,
      ...(broker ? { broker } : {}),
    };
  } catch (error) {
    capture.stop();
    // The demo broke: what the broker logged is the evidence, so it is shown, not counted.
    for (const line of capture.lines) console.error(`broker log: ${line.text}`);
    if (broker) await broker[Symbol.asyncDispose]();
    throw error;
  }
}

/**
 * The links that show what the demo did: the dashboard, and the inspector on
 * the purchases' transactions and on the redriven delivery.
 *
 * @example
 * ```ts
 * import { inspectionLinks } from "./main.ts";
 * const run = { transactionId: "T", messageId: "M" };
 * const runs = { success: run, localFailure: run, walletCrash: run, consumerBug: run };
 * inspectionLinks("http://localhost:8000", runs)[0]; // ["dashboard", "http://localhost:8000/"]
 * ```
 */
export function inspectionLinks(
  base: string,
  runs: DiscountPurchaseRuns,
): [what: string, url: string][] {
  const tx = (id: string) => `${base}/inspect?transaction=${encodeURIComponent(id)}`;
  return [
    ["dashboard", `${base}/`],
    ["inspector, run 1 (success): the purchase's transaction", tx(runs.success.transactionId)],
    [
      "inspector, run 3 (wallet crash): the transaction check-back committed",
      tx(runs.walletCrash.transactionId),
    ],
    [
      "inspector, run 4 (consumer bug): the fund purchase's retries, dead letter and redrive",
      `${base}/inspect?message=${encodeURIComponent(runs.consumerBug.messageId)}&group=${
        encodeURIComponent(FUND_PURCHASE_GROUP)
      }`,
    ],
  ];
}

/** Runs the command line; returns the exit status. */
async function cli(args: readonly string[]): Promise<number> {
  const command = parseDemoArgs(args);
  if (command.kind === "help") {
    console.log(usage());
    return 0;
  }
  if (command.kind === "invalid") {
    console.error(`${command.message}\n\n${usage()}`);
    return USAGE_EXIT_CODE;
  }
  let keepPort = 8000;
  try {
    keepPort = readConfig({ PORT: Deno.env.get("PORT") }).port;
  } catch (error) {
    if (command.keep) {
      console.error(error instanceof Error ? error.message : String(error));
      return USAGE_EXIT_CODE;
    }
  }
  let report: DemoReport;
  try {
    report = await runDemo(command.keep ? { keep: true, port: keepPort } : {});
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      console.error(
        `Cannot keep the demo's broker on port ${keepPort}: the port is in use. ` +
          "Set PORT to another port, or PORT=0 for any free one.",
      );
      return 1;
    }
    throw error;
  }
  const { narrator, failures, brokerLog } = report;
  narrator.section("Result");
  if (failures.length === 0) narrator.step("every check held");
  else {
    narrator.step(`${failures.length} ${failures.length === 1 ? "check" : "checks"} failed:`);
    for (const failure of failures) narrator.note(`✗ ${failure}`);
  }
  if (command.brokerLog) {
    narrator.step(`the broker's own log while the story ran: ${summarizeCapture(brokerLog)}`);
    for (const line of brokerLog) narrator.verbatim(line.text);
  } else {
    narrator.step(
      `the broker's own log while the story ran: ${
        summarizeCapture(brokerLog)
      }, kept out of the story (--broker-log prints them)`,
    );
  }

  const base = `http://localhost:${command.keep ? report.port : keepPort}`;
  narrator.section("See what the demo did");
  const links = inspectionLinks(base, report.runs);
  for (const [what, url] of links) {
    narrator.step(`${what}:`);
    narrator.note(url);
  }
  const code = failures.length === 0 ? 0 : 1;
  if (!report.broker) {
    narrator.note(
      "this run's broker has stopped and its temporary database is gone, so these links no " +
        `longer open; \`deno task demo --keep\` leaves the broker running on port ${keepPort} ` +
        "and ends with links for its own run",
    );
    return code;
  }
  narrator.note(
    `the broker keeps running on ${base}/ (also ${report.url}); press Ctrl+C to stop it`,
  );
  narrator.note("its own log lines follow from here");
  await untilSignal();
  await report.broker[Symbol.asyncDispose]();
  return code;
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
function untilSignal(): Promise<void> {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  return new Promise((resolve) => {
    const first = () => {
      for (const signal of signals) Deno.removeSignalListener(signal, first);
      // Added on the next turn: a listener added while this signal is dispatched would run now.
      setTimeout(() => {
        for (const signal of signals) Deno.addSignalListener(signal, () => Deno.exit(130));
      }, 0);
      resolve();
    };
    for (const signal of signals) Deno.addSignalListener(signal, first);
  });
}

if (import.meta.main) {
  Deno.exit(await cli(Deno.args));
}
