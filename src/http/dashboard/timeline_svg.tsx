/**
 * A message's timeline as inline SVG: one row per machine (its transaction,
 * then each consumer group), its states as colored bars on one time axis,
 * its events as ticks. The axis is logarithmic in the time since the first
 * event, so a commit 5 ms in and a dead letter 4 hours in both stay visible.
 *
 * @module
 */
import { stateColor } from "./colors.ts";
import { duration } from "./format.ts";
import type { Timeline } from "./timeline.ts";

const LABEL_W = 150;
const PLOT_W = 780;
const ROW_H = 40;
const BAR_H = 20;
const TOP = 28;
const AXIS_H = 46;
/** One unit of the log scale: resolution of the first millisecond. */
const UNIT_MS = 1;
const TICKS_MS = [0, 1, 10, 100, 1_000, 10_000, 60_000, 600_000, 3_600_000, 21_600_000, 86_400_000];

/**
 * The timeline drawing.
 *
 * @example
 * ```tsx
 * import { TimelineSvg } from "./timeline_svg.tsx";
 * const svg = String(<TimelineSvg timeline={{ start: 0, end: 10, rows: [] }} />);
 * ```
 */
export function TimelineSvg({ timeline }: { timeline: Timeline }) {
  const { start, end, rows } = timeline;
  const span = Math.log10(1 + Math.max(end - start, 1) / UNIT_MS);
  const x = (t: number) =>
    LABEL_W + (Math.log10(1 + Math.max(t - start, 0) / UNIT_MS) / span) * PLOT_W;
  const height = TOP + rows.length * ROW_H + AXIS_H;
  const ticks = TICKS_MS.filter((ms) => ms <= end - start);
  const axisY = TOP + rows.length * ROW_H + 6;
  return (
    <svg
      class="timeline"
      viewBox={`0 0 ${LABEL_W + PLOT_W + 30} ${height}`}
      width={LABEL_W + PLOT_W + 30}
      height={height}
      role="img"
      aria-label="Message timeline"
    >
      <title>Message timeline</title>
      {ticks.map((ms) => (
        <g class="tick">
          <line x1={x(start + ms)} x2={x(start + ms)} y1={TOP - 6} y2={axisY} stroke="#e2e8f0" />
          <text x={x(start + ms)} y={axisY + 16} text-anchor="middle" font-size="11" fill="#475569">
            {ms === 0 ? "0" : `+${duration(ms)}`}
          </text>
        </g>
      ))}
      <text x={LABEL_W + PLOT_W} y={axisY + 30} text-anchor="end" font-size="10.5" fill="#64748b">
        time since the first event (log scale), up to now
      </text>
      {timeline.publishedAt !== undefined
        ? (
          <g class="published">
            <line
              x1={x(timeline.publishedAt)}
              x2={x(timeline.publishedAt)}
              y1={TOP - 14}
              y2={axisY}
              stroke="#0f766e"
              stroke-dasharray="4 3"
            />
            <text x={x(timeline.publishedAt) + 4} y={TOP - 10} font-size="11" fill="#0f766e">
              published +{duration(timeline.publishedAt - start)}
            </text>
          </g>
        )
        : null}
      {rows.map((row, i) => {
        const y = TOP + i * ROW_H + (ROW_H - BAR_H) / 2;
        return (
          <g class="row" data-row={row.label} data-current={row.current}>
            <text
              x={LABEL_W - 10}
              y={y + BAR_H / 2 + 4}
              text-anchor="end"
              font-size="12.5"
              fill="#0f172a"
            >
              {row.kind === "delivery" ? `group ${row.label}` : row.label}
            </text>
            {row.segments.map((segment) => {
              const x1 = x(segment.from);
              const width = Math.max(x(segment.to) - x1, 2);
              return (
                <g class="segment" data-state={segment.state}>
                  <rect
                    x={x1}
                    y={y}
                    width={width}
                    height={BAR_H}
                    rx="3"
                    fill={stateColor(segment.state)}
                  >
                    <title>
                      {`${segment.state} from +${duration(segment.from - start)} for ${
                        duration(segment.to - segment.from)
                      }`}
                    </title>
                  </rect>
                  {width > segment.state.length * 6.6 + 8
                    ? (
                      <text x={x1 + 5} y={y + BAR_H / 2 + 4} font-size="11" fill="#ffffff">
                        {segment.state}
                      </text>
                    )
                    : null}
                </g>
              );
            })}
            {row.events.map((event) => (
              <rect x={x(event.at) - 1} y={y - 4} width="2" height={BAR_H + 8} fill="#0f172a">
                <title>{`${event.type} at +${duration(event.at - start)}`}</title>
              </rect>
            ))}
          </g>
        );
      })}
    </svg>
  );
}
