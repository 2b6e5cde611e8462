import { assertEquals, assertStringIncludes } from "@std/assert";
import {
  clientComparisons,
  compareRows,
  type ComparisonSpec,
  formatComparison,
  meetsComparison,
  natsCheckRows,
  natsComparisons,
} from "../../../src/bench/peers/compare.ts";
import { loadCheckRows, renderRows } from "../../../src/bench/report.ts";

const FAN_OUT: ComparisonSpec = {
  label: "fan-out (s)",
  escrowKey: "e2e.seconds",
  peerKey: "nats.e2e.seconds",
  digits: 2,
  target: { ratioAtMost: 0.5 },
};

Deno.test("compareRows() takes the median of each run's own ratio", () => {
  const [row] = compareRows([FAN_OUT], [
    { "e2e.seconds": 1, "nats.e2e.seconds": 4 }, // 0.25
    { "e2e.seconds": 9, "nats.e2e.seconds": 3 }, // 3
    { "e2e.seconds": 2, "nats.e2e.seconds": 5 }, // 0.4
  ]);
  assertEquals(row, {
    label: "fan-out (s)",
    escrow: "2.00",
    peer: "4.00",
    ratio: "0.40",
    target: "≤ 0.5 × NATS",
    status: "ok",
    runs: "0.25, 3.00, 0.40",
  });
});

Deno.test("compareRows() marks a ratio above an at-most target as a miss", () => {
  const [row] = compareRows([FAN_OUT], [{ "e2e.seconds": 3, "nats.e2e.seconds": 2 }]);
  assertEquals([row!.ratio, row!.status], ["1.50", "MISS"]);
});

Deno.test("compareRows() checks an at-least ratio (publish msg/s ≥ 1.5 × NATS)", () => {
  const spec = natsComparisons(1000).find((s) => s.escrowKey === "publish.msgPerSec")!;
  const runs = (
    escrow: number,
  ) => [{ "publish.msgPerSec": escrow, "nats.publish.msgPerSec": 1000 }];
  assertEquals(compareRows([spec], runs(1499))[0]!.status, "MISS");
  assertEquals(compareRows([spec], runs(1500))[0]!.status, "ok");
});

Deno.test("compareRows() says n/a, not ok or MISS, when the peer has no figure", () => {
  const [row] = compareRows([FAN_OUT], [{ "e2e.seconds": 0.1 }]);
  assertEquals([row!.peer, row!.ratio, row!.status], ["n/a", "n/a", "n/a"]);
});

Deno.test("compareRows() judges peak RSS by Escrow's own bound, whatever NATS uses", () => {
  const spec = natsComparisons(1000).find((s) => s.escrowKey === "overall.peakRssMb")!;
  const row = (escrow: number) =>
    compareRows([spec], [{ "overall.peakRssMb": escrow, "nats.overall.peakRssMb": 30 }])[0]!;
  assertEquals([row(140).status, row(140).target], ["ok", "Escrow ≤ 150 MB"]);
  assertEquals(row(151).status, "MISS");
  assertEquals(compareRows([spec], [{ "overall.peakRssMb": 140 }])[0]!.status, "ok");
});

Deno.test("compareRows() leaves out figures neither side has", () => {
  assertEquals(compareRows(natsComparisons(1000), [{ "growth.g1.seconds": 1 }]), []);
});

Deno.test("meetsComparison() never meets a ratio target without a ratio", () => {
  assertEquals(meetsComparison({ ratioAtMost: 1 }, 5, NaN), false);
  assertEquals(meetsComparison({ ratioAtLeast: 1 }, 5, Infinity), false);
});

Deno.test("natsComparisons() covers issue 10's targets against NATS", () => {
  const targets = Object.fromEntries(
    natsComparisons(1000).filter((s) => s.target).map((s) => [s.escrowKey, s.target]),
  );
  assertEquals(targets, {
    "e2e.seconds": { ratioAtMost: 0.5 },
    "publish.msgPerSec": { ratioAtLeast: 1.5 },
    "latency.p99Ms": { ratioAtMost: 1 },
    "tx.msgPerSec": { ratioAtLeast: 1 },
    "e2e.cpuUsPerMsg": { ratioAtMost: 0.7 },
    "overall.peakRssMb": { escrowAtMost: 150, unit: "MB" },
  });
  assertStringIncludes(natsComparisons(2500)[2]!.label, "2,500 msg/s");
});

Deno.test("natsCheckRows() fails the table when NATS lost or misrouted a message", () => {
  const clean = {
    "nats.e2e.lost": 0,
    "nats.e2e.duplicates": 0,
    "nats.e2e.wrong": 0,
    "nats.e2e.errors": 0,
    "nats.e2e.timedOut": 0,
  };
  const fanOut = (run: Record<string, number>) =>
    renderRows(natsCheckRows(), [run]).find((r) => r.label.startsWith("NATS fan-out"))!;
  assertEquals([fanOut(clean).value, fanOut(clean).status], ["0 / 0 / 0 / 0 / 0", "ok"]);
  assertEquals(fanOut({ ...clean, "nats.e2e.lost": 1 }).status, "MISS");
  assertEquals(fanOut({ ...clean, "nats.e2e.wrong": 2 }).status, "MISS");
  assertEquals(fanOut({ ...clean, "nats.e2e.duplicates": 3 }).status, "ok");
});

Deno.test("formatComparison() aligns the columns under a header naming the peer", () => {
  const rows = compareRows([FAN_OUT], [{ "e2e.seconds": 12.5, "nats.e2e.seconds": 2.5 }]);
  const lines = formatComparison("NATS JetStream 2.9.10", rows).split("\n");
  assertStringIncludes(lines[0]!, "Escrow vs NATS JetStream 2.9.10");
  assertEquals(lines[1]!.indexOf("Escrow") + "Escrow".length, lines[3]!.indexOf("12.50") + 5);
  assertStringIncludes(lines[3]!, "5.00  ≤ 0.5 × NATS  MISS  5.00");
});

Deno.test("clientComparisons() sets each SDK figure beside the same figure over plain HTTP", () => {
  const rows = compareRows(clientComparisons(1000), [{
    "sdk.publish.msgPerSec": 6_000,
    "publish.msgPerSec": 2_000,
  }], "HTTP");
  assertEquals(rows.map((r) => [r.label, r.escrow, r.peer, r.ratio]), [
    ["publish: confirmed msg/s", "6,000", "2,000", "3.00"],
  ]);
  const text = formatComparison("", rows, { title: "two ways", left: "SDK", right: "HTTP" });
  assertStringIncludes(text.split("\n")[0]!, "two ways");
  assertStringIncludes(text.split("\n")[1]!, "SDK");
});

Deno.test("natsComparisons() compares NATS with the SDK's figures when asked", () => {
  const keys = natsComparisons(1000, "sdk").map((s) => s.escrowKey);
  assertEquals(keys.slice(0, 4), [
    "sdk.e2e.seconds",
    "sdk.publish.msgPerSec",
    "sdk.latency.p99Ms",
    "sdk.latency.p50Ms",
  ]);
  assertEquals(keys.includes("tx.msgPerSec"), true, "the tx phase runs one way only");
});

Deno.test("loadCheckRows() fails the table when the SDK way lost or misrouted a message", () => {
  const clean = {
    "sdk.e2e.lost": 0,
    "sdk.e2e.duplicates": 0,
    "sdk.e2e.wrong": 0,
    "sdk.e2e.errors": 0,
    "sdk.e2e.timedOut": 0,
  };
  const fanOut = (run: Record<string, number>) =>
    renderRows(loadCheckRows("sdk", "SDK"), [run]).find((r) => r.label.startsWith("SDK fan-out"))!;
  assertEquals(fanOut(clean).status, "ok");
  assertEquals(fanOut({ ...clean, "sdk.e2e.lost": 1 }).status, "MISS");
  assertEquals(fanOut({ ...clean, "sdk.e2e.wrong": 1 }).status, "MISS");
});
