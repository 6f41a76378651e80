// Horizontal bars, one a row: the label and the value are HTML text beside an SVG bar, so
// they stay readable at any width.
import { niceMax } from "./ChartFigure";

export interface Bar {
  label: string;
  value: number | null;
  display: string;
  tone?: string;
}

export function BarList({ bars }: { bars: Bar[] }) {
  const max = niceMax(Math.max(0, ...bars.map((bar) => bar.value ?? 0)));
  return (
    <ul class="bar-list">
      {bars.map((bar) => (
        <li key={bar.label}>
          <span class="bar-label">{bar.label}</span>
          <svg viewBox="0 0 100 10" preserveAspectRatio="none" class="bar-svg">
            <rect x={0} y={0} width={100} height={10} class="chart-track" />
            <rect
              x={0}
              y={0}
              width={bar.value === null ? 0 : (bar.value / max) * 100}
              height={10}
              class={`chart-bar ${bar.tone ?? ""}`}
            />
          </svg>
          <span class="bar-value">{bar.display}</span>
        </li>
      ))}
    </ul>
  );
}
