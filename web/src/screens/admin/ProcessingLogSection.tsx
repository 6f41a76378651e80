// The processing log: what the mail pipeline (ingest, parser, router) did with each mail.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge, ErrorBanner, Field, Loading, Page } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { useLoad } from "../../ui/useLoad";
import { AdminTable, PagerControls, usePager } from "./kit";
import { LogFilters, TextFilter, isoOrNull, textOrNull, type Filters } from "./LogFilters";

const STAGES = ["ingest", "parser", "router"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function ProcessingLogSection() {
  const pager = usePager();
  const [draft, setDraft] = useState<Filters>({});
  const [filters, setFilters] = useState<Filters>({});
  const eventId = textOrNull(filters.event_id);
  const badEventId = eventId !== null && !UUID.test(eventId);
  const list = useLoad(
    () =>
      api.GET("/admin/processing-logs", {
        params: {
          query: {
            since: isoOrNull(filters.since),
            until: isoOrNull(filters.until),
            stage: textOrNull(filters.stage),
            status: textOrNull(filters.status),
            message_id: textOrNull(filters.message_id)?.replace(/^<|>$/g, "") ?? null,
            event_id: badEventId ? null : eventId,
            cursor: pager.cursor ?? null,
            limit: 50,
          },
        },
      }),
    [filters, pager.cursor],
  );
  const rows = list.data?.items ?? [];
  const apply = (next: Filters) => {
    setFilters(next);
    pager.reset();
  };

  return (
    <Page title="Processing log">
      <LogFilters
        label="Processing log filters"
        draft={draft}
        setDraft={setDraft}
        onApply={() => apply(draft)}
        onClear={() => {
          setDraft({});
          apply({});
        }}
      >
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
      {badEventId ? <ErrorBanner message="The event id filter is not a UUID; it is left out." /> : null}
      <ErrorBanner message={list.error} />
      {list.loading && !list.data ? <Loading what="Loading the processing log" /> : null}
      {list.data ? (
        <AdminTable
          caption="Processing log"
          head={["Time", "Stage", "Status", "Message-ID", "Detail"]}
          empty="No processing log rows match."
          count={rows.length}
        >
          {rows.map((row) => (
            <tr key={row.id}>
              <td class="admin-nowrap">{formatDateTime(row.created_at)}</td>
              <td>{row.stage}</td>
              <td>
                <Badge tone={/fail|error|reject/i.test(row.status) ? "danger" : ""}>{row.status}</Badge>
              </td>
              <td class="admin-wrap">{row.message_id_header ?? "—"}</td>
              <td class="admin-wrap">{row.detail || "—"}</td>
            </tr>
          ))}
        </AdminTable>
      ) : null}
      <PagerControls pager={pager} nextCursor={list.data?.next_cursor} />
    </Page>
  );
}
