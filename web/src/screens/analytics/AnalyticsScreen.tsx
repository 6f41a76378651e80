// Analytics (#/analytics): the caller's own figures, a mailbox's or a department's, over a
// period, as SVG charts with their figures as text, and the same report as CSV. The scope
// and the period live in the route's query, so a report can be bookmarked and shared.
import { useEffect, useState } from "preact/hooks";
import { currentUser } from "../../api/session";
import { type Route, navigate } from "../../router";
import { ErrorBanner, Field, Loading, Page } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import "./analytics.css";
import { PeriodPicker } from "./PeriodPicker";
import { type Granularity, type Period, type Report, downloadCsv, loadReport } from "./report";
import { ReportView } from "./ReportView";
import { type Scope, type ScopeOption, parseScope, scopeOptions, scopeValue } from "./scopes";

function periodOf(query: URLSearchParams): Period {
  const granularity: Granularity = query.get("granularity") === "week" ? "week" : "day";
  return {
    from: query.get("from") ?? undefined,
    to: query.get("to") ?? undefined,
    granularity,
  };
}

function show(scope: Scope, period: Period): void {
  navigate("/analytics", {
    scope: scopeValue(scope),
    from: period.from,
    to: period.to,
    granularity: period.granularity === "day" ? undefined : period.granularity,
  });
}

function ScopePicker({ scope, onChange }: { scope: Scope; onChange: (scope: Scope) => void }) {
  const [options, setOptions] = useState<{ mailboxes: ScopeOption[]; departments: ScopeOption[] }>(
    { mailboxes: [], departments: [] },
  );
  useEffect(() => {
    const user = currentUser();
    if (user) void scopeOptions(user).then(setOptions);
  }, []);
  return (
    <Field label="Report">
      <select
        value={scopeValue(scope)}
        onChange={(event) => onChange(parseScope(event.currentTarget.value))}
      >
        <option value="me">My performance</option>
        {options.mailboxes.length ? (
          <optgroup label="Mailboxes">
            {options.mailboxes.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </optgroup>
        ) : null}
        {options.departments.length ? (
          <optgroup label="Departments">
            {options.departments.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </optgroup>
        ) : null}
      </select>
    </Field>
  );
}

function reportPeriod(report: Report | undefined) {
  return report?.data.period;
}

export function AnalyticsScreen({ route }: { route: Route }) {
  const scope = parseScope(route.query.get("scope"));
  const period = periodOf(route.query);
  const report = useLoad(
    () => loadReport(scope, period),
    [scopeValue(scope), period.from, period.to, period.granularity],
  );
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<string | null>(null);

  async function exportCsv(): Promise<void> {
    setExporting(true);
    setExportError(null);
    try {
      await downloadCsv(scope, period);
    } catch (failure) {
      setExportError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setExporting(false);
    }
  }

  return (
    <Page
      title="Analytics"
      actions={
        <button type="button" onClick={() => void exportCsv()} disabled={exporting}>
          {exporting ? "Preparing CSV…" : "Download CSV"}
        </button>
      }
    >
      <div class="analytics-controls">
        <ScopePicker scope={scope} onChange={(next) => show(next, period)} />
        <PeriodPicker
          period={period}
          shown={reportPeriod(report.data)}
          onChange={(next) => show(scope, next)}
        />
      </div>
      <ErrorBanner message={exportError} />
      <ErrorBanner message={report.error} />
      {report.loading && !report.data ? <Loading what="Counting" /> : null}
      {report.data ? <ReportView report={report.data} /> : null}
    </Page>
  );
}
