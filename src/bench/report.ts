/**
 * The report: which metrics make the table, how runs are combined (figures
 * as the median over runs, failure counts summed over runs), each headline
 * figure against its target, and the table as text.
 *
 * @module
 */
import type { Metrics } from "./phase.ts";
import { curveKey, curvePoints, PROBE_MAX } from "./phases/curve.ts";
import { median } from "./stats.ts";

/** A figure's goal: at least or at most `value`. */
export interface Target {
  readonly atLeast?: number;
  readonly atMost?: number;
}

/** A table row: a figure (median of runs) or failure counts (sum of runs). */
export type RowSpec =
  | {
    readonly kind: "figure";
    readonly label: string;
    readonly key: string;
    readonly digits: number;
    readonly target?: Target;
  }
  | {
    readonly kind: "counts";
    readonly label: string;
    readonly keys: readonly string[];
    /** Keys that must sum to zero. */
    readonly mustBeZero: readonly string[];
  };

/** A rendered row. */
export interface ReportRow {
  readonly label: string;
  /** The median (figures) or the sums joined by " / " (counts). */
  readonly value: string;
  readonly target: string;
  /** "ok", "MISS", or "" without a target. */
  readonly status: string;
  /** Each run's value (figures only). */
  readonly runs: string;
}

/**
 * The broker thread names that `runs` have fan-out CPU figures for.
 *
 * @example
 * ```ts
 * import { threadNamesOf } from "./report.ts";
 * console.log(threadNamesOf([{ "e2e.thread.sw-0.cpuUsPerMsg": 40 }])); // ["sw-0"]
 * ```
 */
export function threadNamesOf(runs: readonly Metrics[]): string[] {
  const names = new Set<string>();
  for (const run of runs) {
    for (const key of Object.keys(run)) {
      const match = /^e2e\.thread\.(.+)\.cpuUsPerMsg$/.exec(key);
      if (match) names.add(match[1]!);
    }
  }
  return [...names].sort();
}

/**
 * The rows of the report for the group counts of the growth phase and the
 * broker's thread names (one CPU row each).
 *
 * @example
 * ```ts
 * import { reportRows } from "./report.ts";
 * const rows = reportRows({ growthGroups: [1, 5], rate: 1000 }, ["deno"]);
 * console.log(rows.some((row) => row.label.includes("5 groups"))); // true
 * ```
 */
export function reportRows(
  shape: {
    readonly growthGroups: readonly number[];
    readonly rate: number;
    /** Messages of the backlog curve. @default {0} (no curve rows) */
    readonly curveN?: number;
  },
  threadNames: readonly string[] = [],
): RowSpec[] {
  const { growthGroups } = shape;
  const curve = shape.curveN ? curvePoints(shape.curveN) : [];
  const rate = `${shape.rate.toLocaleString("en-US")} msg/s`;
  const figure = (label: string, key: string, digits: number, target?: Target): RowSpec => ({
    kind: "figure",
    label,
    key,
    digits,
    ...(target ? { target } : {}),
  });
  return [
    figure("publish: confirmed msg/s", "publish.msgPerSec", 0, { atLeast: 10_000 }),
    figure("fan-out: first publish → all acked (s)", "e2e.seconds", 2, { atMost: 2 }),
    figure("fan-out: deliveries/s (5 groups)", "e2e.deliveriesPerSec", 0),
    figure(`latency: p50 publish → receipt at ${rate} (ms)`, "latency.p50Ms", 1),
    figure(`latency: p99 publish → receipt at ${rate} (ms)`, "latency.p99Ms", 1, { atMost: 5 }),
    figure(`latency: max publish → receipt at ${rate} (ms)`, "latency.maxMs", 1),
    figure(`latency: p50 publish → 201 at ${rate} (ms)`, "latency.confirmP50Ms", 1),
    figure(`latency: p99 publish → 201 at ${rate} (ms)`, "latency.confirmP99Ms", 1),
    figure("tx: prepare+commit msg/s", "tx.msgPerSec", 0, { atLeast: 5_000 }),
    figure("broker CPU µs per message (fan-out)", "e2e.cpuUsPerMsg", 0, { atMost: 90 }),
    ...threadNames.map((name) =>
      figure(`  of which thread ${name} (fan-out)`, `e2e.thread.${name}.cpuUsPerMsg`, 0)
    ),
    figure("broker peak RSS MB (publish, e2e, latency, tx)", "overall.peakRssMb", 0, {
      atMost: 256,
    }),
    figure("  publish phase: broker peak RSS MB", "publish.peakRssMb", 0),
    figure("  fan-out phase: broker peak RSS MB", "e2e.peakRssMb", 0),
    figure("  latency phase: broker peak RSS MB", "latency.peakRssMb", 0),
    figure("  tx phase: broker peak RSS MB", "tx.peakRssMb", 0),
    figure("broker CPU µs per message (publish only)", "publish.cpuUsPerMsg", 0),
    figure("broker CPU µs per transaction (tx)", "tx.cpuUsPerMsg", 0),
    figure("client CPU µs per message (fan-out, all clients)", "e2e.clientCpuUsPerMsg", 0),
    figure("machine CPU busy % during fan-out (all cores)", "e2e.machineBusyPct", 0),
    figure("other processes' CPU % during publish (all cores)", "publish.otherCpuPct", 0),
    figure("other processes' CPU % during fan-out (all cores)", "e2e.otherCpuPct", 0),
    figure("other processes' CPU % during latency (all cores)", "latency.otherCpuPct", 0),
    figure("other processes' CPU % during tx (all cores)", "tx.otherCpuPct", 0),
    figure("publish: p50 publish → 201 under full load (ms)", "publish.confirmP50Ms", 1),
    figure("publish: p99 publish → 201 under full load (ms)", "publish.confirmP99Ms", 1),
    figure("fan-out: publish msg/s while consumers run", "e2e.publishMsgPerSec", 0),
    figure("fan-out: broker RSS at the end (MB)", "e2e.endRssMb", 0),
    ...growthGroups.flatMap((count) => [
      figure(
        `growth, ${count} groups: first publish → all acked (s)`,
        `growth.g${count}.seconds`,
        2,
      ),
      figure(`growth, ${count} groups: msg/s`, `growth.g${count}.msgPerSec`, 0),
      figure(`growth, ${count} groups: deliveries/s`, `growth.g${count}.deliveriesPerSec`, 0),
      figure(`growth, ${count} groups: broker CPU µs/msg`, `growth.g${count}.cpuUsPerMsg`, 0),
      figure(`growth, ${count} groups: broker peak RSS MB`, `growth.g${count}.peakRssMb`, 0, {
        atMost: 256,
      }),
    ]),
    figure("backlog: publish msg/s (no consumer)", "backlog.publishMsgPerSec", 0),
    figure("backlog: broker RSS before (MB)", "backlog.rssBeforeMb", 0),
    figure("backlog: broker RSS after publishing (MB)", "backlog.rssAfterPublishMb", 0, {
      atMost: 256,
    }),
    figure("backlog: broker RSS after receive+ack (MB)", "backlog.rssAfterDrainMb", 0, {
      atMost: 256,
    }),
    figure("backlog: broker peak RSS (MB)", "backlog.peakRssMb", 0, { atMost: 256 }),
    figure("backlog: first receive (ms)", "backlog.firstReceiveMs", 0),
    figure("backlog: receive+ack msg/s", "backlog.drainMsgPerSec", 0),
    counts("publish: errors / timed out", ["publish.errors", "publish.timedOut"]),
    counts("fan-out: lost / duplicates / wrong / errors / timed out", [
      "e2e.lost",
      "e2e.duplicates",
      "e2e.wrong",
      "e2e.errors",
      "e2e.timedOut",
    ], ["e2e.lost", "e2e.wrong"]),
    counts("latency: lost / duplicates / wrong / errors / late sends", [
      "latency.lost",
      "latency.duplicates",
      "latency.wrong",
      "latency.errors",
      "latency.lateSends",
    ], ["latency.lost", "latency.wrong"]),
    counts("tx: missing / rolled back delivered / unknown / duplicates / errors", [
      "tx.missing",
      "tx.rolledBackDelivered",
      "tx.unknownDelivered",
      "tx.duplicates",
      "tx.errors",
    ], ["tx.missing", "tx.rolledBackDelivered", "tx.unknownDelivered"]),
    ...growthGroups.map((count) =>
      counts(`growth, ${count} groups: lost / duplicates / wrong / errors`, [
        `growth.g${count}.lost`,
        `growth.g${count}.duplicates`,
        `growth.g${count}.wrong`,
        `growth.g${count}.errors`,
      ], [`growth.g${count}.lost`, `growth.g${count}.wrong`])
    ),
    counts("backlog: errors / timed out", ["backlog.errors", "backlog.timedOut"]),
    figure("curve: publish msg/s (SDK, no consumer)", "curve.publishMsgPerSec", 0),
    ...curve.flatMap((size) => {
      const at = `curve, backlog ${size.toLocaleString("en-US")}`;
      return [
        figure(`${at}: receive of ${PROBE_MAX} (ms)`, curveKey(size, "receiveMs"), 1),
        figure(`${at}: ack of ${PROBE_MAX} (ms)`, curveKey(size, "ackMs"), 1),
        figure(`${at}: broker CPU µs/msg received+acked`, curveKey(size, "cpuUsPerMsg"), 0),
        figure(`${at}: GET /v1/groups/{g} (ms)`, curveKey(size, "groupMs"), 1),
        figure(`${at}: broker RSS (MB)`, curveKey(size, "rssMb"), 0),
      ];
    }),
    counts("curve: errors", ["curve.errors"]),
  ];
}

function counts(label: string, keys: readonly string[], mustBeZero: readonly string[] = []) {
  return { kind: "counts" as const, label, keys, mustBeZero };
}

/**
 * The verification row of one load whose metrics are named
 * `${prefix}.<phase>.<figure>` (the SDK's, the peer's): its lost (or
 * `lostKey`), duplicates, wrong, errors and timed out, where lost and wrong
 * must be zero; `title` names it in the table.
 *
 * @example
 * ```ts
 * import { loadCheckRow } from "./report.ts";
 * console.log(loadCheckRow("sdk", "SDK fan-out", "e2e").label);
 * // "SDK fan-out: lost / duplicates / wrong / errors / timed out"
 * ```
 */
export function loadCheckRow(prefix: string, title: string, phase: string, lostKey = "lost") {
  return counts(
    `${title}: ${lostKey} / duplicates / wrong / errors / timed out`,
    [lostKey, "duplicates", "wrong", "errors", "timedOut"].map((k) => `${prefix}.${phase}.${k}`),
    [`${prefix}.${phase}.${lostKey}`, `${prefix}.${phase}.wrong`],
  );
}

/**
 * The verification rows of the publish, e2e and latency loads whose metrics
 * are named `${prefix}.<phase>.<figure>` (the SDK's, the peer's), titled
 * with `name`.
 *
 * @example
 * ```ts
 * import { loadCheckRows } from "./report.ts";
 * console.log(loadCheckRows("sdk", "SDK").map((row) => row.label)[0]);
 * // "SDK publish: errors / timed out"
 * ```
 */
export function loadCheckRows(prefix: string, name: string): RowSpec[] {
  return [
    counts(`${name} publish: errors / timed out`, [
      `${prefix}.publish.errors`,
      `${prefix}.publish.timedOut`,
    ]),
    loadCheckRow(prefix, `${name} fan-out`, "e2e"),
    loadCheckRow(prefix, `${name} latency`, "latency"),
  ];
}

/**
 * A number as the tables show it: grouped thousands, `digits` decimals,
 * "n/a" when not finite.
 *
 * @example
 * ```ts
 * import { formatNumber } from "./report.ts";
 * console.log(formatNumber(12345.678, 1), formatNumber(NaN, 0)); // "12,345.7" "n/a"
 * ```
 */
export function formatNumber(value: number, digits: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function targetText(target: Target | undefined): string {
  if (target?.atLeast !== undefined) return `≥ ${formatNumber(target.atLeast, 0)}`;
  if (target?.atMost !== undefined) return `≤ ${target.atMost}`;
  return "";
}

function meets(value: number, target: Target): boolean {
  if (!Number.isFinite(value)) return false;
  if (target.atLeast !== undefined && value < target.atLeast) return false;
  if (target.atMost !== undefined && value > target.atMost) return false;
  return true;
}

/**
 * Renders the rows whose metrics some run has, combining `runs`.
 *
 * @example
 * ```ts
 * import { renderRows } from "./report.ts";
 * const rows = renderRows([{ kind: "figure", label: "x", key: "x", digits: 0 }], [{ x: 1 }, {
 *   x: 3,
 * }, { x: 2 }]);
 * console.log(rows[0]!.value, rows[0]!.runs); // "2" "1, 3, 2"
 * ```
 */
export function renderRows(specs: readonly RowSpec[], runs: readonly Metrics[]): ReportRow[] {
  const rows: ReportRow[] = [];
  for (const spec of specs) {
    if (spec.kind === "figure") {
      const values = runs.map((run) => run[spec.key]).filter((v) => v !== undefined);
      if (values.length === 0) continue;
      const value = median(values);
      rows.push({
        label: spec.label,
        value: formatNumber(value, spec.digits),
        target: targetText(spec.target),
        status: spec.target ? (meets(value, spec.target) ? "ok" : "MISS") : "",
        runs: values.map((v) => formatNumber(v, spec.digits)).join(", "),
      });
    } else {
      if (!runs.some((run) => spec.keys.some((key) => key in run))) continue;
      const sum = (key: string) => runs.reduce((total, run) => total + (run[key] ?? 0), 0);
      const zero = spec.mustBeZero.every((key) => sum(key) === 0);
      rows.push({
        label: spec.label,
        value: spec.keys.map(sum).join(" / "),
        target: spec.mustBeZero.length > 0 ? "lost, wrong = 0" : "",
        status: spec.mustBeZero.length > 0 ? (zero ? "ok" : "MISS") : "",
        runs: "sum of runs",
      });
    }
  }
  return rows;
}

/**
 * The rows as an aligned text table.
 *
 * @example
 * ```ts
 * import { formatTable } from "./report.ts";
 * console.log(formatTable([{ label: "x", value: "1", target: "", status: "", runs: "1" }]));
 * ```
 */
export function formatTable(rows: readonly ReportRow[]): string {
  const header = { label: "metric", value: "median", target: "target", status: "", runs: "runs" };
  const all = [header, ...rows];
  const width = (pick: (row: ReportRow) => string) =>
    Math.max(...all.map((row) => [...pick(row)].length));
  const pad = (text: string, size: number, right = false) => {
    const gap = " ".repeat(Math.max(0, size - [...text].length));
    return right ? gap + text : text + gap;
  };
  const widths = {
    label: width((r) => r.label),
    value: width((r) => r.value),
    target: width((r) => r.target),
    status: width((r) => r.status),
  };
  const line = (row: ReportRow) =>
    [
      pad(row.label, widths.label),
      pad(row.value, widths.value, true),
      pad(row.target, widths.target),
      pad(row.status, widths.status),
      row.runs,
    ].join("  ").trimEnd();
  const rule = "-".repeat(widths.label + widths.value + widths.target + widths.status + 12);
  return [line(header), rule, ...rows.map(line)].join("\n");
}
