// The report's widgets, each a chart with its figures as text.
import type { components } from "../../api/schema";
import { formatDuration } from "../../ui/format";
import { BarList } from "./charts/BarList";
import { ChartFigure } from "./charts/ChartFigure";
import { ColumnChart, sparseLabels } from "./charts/ColumnChart";

type Schemas = components["schemas"];
type TrendPoint = Schemas["TrendPoint"];
type TimeFigures = Schemas["TimeFigures"];
type SlaCompliance = Schemas["SlaCompliance"];
type AgentLoad = Schemas["AgentLoad"];
type Granularity = Schemas["AnalyticsPeriod"]["granularity"];

const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const dayLabel = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  timeZone: "UTC",
});

/** A report's calendar day ("2026-11-23") as "Nov 23", whatever the browser's zone. */
function shortDate(isoDate: string): string {
  return dayLabel.format(new Date(`${isoDate}T00:00:00Z`));
}

const plural = (count: number, one: string, many: string) =>
  `${count} ${count === 1 ? one : many}`;

function trendSummary(trend: TrendPoint[], granularity: Granularity): string {
  const total = trend.reduce((sum, point) => sum + point.tickets, 0);
  const busiest = trend.reduce<TrendPoint | null>(
    (best, point) => (best === null || point.tickets > best.tickets ? point : best),
    null,
  );
  if (!busiest || busiest.tickets === 0) return `${plural(total, "ticket", "tickets")} in total`;
  const when = granularity === "week" ? "in the week of" : "on";
  const most = `most ${when} ${shortDate(busiest.period_start)} (${busiest.tickets})`;
  return `${plural(total, "ticket", "tickets")} in total; ${most}`;
}

export function TrendWidget({
  trend,
  granularity,
}: {
  trend: TrendPoint[];
  granularity: Granularity;
}) {
  return (
    <ChartFigure
      caption={granularity === "week" ? "Tickets created per week" : "Tickets created per day"}
      summary={trendSummary(trend, granularity)}
      data={{
        columns: [granularity === "week" ? "Week of" : "Day", "Tickets"],
        rows: trend.map((point) => [shortDate(point.period_start), point.tickets]),
      }}
    >
      <ColumnChart
        unit="tickets"
        columns={sparseLabels(
          trend,
          (point) => shortDate(point.period_start),
          (point) => point.tickets,
        )}
      />
    </ChartFigure>
  );
}

const hourName = (hour: number) => `${String(hour).padStart(2, "0")}:00`;

/** Inbound messages by hour of day and by weekday, from the 7 x 24 matrix. */
export function PeakHoursWidgets({ peakHours }: { peakHours: number[][] }) {
  const byHour = Array.from({ length: 24 }, (_, hour) =>
    peakHours.reduce((sum, day) => sum + (day[hour] ?? 0), 0),
  );
  const byDay = peakHours.map((day) => day.reduce((sum, count) => sum + count, 0));
  const peakHour = byHour.indexOf(Math.max(...byHour));
  const total = byHour.reduce((sum, count) => sum + count, 0);
  return (
    <>
      <ChartFigure
        caption="Inbound messages by hour of day"
        summary={
          total > 0
            ? `Busiest hour: ${hourName(peakHour)} (${byHour[peakHour]})`
            : "No inbound messages"
        }
        data={{
          columns: ["Hour", "Messages"],
          rows: byHour.map((count, hour) => [hourName(hour), count]),
        }}
      >
        <ColumnChart
          unit="messages"
          columns={byHour.map((count, hour) => ({
            label: String(hour),
            value: count,
            showLabel: hour % 3 === 0,
          }))}
        />
      </ChartFigure>
      <ChartFigure
        caption="Inbound messages by day of week"
        data={{
          columns: ["Day", "Messages"],
          rows: byDay.map((count, day) => [WEEKDAYS[day] ?? "", count]),
        }}
      >
        <ColumnChart
          unit="messages"
          columns={byDay.map((count, day) => ({
            label: (WEEKDAYS[day] ?? "").slice(0, 3),
            value: count,
            showLabel: true,
          }))}
        />
      </ChartFigure>
    </>
  );
}

function minutes(value: number | null | undefined): string {
  return value === null || value === undefined ? "no data" : formatDuration(value * 60);
}

export function TimesWidget({ times }: { times: TimeFigures }) {
  const figures: [string, string, number | null | undefined][] = [
    ["First response, median", "Response, median", times.median_response_minutes],
    ["First response, 90th percentile", "Response, p90", times.p90_response_minutes],
    ["Resolution, median", "Resolution, median", times.median_resolution_minutes],
    ["Resolution, 90th percentile", "Resolution, p90", times.p90_resolution_minutes],
  ];
  return (
    <ChartFigure
      caption="First-response and resolution times"
      summary={
        `Median first response ${minutes(times.median_response_minutes)}, ` +
        `median resolution ${minutes(times.median_resolution_minutes)}`
      }
      data={{
        columns: ["Figure", "Time"],
        rows: figures.map(([label, , value]) => [label, minutes(value)]),
      }}
    >
      <BarList
        bars={figures.map(([, short, value], index) => ({
          label: short,
          value: value ?? null,
          display: minutes(value),
          tone: index < 2 ? "" : "alt",
        }))}
      />
    </ChartFigure>
  );
}

export function SlaWidget({ sla }: { sla: SlaCompliance }) {
  const decided = sla.met + sla.breached;
  const metWidth = decided === 0 ? 0 : (640 * sla.met) / decided;
  const percent = sla.percent ?? null;
  return (
    <ChartFigure
      caption="SLA compliance"
      summary={
        percent === null
          ? "No SLA clock decided in this period"
          : `${percent}% met: ${sla.met} met, ${sla.breached} breached`
      }
      data={{
        columns: ["Outcome", "Clocks"],
        rows: [
          ["Met", sla.met],
          ["Breached", sla.breached],
        ],
      }}
    >
      <svg viewBox="0 0 640 56" role="presentation" class="chart-svg">
        <rect x={0} y={4} width={640} height={28} class="chart-track" />
        <rect x={0} y={4} width={metWidth} height={28} class="chart-bar ok" />
        <rect
          x={metWidth}
          y={4}
          width={decided === 0 ? 0 : 640 - metWidth}
          height={28}
          class="chart-bar danger"
        />
        <text x={0} y={50} class="chart-label">{`Met ${sla.met}`}</text>
        <text x={640} y={50} text-anchor="end" class="chart-label">
          {`Breached ${sla.breached}`}
        </text>
      </svg>
    </ChartFigure>
  );
}

export function AgentsWidget({ agents }: { agents: AgentLoad[] }) {
  return (
    <ChartFigure
      caption="Agent load"
      summary={
        agents.length === 0
          ? "No assigned tickets in this period"
          : `${plural(agents.length, "agent", "agents")}, most tickets first`
      }
      data={{
        columns: ["Agent", "Tickets handled", "Resolved"],
        rows: agents.map((agent) => [
          agent.full_name,
          agent.tickets_handled,
          agent.tickets_resolved,
        ]),
      }}
    >
      <BarList
        bars={agents.map((agent) => ({
          label: agent.full_name,
          value: agent.tickets_handled,
          display: `${agent.tickets_handled} (${agent.tickets_resolved} resolved)`,
        }))}
      />
    </ChartFigure>
  );
}
