/**
 * The side-by-side report of Escrow and its peer (NATS JetStream) measured in
 * the same run: for each headline figure Escrow's median, the peer's median,
 * their ratio (Escrow / peer, the median of each run's own ratio, so both
 * sides of a ratio come from the same run), the target of issue 10 and
 * whether it is met. It also names the peer's verification counts, which
 * join the main table.
 *
 * @module
 */
import type { Metrics } from "../phase.ts";
import { formatNumber, loadCheckRow, loadCheckRows, type RowSpec } from "../report.ts";
import { metricPrefix } from "../phase.ts";
import type { ClientKind } from "../protocol.ts";
import { median } from "../stats.ts";

/** A comparison's goal: a bound on the ratio Escrow / peer, or on Escrow's own figure. */
export type ComparisonTarget =
  | { readonly ratioAtMost: number }
  | { readonly ratioAtLeast: number }
  | { readonly escrowAtMost: number; readonly unit: string };

/** One figure measured on both sides. */
export interface ComparisonSpec {
  readonly label: string;
  /** Escrow's metric. */
  readonly escrowKey: string;
  /** The peer's metric. */
  readonly peerKey: string;
  readonly digits: number;
  readonly target?: ComparisonTarget;
}

/** A rendered comparison. */
export interface ComparisonRow {
  readonly label: string;
  readonly escrow: string;
  readonly peer: string;
  /** Escrow / peer, two decimals ("n/a" when a side is missing). */
  readonly ratio: string;
  readonly target: string;
  /** "ok", "MISS", "n/a" (a side is missing) or "" without a target. */
  readonly status: string;
  /** Each run's ratio. */
  readonly runs: string;
}

/**
 * Issue 10's comparisons with NATS JetStream, for an open-loop latency phase
 * at `rate` msg/s, with Escrow's publish, fan-out and latency figures of
 * `client`'s way of talking to it (tx, RSS: the one tx phase, all phases).
 *
 * @example
 * ```ts
 * import { natsComparisons } from "./compare.ts";
 * console.log(natsComparisons(1000)[0]!.peerKey); // "nats.e2e.seconds"
 * ```
 */
export function natsComparisons(rate: number, client: ClientKind = "http"): ComparisonSpec[] {
  const at = `at ${rate.toLocaleString("en-US")} msg/s`;
  const way = (phase: string) => metricPrefix(client, phase);
  return [
    {
      label: "fan-out: first publish → all acked (s)",
      escrowKey: `${way("e2e")}.seconds`,
      peerKey: "nats.e2e.seconds",
      digits: 2,
      target: { ratioAtMost: 0.5 },
    },
    {
      label: "confirmed publish msg/s",
      escrowKey: `${way("publish")}.msgPerSec`,
      peerKey: "nats.publish.msgPerSec",
      digits: 0,
      target: { ratioAtLeast: 1.5 },
    },
    {
      label: `p99 publish → receipt ${at} (ms)`,
      escrowKey: `${way("latency")}.p99Ms`,
      peerKey: "nats.latency.p99Ms",
      digits: 2,
      target: { ratioAtMost: 1 },
    },
    {
      label: `p50 publish → receipt ${at} (ms)`,
      escrowKey: `${way("latency")}.p50Ms`,
      peerKey: "nats.latency.p50Ms",
      digits: 2,
    },
    {
      label: "tx msg/s (Escrow prepare+commit; NATS Nats-Msg-Id publish)",
      escrowKey: "tx.msgPerSec",
      peerKey: "nats.tx.msgPerSec",
      digits: 0,
      target: { ratioAtLeast: 1 },
    },
    {
      label: "broker CPU µs per message (fan-out)",
      escrowKey: `${way("e2e")}.cpuUsPerMsg`,
      peerKey: "nats.e2e.cpuUsPerMsg",
      digits: 0,
      target: { ratioAtMost: 0.7 },
    },
    {
      label: "broker peak RSS MB (publish, fan-out, latency, tx)",
      escrowKey: "overall.peakRssMb",
      peerKey: "nats.overall.peakRssMb",
      digits: 0,
      target: { escrowAtMost: 150, unit: "MB" },
    },
    {
      label: "fan-out: deliveries/s (5 groups)",
      escrowKey: `${way("e2e")}.deliveriesPerSec`,
      peerKey: "nats.e2e.deliveriesPerSec",
      digits: 0,
    },
    {
      label: "client CPU µs per message (fan-out, all clients)",
      escrowKey: `${way("e2e")}.clientCpuUsPerMsg`,
      peerKey: "nats.e2e.clientCpuUsPerMsg",
      digits: 0,
    },
  ];
}

/**
 * The two ways of talking to Escrow side by side, both from the same run:
 * the SDK's figure (`sdk.`-prefixed) against plain HTTP's, for a latency
 * phase at `rate` msg/s; the ratio is SDK / HTTP.
 *
 * @example
 * ```ts
 * import { clientComparisons } from "./compare.ts";
 * const [publish] = clientComparisons(1000);
 * console.log(publish!.escrowKey, publish!.peerKey); // "sdk.publish.msgPerSec" "publish.msgPerSec"
 * ```
 */
export function clientComparisons(rate: number): ComparisonSpec[] {
  const at = `at ${rate.toLocaleString("en-US")} msg/s`;
  const both = (label: string, key: string, digits: number): ComparisonSpec => ({
    label,
    escrowKey: `sdk.${key}`,
    peerKey: key,
    digits,
  });
  return [
    both("publish: confirmed msg/s", "publish.msgPerSec", 0),
    both("publish: p50 send → confirmed under full load (ms)", "publish.confirmP50Ms", 1),
    both("publish: p99 send → confirmed under full load (ms)", "publish.confirmP99Ms", 1),
    both("publish: broker CPU µs per message", "publish.cpuUsPerMsg", 0),
    both("publish: client CPU µs per message", "publish.clientCpuUsPerMsg", 0),
    both("fan-out: first publish → all acked (s)", "e2e.seconds", 2),
    both("fan-out: deliveries/s (5 groups)", "e2e.deliveriesPerSec", 0),
    both("fan-out: publish msg/s while consumers run", "e2e.publishMsgPerSec", 0),
    both("fan-out: broker CPU µs per message", "e2e.cpuUsPerMsg", 0),
    both("fan-out: client CPU µs per message", "e2e.clientCpuUsPerMsg", 0),
    both(`latency: p50 publish → receipt ${at} (ms)`, "latency.p50Ms", 1),
    both(`latency: p99 publish → receipt ${at} (ms)`, "latency.p99Ms", 1),
    both(`latency: p99 publish → confirmed ${at} (ms)`, "latency.confirmP99Ms", 1),
    both("broker peak RSS MB (publish)", "publish.peakRssMb", 0),
    both("broker peak RSS MB (fan-out)", "e2e.peakRssMb", 0),
  ];
}

/**
 * The peer's verification counts, as rows of the main table (each run's
 * counts summed; lost and wrong must be zero, as for Escrow).
 *
 * @example
 * ```ts
 * import { natsCheckRows } from "./compare.ts";
 * console.log(natsCheckRows()[0]!.label); // "NATS publish: errors / timed out"
 * ```
 */
export function natsCheckRows(): RowSpec[] {
  return [...loadCheckRows("nats", "NATS"), loadCheckRow("nats", "NATS dedup", "tx", "missing")];
}

function targetText(target: ComparisonTarget | undefined, right: string): string {
  if (target === undefined) return "";
  if ("ratioAtMost" in target) return `≤ ${target.ratioAtMost} × ${right}`;
  if ("ratioAtLeast" in target) return `≥ ${target.ratioAtLeast} × ${right}`;
  return `Escrow ≤ ${target.escrowAtMost} ${target.unit}`;
}

/**
 * Whether a figure meets `target`, from Escrow's median and the ratio of the runs.
 *
 * @example
 * ```ts
 * import { meetsComparison } from "./compare.ts";
 * console.log(meetsComparison({ ratioAtMost: 0.5 }, 1.2, 0.4)); // true
 * console.log(meetsComparison({ ratioAtLeast: 1.5 }, 5_000, 0.7)); // false
 * ```
 */
export function meetsComparison(target: ComparisonTarget, escrow: number, ratio: number): boolean {
  if ("escrowAtMost" in target) return Number.isFinite(escrow) && escrow <= target.escrowAtMost;
  if (!Number.isFinite(ratio)) return false;
  if ("ratioAtMost" in target) return ratio <= target.ratioAtMost;
  return ratio >= target.ratioAtLeast;
}

/**
 * Renders the comparisons that Escrow or the peer has figures for in `runs`.
 * A ratio needs both sides in one run; a target on a ratio with no such run is "n/a".
 *
 * @example
 * ```ts
 * import { compareRows } from "./compare.ts";
 * const rows = compareRows([{
 *   label: "fan-out (s)", escrowKey: "e2e.seconds", peerKey: "nats.e2e.seconds", digits: 2,
 *   target: { ratioAtMost: 0.5 },
 * }], [{ "e2e.seconds": 4, "nats.e2e.seconds": 2 }]);
 * console.log(rows[0]!.ratio, rows[0]!.status); // "2.00" "MISS"
 * ```
 */
export function compareRows(
  specs: readonly ComparisonSpec[],
  runs: readonly Metrics[],
  right = "NATS",
): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  for (const spec of specs) {
    const escrows = runs.map((run) => run[spec.escrowKey]).filter((v) => v !== undefined);
    const peers = runs.map((run) => run[spec.peerKey]).filter((v) => v !== undefined);
    if (escrows.length === 0 && peers.length === 0) continue;
    const ratios = runs
      .filter((run) => run[spec.escrowKey] !== undefined && run[spec.peerKey] !== undefined)
      .map((run) => run[spec.escrowKey]! / run[spec.peerKey]!);
    const escrow = median(escrows);
    const ratio = median(ratios);
    const target = spec.target;
    let status = "";
    if (target !== undefined) {
      const needsPeer = !("escrowAtMost" in target);
      status = needsPeer && !Number.isFinite(ratio)
        ? "n/a"
        : meetsComparison(target, escrow, ratio)
        ? "ok"
        : "MISS";
    }
    rows.push({
      label: spec.label,
      escrow: formatNumber(escrow, spec.digits),
      peer: formatNumber(median(peers), spec.digits),
      ratio: formatNumber(ratio, 2),
      target: targetText(target, right),
      status,
      runs: ratios.map((r) => formatNumber(r, 2)).join(", "),
    });
  }
  return rows;
}

/**
 * The comparison as an aligned text table, headed by the peer's name.
 *
 * @example
 * ```ts
 * import { formatComparison } from "./compare.ts";
 * console.log(formatComparison("NATS JetStream 2.9.10", [{
 *   label: "x", escrow: "1", peer: "2", ratio: "0.50", target: "", status: "", runs: "0.50",
 * }]));
 * ```
 */
export function formatComparison(
  peerName: string,
  rows: readonly ComparisonRow[],
  names: { readonly title?: string; readonly left?: string; readonly right?: string } = {},
): string {
  const { left = "Escrow", right: rightName = "NATS" } = names;
  const header: ComparisonRow = {
    label: "figure",
    escrow: left,
    peer: rightName,
    ratio: "ratio",
    target: "target",
    status: "",
    runs: "ratio per run",
  };
  const all = [header, ...rows];
  const columns: (keyof ComparisonRow)[] = ["label", "escrow", "peer", "ratio", "target", "status"];
  const widths = Object.fromEntries(
    columns.map((c) => [c, Math.max(...all.map((row) => [...row[c]].length))]),
  ) as Record<keyof ComparisonRow, number>;
  const right = new Set<keyof ComparisonRow>(["escrow", "peer", "ratio"]);
  const pad = (row: ComparisonRow, column: keyof ComparisonRow) => {
    const text = row[column];
    const gap = " ".repeat(Math.max(0, widths[column] - [...text].length));
    return right.has(column) ? gap + text : text + gap;
  };
  const line = (row: ComparisonRow) =>
    [...columns.map((c) => pad(row, c)), row.runs].join("  ").trimEnd();
  const width = columns.reduce((sum, c) => sum + widths[c], 0) + 2 * columns.length;
  return [
    names.title ??
      `${left} vs ${peerName}, same machine, same run (ratio = ${left} / ${rightName}, median of the runs' ratios)`,
    line(header),
    "-".repeat(width),
    ...rows.map(line),
  ].join("\n");
}
