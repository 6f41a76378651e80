// The audit log: who changed what in the tenant, with filters and paging.
import { api } from "../../api/client";
import { Page } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { UserSelect } from "./IdSelect";
import { DirectoryError, useDirectory, type Schema } from "./kit";
import { PagedTable } from "./listViews";
import { LogFilters, TextFilter, isoOrNull, textOrNull, useFilteredLog } from "./LogFilters";

type Entry = Schema<"AuditEntryView">;

export function AuditLogSection() {
  const directory = useDirectory();
  const log = useFilteredLog((filters, cursor) =>
    api.GET("/admin/audit-log", {
      params: {
        query: {
          since: isoOrNull(filters.since),
          until: isoOrNull(filters.until),
          actor_user_id: textOrNull(filters.actor),
          action: textOrNull(filters.action),
          object_type: textOrNull(filters.object_type),
          object_id: textOrNull(filters.object_id),
          cursor,
          limit: 50,
        },
      },
    }),
  );
  const { draft, setDraft } = log;

  return (
    <Page title="Audit log">
      <DirectoryError directory={directory} />
      <LogFilters label="Audit log filters" {...log.form}>
        <UserSelect
          label="Actor"
          none="Anyone"
          options={directory.users}
          value={draft.actor ?? ""}
          onChange={(actor) => setDraft({ ...draft, actor })}
        />
        <TextFilter label="Action" name="action" draft={draft} setDraft={setDraft} />
        <TextFilter label="Object type" name="object_type" draft={draft} setDraft={setDraft} />
        <TextFilter label="Object id" name="object_id" draft={draft} setDraft={setDraft} />
      </LogFilters>
      <PagedTable
        list={log.list}
        pager={log.pager}
        loading="Loading the audit log"
        caption="Audit log"
        head={["Time", "Actor", "Action", "Object", "IP", "Detail"]}
        empty="No audit log rows match."
        row={(row: Entry) => (
          <tr key={row.id}>
            <td class="admin-nowrap">{formatDateTime(row.created_at)}</td>
            <td>{row.actor_user_id ? directory.userName(row.actor_user_id) : "system"}</td>
            <td>{row.action}</td>
            <td class="admin-wrap">
              {row.object_type} <span class="muted">{row.object_id}</span>
            </td>
            <td>{row.ip || "—"}</td>
            <td class="admin-wrap">{Object.keys(row.detail).length ? <code>{JSON.stringify(row.detail)}</code> : "—"}</td>
          </tr>
        )}
      />
    </Page>
  );
}
