// One report: its headline figures and the widgets its kind has.
import type { Report } from "./report";
import { AgentsWidget, PeakHoursWidgets, SlaWidget, TimesWidget, TrendWidget } from "./widgets";

const longDay = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });

function day(isoDate: string): string {
  return longDay.format(new Date(`${isoDate}T00:00:00Z`));
}

function headline(report: Report): { title: string; figures: [string, number][] } {
  switch (report.kind) {
    case "me":
      return {
        title: "My performance",
        figures: [
          ["Tickets handled", report.data.tickets_handled],
          ["Resolved", report.data.tickets_resolved],
          ["Replies sent", report.data.replies_sent],
        ],
      };
    case "account":
      return {
        title: report.data.display_name
          ? `${report.data.display_name} <${report.data.address}>`
          : report.data.address,
        figures: [["Tickets", report.data.tickets]],
      };
    case "department":
      return {
        title: report.data.name,
        figures: [
          ["Tickets", report.data.tickets],
          ["Open backlog now", report.data.open_backlog],
        ],
      };
  }
}

export function ReportView({ report }: { report: Report }) {
  const { title, figures } = headline(report);
  const period = report.data.period;
  return (
    <section class="report" aria-labelledby="report-title">
      <h2 id="report-title">{title}</h2>
      <p class="muted">
        {day(period.start)} – {day(period.end)}, counted in {period.timezone}; tickets created in
        the period.
      </p>
      <dl class="report-figures">
        {figures.map(([label, value]) => (
          <div key={label} class="card">
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <div class="report-grid">
        <TrendWidget trend={report.data.trend} granularity={period.granularity} />
        {report.kind === "account" ? <PeakHoursWidgets peakHours={report.data.peak_hours} /> : null}
        <TimesWidget times={report.data.times} />
        <SlaWidget sla={report.data.sla} />
        {report.kind === "department" ? <AgentsWidget agents={report.data.agents} /> : null}
      </div>
    </section>
  );
}
