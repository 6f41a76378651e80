// Vertical bars over an ordered axis (days, weeks, hours), drawn in a fixed viewBox that the
// browser scales to the figure's width.
import { niceMax } from "./ChartFigure";

const WIDTH = 640;
const HEIGHT = 220;
const LEFT = 36;
const BOTTOM = 34;
const TOP = 10;

export interface Column {
  label: string;
  value: number;
  /** The axis shows every n-th label only, so they do not overlap. */
  showLabel: boolean;
}

export function ColumnChart({ columns, unit }: { columns: Column[]; unit: string }) {
  const max = niceMax(Math.max(0, ...columns.map((column) => column.value)));
  const plotWidth = WIDTH - LEFT - 4;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const slot = plotWidth / Math.max(1, columns.length);
  const barWidth = Math.max(1, slot * 0.7);
  const y = (value: number) => TOP + plotHeight - (value / max) * plotHeight;
  const ticks = [0, max / 2, max];
  return (
    <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="presentation" class="chart-svg">
      {ticks.map((tick) => (
        <g key={tick}>
          <line x1={LEFT} x2={WIDTH} y1={y(tick)} y2={y(tick)} class="chart-grid" />
          <text x={LEFT - 6} y={y(tick) + 4} text-anchor="end" class="chart-axis">
            {Number.isInteger(tick) ? tick : tick.toFixed(1)}
          </text>
        </g>
      ))}
      {columns.map((column, index) => {
        const x = LEFT + index * slot + (slot - barWidth) / 2;
        return (
          <g key={column.label}>
            <rect
              x={x}
              y={y(column.value)}
              width={barWidth}
              height={Math.max(0, TOP + plotHeight - y(column.value))}
              class="chart-bar"
            >
              <title>{`${column.label}: ${column.value} ${unit}`}</title>
            </rect>
            {column.showLabel ? (
              <text x={x + barWidth / 2} y={HEIGHT - 6} text-anchor="middle" class="chart-axis">
                {column.label}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}

/** Label every n-th column so that at most `most` labels show. */
export function sparseLabels<T>(
  items: T[],
  label: (item: T) => string,
  value: (item: T) => number,
  most = 8,
): Column[] {
  const every = Math.max(1, Math.ceil(items.length / most));
  return items.map((item, index) => ({
    label: label(item),
    value: value(item),
    showLabel: index % every === 0,
  }));
}
