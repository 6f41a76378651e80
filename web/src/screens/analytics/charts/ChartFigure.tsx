// A chart as a <figure>: the caption names it, the SVG is decorative for screen readers
// (aria-hidden) and a visually hidden table carries the same figures as text.
import type { ComponentChildren } from "preact";

export interface DataTable {
  columns: string[];
  rows: (string | number)[][];
}

export function ChartFigure({
  caption,
  summary,
  data,
  children,
}: {
  caption: string;
  summary?: string;
  data: DataTable;
  children: ComponentChildren;
}) {
  return (
    <figure class="chart card">
      <figcaption>
        <span class="chart-title">{caption}</span>
        {summary ? <span class="chart-summary">{summary}</span> : null}
      </figcaption>
      <div class="chart-graphic" aria-hidden="true">
        {children}
      </div>
      <table class="visually-hidden">
        <caption>{caption}</caption>
        <thead>
          <tr>
            {data.columns.map((column) => (
              <th key={column} scope="col">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {data.rows.map((row) => (
            <tr key={String(row[0])}>
              {row.map((cell, index) =>
                index === 0 ? (
                  <th key={index} scope="row">
                    {cell}
                  </th>
                ) : (
                  <td key={index}>{cell}</td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/** A round upper bound for an axis: 1, 2, 5 or 10 times a power of ten. */
export function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((factor) => factor * power >= value) ?? 10;
  return step * power;
}
