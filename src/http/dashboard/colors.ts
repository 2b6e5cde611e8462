/**
 * One color per machine state, shared by the machine diagrams, the
 * timelines and the state badges, so a state looks the same everywhere.
 *
 * @module
 */

const STATE_COLORS: Readonly<Record<string, string>> = {
  prepared: "#64748b",
  executing: "#2563eb",
  checking: "#d97706",
  committed: "#15803d",
  rolledBack: "#be123c",
  pending: "#64748b",
  inFlight: "#2563eb",
  retrying: "#d97706",
  acked: "#15803d",
  deadLettered: "#be123c",
};

/**
 * The color of a state (a neutral gray for one it does not know).
 *
 * @example
 * ```ts
 * import { stateColor } from "./colors.ts";
 * stateColor("acked"); // "#15803d"
 * ```
 */
export function stateColor(state: string): string {
  return STATE_COLORS[state] ?? "#475569";
}
