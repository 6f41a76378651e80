// The processing log: what the mail pipeline (ingest, parser, router) did with each mail.
import { api } from "../../api/client";
import { Badge, ErrorBanner, Field, Page } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { type Schema } from "./kit";
import { PagedTable } from "./listViews";
import { LogFilters, TextFilter, isoOrNull, textOrNull, useFilteredLog, type Filters } from "./LogFilters";

type Entry = Schema<"ProcessingLogView">;

const STAGES = ["ingest", "parser", "router"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The event id filter, and whether it is left out for not being a UUID. */
function eventIdFilter(filters: Filters): { eventId: string | null; bad: boolean } {
  const eventId = textOrNull(filters.event_id);
  return { eventId, bad: eventId !== null && !UUID.test(eventId) };
}

export function ProcessingLogSection() {
  const log = useFilteredLog((filters, cursor) => {
    const { eventId, bad } = eventIdFilter(filters);
    return api.GET("/admin/processing-logs", {
      params: {
        query: {
          since: isoOrNull(filters.since),
          until: isoOrNull(filters.until),
          stage: textOrNull(filters.stage),
          status: textOrNull(filters.status),
          message_id: textOrNull(filters.message_id)?.replace(/^<|>$/g, "") ?? null,
          event_id: bad ? null : eventId,
          cursor,
          limit: 50,
        },
      },
    });
  });
  const { draft, setDraft } = log;

  return (
    <Page title="Processing log">
      <LogFilters label="Processing log filters" {...log.form}>
        <Field label="Stage">
          <select value={draft.stage ?? ""} onChange={(e) => setDraft({ ...draft, stage: e.currentTarget.value })}>
            <option value="">Any stage</option>
            {STAGES.map((stage) => (
              <option key={stage} value={stage}>
                {stage}
              </option>
            ))}
          </select>
        </Field>
        <TextFilter label="Status" name="status" draft={draft} setDraft={setDraft} />
        <TextFilter label="Message-ID" name="message_id" draft={draft} setDraft={setDraft} />
        <TextFilter label="Event id" name="event_id" draft={draft} setDraft={setDraft} />
      </LogFilters>
      {eventIdFilter(log.filters).bad ? <ErrorBanner message="The event id filter is not a UUID; it is left out." /> : null}
      <PagedTable
        list={log.list}
        pager={log.pager}
        loading="Loading the processing log"
        caption="Processing log"
        head={["Time", "Stage", "Status", "Message-ID", "Detail"]}
        empty="No processing log rows match."
        row={(row: Entry) => (
          <tr key={row.id}>
            <td class="admin-nowrap">{formatDateTime(row.created_at)}</td>
            <td>{row.stage}</td>
            <td>
              <Badge tone={/fail|error|reject/i.test(row.status) ? "danger" : ""}>{row.status}</Badge>
            </td>
            <td class="admin-wrap">{row.message_id_header ?? "—"}</td>
            <td class="admin-wrap">{row.detail || "—"}</td>
          </tr>
        )}
      />
    </Page>
  );
}
