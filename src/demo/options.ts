/**
 * The demo's command line: its options, its usage text, and the parse that
 * turns `Deno.args` into what to do. A wrong option is refused, never ignored.
 *
 * @module
 */
import {
  DEFAULT_CHECK_BACK,
  DEFAULT_RETRIES,
  DEMO_CHECK_BACK,
  DEMO_RETRIES,
  describeCheckBack,
  describeRetries,
} from "./settings.ts";

/** What the command line asks for. */
export type DemoCommand =
  | { readonly kind: "help" }
  | { readonly kind: "run"; readonly keep: boolean; readonly brokerLog: boolean }
  | { readonly kind: "invalid"; readonly message: string };

/** Exit status of a wrong command line (as in getopt tools). */
export const USAGE_EXIT_CODE = 2;

/**
 * Reads the demo's arguments.
 *
 * @example
 * ```ts
 * import { parseDemoArgs } from "./options.ts";
 * parseDemoArgs(["--keep"]); // { kind: "run", keep: true, brokerLog: false }
 * parseDemoArgs(["--fast"]).kind; // "invalid"
 * ```
 */
export function parseDemoArgs(args: readonly string[]): DemoCommand {
  let keep = false;
  let brokerLog = false;
  for (const arg of args) {
    if (arg === "-h" || arg === "--help") return { kind: "help" };
    else if (arg === "--keep") keep = true;
    else if (arg === "--broker-log") brokerLog = true;
    else {
      const what = arg.startsWith("-") ? "unknown option" : "unexpected argument";
      return { kind: "invalid", message: `Cannot run the demo: ${what} "${arg}"` };
    }
  }
  return { kind: "run", keep, brokerLog };
}

/**
 * The usage text `--help` prints: what the demo shows, what it shortens, its
 * options and exit status.
 *
 * @example
 * ```ts
 * import { usage } from "./options.ts";
 * console.log(usage());
 * ```
 */
export function usage(): string {
  return `Usage: deno task demo [--keep] [--broker-log]
       deno task demo --help

Runs the fund company's two scenarios end to end against an Escrow broker on a
temporary database (served on 127.0.0.1), narrating every step and checking it.

  Scenario 1, Accompaniment: investment-service events on one topic, routed by
    tag (Ops, CS, Orchestration) to five subsystems, each getting exactly its own.
  Scenario 2, Discount Purchase: two steps joined by one transactional message,
    the wallet recharge (a local transaction in the wallet system) and the fund
    purchase (the message the trading system consumes), four ways: success, local
    failure, a wallet crash answered by check-back, and a consumer bug that ends
    in the dead-letter queue and is redriven after the fix.

Scenario 2 shortens the broker's timings so that it ends in seconds, and says so:
  consumer retries: ${describeRetries(DEMO_RETRIES)}
    (default: ${describeRetries(DEFAULT_RETRIES)})
  check-back: ${describeCheckBack(DEMO_CHECK_BACK)}
    (default: ${describeCheckBack(DEFAULT_CHECK_BACK)})

Options:
  --keep        after the scenarios, leave the broker running on
                http://localhost:$PORT/ (PORT from the environment, 8000 by
                default, 0 for any free port) and print links to the dashboard
                and the inspector for what the demo did; Ctrl+C stops it
  --broker-log  after the story, print the broker's own log lines (they are
                kept out of the narration and only counted)
  -h, --help    print this help and exit

Exit status: 0 when every check held, 1 when one failed, ${USAGE_EXIT_CODE} for a wrong option.
`;
}
