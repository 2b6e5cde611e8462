/**
 * A machine's states and transitions read off its definition
 * (`machine.root`), laid out in columns for a diagram: a state's column is
 * its longest distance from the initial state along forward transitions, so
 * the diagram reads left to right the way a machine usually runs.
 *
 * @module
 */
import type { AnyStateMachine } from "xstate";

/** One state box of the diagram. */
export interface GraphNode {
  readonly id: string;
  readonly column: number;
  readonly row: number;
  readonly initial: boolean;
  /** No transition leads out of it to another state. */
  readonly terminal: boolean;
}

/** The transitions from one state to another, merged: their event names. */
export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly events: readonly string[];
  /** Leads to an earlier (or the same) column: drawn as an arc below. */
  readonly back: boolean;
}

/** A machine laid out in columns. */
export interface MachineGraph {
  readonly id: string;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  readonly columns: number;
  readonly rows: number;
}

/**
 * Reads the top-level states and targeted transitions of a flat machine and
 * lays them out; targetless transitions (recorded, state unchanged) are left out.
 *
 * @example
 * ```ts
 * import { machineGraph } from "./machine_graph.ts";
 * import { deliveryMachine } from "../../../machines/delivery.ts";
 * machineGraph(deliveryMachine).nodes[0]?.id; // "pending"
 * ```
 */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const root = machine.root;
  const names = Object.keys(root.states);
  const initial = root.initial?.target?.[0]?.key ?? names[0] ?? "";
  const merged = new Map<string, { from: string; to: string; events: string[] }>();
  for (const name of names) {
    for (const [event, transitions] of root.states[name]!.transitions) {
      for (const transition of transitions) {
        for (const target of transition.target ?? []) {
          const key = `${name}->${target.key}`;
          const edge = merged.get(key) ?? { from: name, to: target.key, events: [] };
          if (!edge.events.includes(event)) edge.events.push(event);
          merged.set(key, edge);
        }
      }
    }
  }
  // Depth-first from the initial state: an edge to a state on the current path is a back edge.
  const back = new Set<string>();
  const onPath = new Set<string>();
  const seen = new Set<string>();
  const order: string[] = [];
  const visit = (name: string) => {
    seen.add(name);
    onPath.add(name);
    order.push(name);
    for (const edge of merged.values()) {
      if (edge.from !== name) continue;
      if (onPath.has(edge.to)) back.add(`${edge.from}->${edge.to}`);
      else if (!seen.has(edge.to)) visit(edge.to);
    }
    onPath.delete(name);
  };
  visit(initial);
  for (const name of names) if (!seen.has(name)) visit(name);
  const column = new Map(names.map((name) => [name, 0]));
  // Longest path over forward edges; at most one pass per state settles it.
  for (let pass = 0; pass < names.length; pass++) {
    for (const [key, edge] of merged) {
      if (back.has(key)) continue;
      const next = column.get(edge.from)! + 1;
      if (next > column.get(edge.to)!) column.set(edge.to, next);
    }
  }
  // Within a column, states that lead back go to the top and bottom rows, so their arcs
  // run around the diagram instead of through it; the others stay in the middle.
  const rowOf = new Map<string, number>();
  const rowsUsed = new Map<number, number>();
  for (let col = 0; col <= Math.max(...column.values()); col++) {
    const here = order.filter((name) => column.get(name) === col);
    const leadsBack = (name: string) =>
      [...back].some((key) => key.startsWith(`${name}->`) && !key.endsWith(`->${name}`));
    const returning = here.filter(leadsBack);
    const top = returning.filter((_, i) => i % 2 === 0);
    const bottom = returning.filter((_, i) => i % 2 === 1);
    const placed = [...top, ...here.filter((name) => !leadsBack(name)), ...bottom.reverse()];
    placed.forEach((name, row) => rowOf.set(name, row));
    rowsUsed.set(col, placed.length);
  }
  const nodes = order.map((id) => {
    const leaves = [...merged.values()].some((e) => e.from === id && e.to !== id);
    return {
      id,
      column: column.get(id)!,
      row: rowOf.get(id)!,
      initial: id === initial,
      terminal: !leaves,
    };
  });
  const edges = [...merged].map(([key, edge]) => ({
    ...edge,
    back: back.has(key) || column.get(edge.to)! <= column.get(edge.from)!,
  }));
  return {
    id: machine.id,
    nodes,
    edges,
    columns: Math.max(...column.values()) + 1,
    rows: Math.max(...rowsUsed.values()),
  };
}
