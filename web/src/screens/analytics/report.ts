// Loading a report for a scope and period, and downloading the same report as CSV.
import { api, fetchWithSession } from "../../api/client";
import type { components } from "../../api/schema";
import type { ApiResult } from "../../ui/useLoad";
import type { Scope } from "./scopes";

type Schemas = components["schemas"];
export type Granularity = "day" | "week";

export interface Period {
  from?: string;
  to?: string;
  granularity: Granularity;
}

export type Report =
  | { kind: "me"; data: Schemas["MyPerformance"] }
  | { kind: "account"; data: Schemas["AccountStatistics"] }
  | { kind: "department"; data: Schemas["DepartmentOverview"] };

/** The typed call's outcome as a report of its kind, or its error. */
function asReport(
  result: { data?: Report["data"]; error?: unknown },
  wrap: (data: never) => Report,
): ApiResult<Report> {
  if (result.data === undefined) return { error: result.error ?? {} };
  return { data: wrap(result.data as never) };
}

function queryOf(period: Period) {
  return {
    granularity: period.granularity,
    ...(period.from ? { from: period.from } : {}),
    ...(period.to ? { to: period.to } : {}),
  };
}

export async function loadReport(scope: Scope, period: Period): Promise<ApiResult<Report>> {
  const query = queryOf(period);
  switch (scope.kind) {
    case "account":
      return asReport(
        await api.GET("/analytics/accounts/{account_id}", {
          params: { path: { account_id: scope.id }, query },
        }),
        (data: Schemas["AccountStatistics"]) => ({ kind: "account", data }),
      );
    case "department":
      return asReport(
        await api.GET("/analytics/departments/{department_id}", {
          params: { path: { department_id: scope.id }, query },
        }),
        (data: Schemas["DepartmentOverview"]) => ({ kind: "department", data }),
      );
    default:
      return asReport(
        await api.GET("/analytics/me", { params: { query } }),
        (data: Schemas["MyPerformance"]) => ({ kind: "me", data }),
      );
  }
}

function exportPath(scope: Scope): string {
  switch (scope.kind) {
    case "account":
      return `/analytics/accounts/${encodeURIComponent(scope.id)}/export.csv`;
    case "department":
      return `/analytics/departments/${encodeURIComponent(scope.id)}/export.csv`;
    default:
      return "/analytics/me/export.csv";
  }
}

/** The file name the gateway proposes in Content-Disposition, or a plain fallback. */
function fileName(response: Response): string {
  const header = response.headers.get("content-disposition") ?? "";
  const match = /filename="([^"]+)"/.exec(header);
  return match?.[1] ?? "analytics.csv";
}

/** Fetches the CSV with the session's token and hands it to the browser as a download;
 * throws a message for the user when the gateway refuses. */
export async function downloadCsv(scope: Scope, period: Period): Promise<void> {
  const search = new URLSearchParams(queryOf(period));
  const response = await fetchWithSession(`${exportPath(scope)}?${search.toString()}`);
  if (!response.ok) throw new Error(`The export failed (HTTP ${response.status}).`);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName(response);
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
