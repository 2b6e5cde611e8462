/**
 * The floor Deno KV puts under a durable broker: the CPU its SQLite writer
 * thread (`sw-0`) and the JavaScript thread spend per value committed, for a
 * body size and a number of values per commit, with nothing else running in
 * the process. A broker that stores each message once cannot spend less
 * writer CPU per message than the figure for its body size at its batch size.
 *
 * ```sh
 * deno task kv-floor                      # 1 KiB values; 1, 16 and 64 per commit
 * deno task kv-floor --bytes 4096 --batch 1,256 --ms 2000
 * ```
 *
 * Linux only (thread CPU from `/proc`, which Deno reads only with `--allow-all`).
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { readThreadCpuMicros } from "../src/bench/proc_stats.ts";

/** What {@linkcode measureKvWriter} measures. */
export interface KvWriterOptions {
  /** Bytes of each value (a string of that many ASCII characters). */
  readonly bytes: number;
  /** Values set in one atomic commit. */
  readonly batch: number;
  /** How long to commit, one commit after another. */
  readonly ms: number;
}

/** CPU per value committed, by thread, and how many values were. */
export interface KvWriterCost {
  readonly values: number;
  readonly valuesPerSecond: number;
  readonly commitsPerSecond: number;
  /** µs of CPU of Deno KV's SQLite writer thread per value. */
  readonly writerUsPerValue: number;
  /** µs of CPU of the JavaScript thread per value (serialising, the atomic operation). */
  readonly jsUsPerValue: number;
}

/**
 * Commits values of `bytes` in commits of `batch` for `ms` to a fresh KV
 * file and reads the CPU each thread spent.
 *
 * @example
 * ```ts ignore
 * import { measureKvWriter } from "./kv_writer_floor.ts";
 * const cost = await measureKvWriter({ bytes: 1024, batch: 64, ms: 500 });
 * console.log(cost.writerUsPerValue > 0); // true
 * ```
 */
export async function measureKvWriter(options: KvWriterOptions): Promise<KvWriterCost> {
  const dir = await Deno.makeTempDir({ prefix: "escrow-kv-floor-" });
  try {
    using kv = await Deno.openKv(`${dir}/floor.kv`);
    const value = "x".repeat(options.bytes);
    await kv.set(["warm"], value); // the writer thread starts with the first commit
    const before = readThreadCpuMicros(Deno.pid);
    const started = performance.now();
    let values = 0;
    let commits = 0;
    while (performance.now() - started < options.ms) {
      const op = kv.atomic();
      for (let i = 0; i < options.batch; i++) op.set(["v", values++], value);
      const result = await op.commit();
      if (!result.ok) throw new Error("Cannot measure: a commit without checks failed");
      commits++;
    }
    const seconds = (performance.now() - started) / 1000;
    const after = readThreadCpuMicros(Deno.pid);
    const spent = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
    return {
      values,
      valuesPerSecond: values / seconds,
      commitsPerSecond: commits / seconds,
      writerUsPerValue: spent("sw-0") / values,
      jsUsPerValue: spent("deno") / values,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    string: ["bytes", "batch", "ms"],
    default: { bytes: "1024", batch: "1,16,64", ms: "3000" },
  });
  const bytes = Number(args.bytes);
  const ms = Number(args.ms);
  const batches = args.batch.split(",").map(Number);
  if (![bytes, ms, ...batches].every((n) => Number.isInteger(n) && n > 0)) {
    console.error("Cannot measure: --bytes, --ms and every --batch must be positive integers");
    Deno.exit(2);
  }
  console.log("bytes  batch  commits/s  values/s  writer µs/value  JS µs/value");
  for (const batch of batches) {
    const cost = await measureKvWriter({ bytes, batch, ms });
    console.log(
      [
        String(bytes).padStart(5),
        String(batch).padStart(6),
        cost.commitsPerSecond.toFixed(0).padStart(10),
        cost.valuesPerSecond.toFixed(0).padStart(9),
        cost.writerUsPerValue.toFixed(1).padStart(16),
        cost.jsUsPerValue.toFixed(1).padStart(12),
      ].join(" "),
    );
  }
}
