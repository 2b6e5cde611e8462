// deno-lint-ignore-file jsx-key -- rendered once on the server: keys would only end up as attributes
/**
 * A machine's diagram as inline SVG, drawn on the server from the machine's
 * own definition (nothing from the internet): states as boxes in columns,
 * transitions as labelled curves, the current state filled in its color.
 *
 * @module
 */
import type { AnyStateMachine } from "xstate";
import { stateColor } from "./colors.ts";
import { type GraphEdge, type GraphNode, machineGraph } from "./machine_graph.ts";

const BOX_W = 128;
const BOX_H = 38;
const COL_GAP = 150;
const ROW_H = 116;
const MARGIN_X = 24;
const MARGIN_Y = 92;
const LINE_H = 13;

interface Point {
  readonly x: number;
  readonly y: number;
}

/** Options of {@linkcode MachineDiagram}. */
export interface MachineDiagramProps {
  readonly machine: AnyStateMachine;
  /** The state to highlight. @default {undefined} (none) */
  readonly current?: string;
  /** Accessible title. @default {the machine's id} */
  readonly title?: string;
}

/**
 * The diagram of `machine` with `current` highlighted.
 *
 * @example
 * ```tsx
 * import { MachineDiagram } from "./machine_svg.tsx";
 * import { deliveryMachine } from "../../../machines/delivery.ts";
 * const svg = String(<MachineDiagram machine={deliveryMachine} current="acked" />);
 * ```
 */
export function MachineDiagram({ machine, current, title }: MachineDiagramProps) {
  const graph = machineGraph(machine);
  const height = MARGIN_Y * 2 + (graph.rows - 1) * ROW_H + BOX_H;
  const width = MARGIN_X * 2 + graph.columns * BOX_W + (graph.columns - 1) * COL_GAP;
  const center = height / 2;
  const rowsIn = new Map<number, number>();
  for (const node of graph.nodes) {
    rowsIn.set(node.column, Math.max(rowsIn.get(node.column) ?? 0, node.row + 1));
  }
  const at = new Map<string, Point>(graph.nodes.map((node) => {
    const rows = rowsIn.get(node.column)!;
    return [node.id, {
      x: MARGIN_X + node.column * (BOX_W + COL_GAP) + BOX_W / 2,
      y: center + (node.row - (rows - 1) / 2) * ROW_H,
    }];
  }));
  const marker = `arrow-${graph.id}`;
  return (
    <svg
      class="machine"
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      height={height}
      role="img"
      aria-label={title ?? `${graph.id} machine`}
      data-machine={graph.id}
      data-current={current ?? ""}
    >
      <title>{title ?? `${graph.id} machine`}</title>
      <defs>
        <marker
          id={marker}
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto-start-reverse"
        >
          <path d="M0,0 L10,5 L0,10 z" fill="#64748b" />
        </marker>
      </defs>
      {graph.edges.map((edge) => <Edge edge={edge} at={at} center={center} marker={marker} />)}
      {graph.nodes.map((node) => <Node node={node} at={at.get(node.id)!} current={current} />)}
    </svg>
  );
}

function Node({ node, at, current }: { node: GraphNode; at: Point; current?: string }) {
  const color = stateColor(node.id);
  const active = node.id === current;
  return (
    <g class={active ? "state current" : "state"} data-state={node.id}>
      {node.initial
        ? (
          <>
            <circle cx={at.x - BOX_W / 2 - 18} cy={at.y} r="5" fill="#334155" />
            <line
              x1={at.x - BOX_W / 2 - 13}
              y1={at.y}
              x2={at.x - BOX_W / 2 - 2}
              y2={at.y}
              stroke="#334155"
              stroke-width="1.5"
            />
          </>
        )
        : null}
      <rect
        x={at.x - BOX_W / 2}
        y={at.y - BOX_H / 2}
        width={BOX_W}
        height={BOX_H}
        rx="10"
        fill={active ? color : "#ffffff"}
        stroke={color}
        stroke-width={active ? 3 : 1.5}
      />
      {node.terminal
        ? (
          <rect
            x={at.x - BOX_W / 2 + 3}
            y={at.y - BOX_H / 2 + 3}
            width={BOX_W - 6}
            height={BOX_H - 6}
            rx="8"
            fill="none"
            stroke={active ? "#ffffff" : color}
            stroke-width="1"
          />
        )
        : null}
      <text
        x={at.x}
        y={at.y + 4.5}
        text-anchor="middle"
        font-size="13"
        font-weight={active ? "700" : "600"}
        fill={active ? "#ffffff" : "#0f172a"}
      >
        {node.id}
      </text>
    </g>
  );
}

function Edge(
  { edge, at, center, marker }: {
    edge: GraphEdge;
    at: Map<string, Point>;
    center: number;
    marker: string;
  },
) {
  const s = at.get(edge.from)!;
  const t = at.get(edge.to)!;
  const { d, label, anchor } = route(edge, s, t, center);
  return (
    <g class="edge" data-from={edge.from} data-to={edge.to}>
      <path d={d} fill="none" stroke="#94a3b8" stroke-width="1.4" marker-end={`url(#${marker})`} />
      <text
        x={label.x}
        y={label.y - ((edge.events.length - 1) * LINE_H) / 2 + 4}
        text-anchor={anchor}
        font-size="10.5"
        fill="#334155"
        stroke="#ffffff"
        stroke-width="4"
        paint-order="stroke"
      >
        {edge.events.map((event, i) => <tspan x={label.x} dy={i === 0 ? 0 : LINE_H}>{event}
        </tspan>)}
      </text>
    </g>
  );
}

/** The curve of one edge and where its label goes. */
function route(
  edge: GraphEdge,
  s: Point,
  t: Point,
  center: number,
): { d: string; label: Point; anchor: "middle" | "start" } {
  const halfW = BOX_W / 2;
  const halfH = BOX_H / 2;
  if (edge.from === edge.to) {
    const top = s.y - halfH;
    return {
      d: `M${s.x - 16},${top} C${s.x - 40},${top - 44} ${s.x + 40},${top - 44} ${s.x + 16},${top}`,
      label: { x: s.x, y: top - 46 },
      anchor: "middle",
    };
  }
  if (edge.back) {
    // Around the outside: over the top from an upper state, under the bottom otherwise.
    const above = s.y < center;
    const sign = above ? -1 : 1;
    const sy = s.y + sign * halfH;
    const ty = t.y + sign * halfH;
    const wy = (above ? Math.min(sy, ty) : Math.max(sy, ty)) + sign * 50;
    const d = `M${s.x},${sy} C${s.x},${wy} ${t.x},${wy} ${t.x},${ty}`;
    return {
      d,
      label: { x: (s.x + t.x) / 2, y: 0.125 * sy + 0.75 * wy + 0.125 * ty + sign * 10 },
      anchor: "middle",
    };
  }
  const sx = s.x + halfW;
  const tx = t.x - halfW - 2;
  const span = tx - sx;
  if (span > COL_GAP * 1.5) {
    // Skips a column: bow out past the states in between.
    const up = t.y <= s.y;
    const wy = up ? Math.min(s.y, t.y) - halfH - 34 : Math.max(s.y, t.y) + halfH + 34;
    const wx = (sx + tx) / 2;
    const d = `M${sx},${s.y} C${sx + 50},${s.y} ${wx - 90},${wy} ${wx},${wy} ` +
      `S${tx - 50},${t.y} ${tx},${t.y}`;
    return { d, label: { x: wx, y: wy + (up ? -10 : 12) }, anchor: "middle" };
  }
  const mx = (sx + tx) / 2;
  const d = `M${sx},${s.y} C${mx},${s.y} ${mx},${t.y} ${tx},${t.y}`;
  const straight = Math.abs(s.y - t.y) < 1;
  return {
    d,
    label: { x: mx, y: (s.y + t.y) / 2 + (straight ? -10 : 0) },
    anchor: "middle",
  };
}
