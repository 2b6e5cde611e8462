/**
 * A process's CPU time and memory as Linux's `/proc` shows them: `utime` +
 * `stime` from `/proc/<pid>/stat` (in clock ticks), `VmRSS` and `VmHWM` (the
 * peak resident set) from `/proc/<pid>/status`. Off Linux the figures are NaN.
 *
 * @module
 */

let ticksPerSecond: number | undefined;

/**
 * `getconf CLK_TCK` (the unit of `/proc` CPU times), read once; 100 when it
 * cannot be read.
 *
 * @example
 * ```ts
 * import { clockTicksPerSecond } from "./proc_stats.ts";
 * console.log(clockTicksPerSecond()); // 100 on most Linux systems
 * ```
 */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const output = new Deno.Command("getconf", { args: ["CLK_TCK"], stderr: "null" })
        .outputSync();
      const value = Number(new TextDecoder().decode(output.stdout).trim());
      ticksPerSecond = Number.isFinite(value) && value > 0 ? value : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * User plus system CPU time process `pid` has used so far, in µs (NaN when
 * `/proc` cannot be read).
 *
 * @example
 * ```ts
 * import { readCpuMicros } from "./proc_stats.ts";
 * console.log(readCpuMicros(Deno.pid) >= 0); // true on Linux
 * ```
 */
export function readCpuMicros(pid: number | "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
    return (ticks * 1_000_000) / clockTicksPerSecond();
  } catch {
    return NaN;
  }
}

/** Resident memory of a process, in MB (2^20 bytes). */
export interface MemoryUse {
  /** `VmRSS`: resident now. */
  readonly rssMb: number;
  /** `VmHWM`: the peak resident set since the process started. */
  readonly peakMb: number;
}

/**
 * Reads `VmRSS` and `VmHWM` of process `pid` (NaN when unreadable).
 *
 * @example
 * ```ts
 * import { readMemory } from "./proc_stats.ts";
 * const memory = readMemory(Deno.pid);
 * console.log(memory.peakMb >= memory.rssMb); // true on Linux
 * ```
 */
export function readMemory(pid: number | "self"): MemoryUse {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = (field: string) => {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
      return match ? Number(match[1]) : NaN;
    };
    return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
  } catch {
    return { rssMb: NaN, peakMb: NaN };
  }
}

/**
 * CPU time per thread name of process `pid`, in µs, summed over threads of
 * the same name (`deno` is the JavaScript main thread, `V8 DefaultWorke` V8's
 * helpers such as the garbage collector, `tokio-runtime-w` I/O, `sw-0` Deno
 * KV's SQLite writer). Empty when `/proc` cannot be read.
 *
 * @example
 * ```ts
 * import { readThreadCpuMicros } from "./proc_stats.ts";
 * console.log("deno" in readThreadCpuMicros(Deno.pid)); // true on Linux
 * ```
 */
export function readThreadCpuMicros(pid: number | "self"): Record<string, number> {
  const threads: Record<string, number> = {};
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
        const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).trim();
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const micros = ((Number(fields[11]) + Number(fields[12])) * 1_000_000) /
          clockTicksPerSecond();
        threads[name] = (threads[name] ?? 0) + micros;
      } catch {
        // The thread ended between listing and reading.
      }
    }
  } catch {
    // No /proc: no threads to report.
  }
  return threads;
}

/** The whole machine's CPU ticks since boot, from the `cpu` line of `/proc/stat`. */
export interface MachineTicks {
  /** Ticks spent running anything (user, system, interrupts), over all CPUs. */
  readonly busy: number;
  readonly total: number;
}

/**
 * Reads the machine's CPU ticks (NaN when unreadable); the busy share
 * between two readings is how loaded all cores were.
 *
 * @example
 * ```ts
 * import { readMachineTicks } from "./proc_stats.ts";
 * const ticks = readMachineTicks();
 * console.log(ticks.busy <= ticks.total); // true on Linux
 * ```
 */
export function readMachineTicks(): MachineTicks {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0]!;
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/)
      .slice(1, 9).map((v) => Number(v ?? 0));
    const busy = user! + nice! + system! + (irq ?? 0) + (softirq ?? 0);
    return { busy, total: busy + idle! + (iowait ?? 0) + (steal ?? 0) };
  } catch {
    return { busy: NaN, total: NaN };
  }
}
