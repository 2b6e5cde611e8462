/**
 * The machine line of the report: CPU count and model, memory, Deno version,
 * and which broker was measured (its path and, when it is a git checkout,
 * its commit and whether it has uncommitted changes).
 *
 * @module
 */
import { dirname } from "@std/path";

/** What the figures were measured on. */
export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGb: number;
  readonly deno: string;
  readonly v8: string;
  readonly broker: string;
}

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

function gitOutput(dir: string, args: string[]): string | undefined {
  try {
    const output = new Deno.Command("git", { args: ["-C", dir, ...args], stderr: "null" })
      .outputSync();
    return output.success ? new TextDecoder().decode(output.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Describes this machine and the broker at `mainPath`.
 *
 * @example
 * ```ts ignore
 * import { describeMachine, machineLine } from "./machine.ts";
 * console.log(machineLine(describeMachine("/work/main/main.ts")));
 * ```
 */
export function describeMachine(mainPath: string): MachineInfo {
  const cpuinfo = readText("/proc/cpuinfo");
  const meminfo = readText("/proc/meminfo");
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? NaN);
  const dir = dirname(mainPath);
  const commit = gitOutput(dir, ["log", "-1", "--format=%h %s"]);
  const dirty = gitOutput(dir, ["status", "--porcelain", "--untracked-files=no"]);
  const subject = commit && commit.length > 56 ? `${commit.slice(0, 55)}…` : commit;
  const revision = subject === undefined
    ? ""
    : ` (${subject}${dirty ? "; with uncommitted changes" : ""})`;
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memoryGb: Math.round(memKb / 1024 / 1024),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    broker: `${mainPath}${revision}`,
  };
}

/**
 * The one-line form of `info`.
 *
 * @example
 * ```ts
 * import { machineLine } from "./machine.ts";
 * console.log(machineLine({
 *   cpus: 2, cpuModel: "AMD EPYC", memoryGb: 24, deno: "2.9.6", v8: "15.0", broker: "main.ts",
 * })); // "2 CPUs (AMD EPYC), 24 GB, Deno 2.9.6 (V8 15.0); broker main.ts"
 * ```
 */
export function machineLine(info: MachineInfo): string {
  return `${info.cpus} CPUs (${info.cpuModel}), ${info.memoryGb} GB, Deno ${info.deno} (V8 ${info.v8}); broker ${info.broker}`;
}
