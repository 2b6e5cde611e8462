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
import type { RowSpec } from "../report.ts";
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
 * Issue 10's comparisons with NATS JetStream, for an open-loop latency phase at `rate` msg/s.
 *
 * @example
 * ```ts
 * import { natsComparisons } from "./compare.ts";
 * console.log(natsComparisons(1000)[0]!.peerKey); // "nats.e2e.seconds"
 * ```
 */
export function natsComparisons(rate: number): ComparisonSpec[] {
  const at = `at ${rate.toLocaleString("en-US")} msg/s`;
  return [
    {
      label: "fan-out: first publish → all acked (s)",
      escrowKey: "e2e.seconds",
      peerKey: "nats.e2e.seconds",
      digits: 2,
      target: { ratioAtMost: 0.5 },
    },
    {
      label: "confirmed publish msg/s",
      escrowKey: "publish.msgPerSec",
      peerKey: "nats.publish.msgPerSec",
      digits: 0,
      target: { ratioAtLeast: 1.5 },
    },
    {
      label: `p99 publish → receipt ${at} (ms)`,
      escrowKey: "latency.p99Ms",
      peerKey: "nats.latency.p99Ms",
      digits: 2,
      target: { ratioAtMost: 1 },
    },
    {
      label: `p50 publish → receipt ${at} (ms)`,
      escrowKey: "latency.p50Ms",
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
      escrowKey: "e2e.cpuUsPerMsg",
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
      escrowKey: "e2e.deliveriesPerSec",
      peerKey: "nats.e2e.deliveriesPerSec",
      digits: 0,
    },
    {
      label: "client CPU µs per message (fan-out, all clients)",
      escrowKey: "e2e.clientCpuUsPerMsg",
      peerKey: "nats.e2e.clientCpuUsPerMsg",
      digits: 0,
    },
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
  const counts = (label: string, keys: string[], mustBeZero: string[] = []): RowSpec => ({
    kind: "counts",
    label,
    keys,
    mustBeZero,
  });
  const fanOut = (phase: string, lostKey = "lost") => [
    `nats.${phase}.${lostKey}`,
    `nats.${phase}.duplicates`,
    `nats.${phase}.wrong`,
    `nats.${phase}.errors`,
    `nats.${phase}.timedOut`,
  ];
  return [
    counts("NATS publish: errors / timed out", ["nats.publish.errors", "nats.publish.timedOut"]),
    counts(
      "NATS fan-out: lost / duplicates / wrong / errors / timed out",
      fanOut("e2e"),
      ["nats.e2e.lost", "nats.e2e.wrong"],
    ),
    counts(
      "NATS latency: lost / duplicates / wrong / errors / timed out",
      fanOut("latency"),
      ["nats.latency.lost", "nats.latency.wrong"],
    ),
    counts(
      "NATS dedup: missing / duplicates / wrong / errors / timed out",
      fanOut("tx", "missing"),
      ["nats.tx.missing", "nats.tx.wrong"],
    ),
  ];
}

function formatNumber(value: number, digits: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function targetText(target: ComparisonTarget | undefined): string {
  if (target === undefined) return "";
  if ("ratioAtMost" in target) return `≤ ${target.ratioAtMost} × NATS`;
  if ("ratioAtLeast" in target) return `≥ ${target.ratioAtLeast} × NATS`;
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
      target: targetText(target),
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
export function formatComparison(peerName: string, rows: readonly ComparisonRow[]): string {
  const header: ComparisonRow = {
    label: "figure",
    escrow: "Escrow",
    peer: "NATS",
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
    `Escrow vs ${peerName}, same machine, same run (ratio = Escrow / NATS, median of the runs' ratios)`,
    line(header),
    "-".repeat(width),
    ...rows.map(line),
  ].join("\n");
}
