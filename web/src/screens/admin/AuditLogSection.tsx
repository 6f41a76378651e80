// The audit log: who changed what in the tenant, with filters and paging.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { ErrorBanner, Field, Loading, Page } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { useLoad } from "../../ui/useLoad";
import { AdminTable, DirectoryError, PagerControls, useDirectory, usePager } from "./kit";
import { LogFilters, TextFilter, isoOrNull, textOrNull, type Filters } from "./LogFilters";

export function AuditLogSection() {
  const directory = useDirectory();
  const pager = usePager();
  const [draft, setDraft] = useState<Filters>({});
  const [filters, setFilters] = useState<Filters>({});
  const list = useLoad(
    () =>
      api.GET("/admin/audit-log", {
        params: {
          query: {
            since: isoOrNull(filters.since),
            until: isoOrNull(filters.until),
            actor_user_id: textOrNull(filters.actor),
            action: textOrNull(filters.action),
            object_type: textOrNull(filters.object_type),
            object_id: textOrNull(filters.object_id),
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
    <Page title="Audit log">
      <DirectoryError directory={directory} />
      <LogFilters
        label="Audit log filters"
        draft={draft}
        setDraft={setDraft}
        onApply={() => apply(draft)}
        onClear={() => {
          setDraft({});
          apply({});
        }}
      >
        <Field label="Actor">
          <select value={draft.actor ?? ""} onChange={(e) => setDraft({ ...draft, actor: e.currentTarget.value })}>
            <option value="">Anyone</option>
            {directory.users.map((user) => (
              <option key={user.id} value={user.id}>
                {user.full_name}
              </option>
            ))}
          </select>
        </Field>
        <TextFilter label="Action" name="action" draft={draft} setDraft={setDraft} />
        <TextFilter label="Object type" name="object_type" draft={draft} setDraft={setDraft} />
        <TextFilter label="Object id" name="object_id" draft={draft} setDraft={setDraft} />
      </LogFilters>
      <ErrorBanner message={list.error} />
      {list.loading && !list.data ? <Loading what="Loading the audit log" /> : null}
      {list.data ? (
        <AdminTable
          caption="Audit log"
          head={["Time", "Actor", "Action", "Object", "IP", "Detail"]}
          empty="No audit log rows match."
          count={rows.length}
        >
          {rows.map((row) => (
            <tr key={row.id}>
              <td class="admin-nowrap">{formatDateTime(row.created_at)}</td>
              <td>{row.actor_user_id ? directory.userName(row.actor_user_id) : "system"}</td>
              <td>{row.action}</td>
              <td class="admin-wrap">
                {row.object_type} <span class="muted">{row.object_id}</span>
              </td>
              <td>{row.ip || "—"}</td>
              <td class="admin-wrap">
                {Object.keys(row.detail).length ? <code>{JSON.stringify(row.detail)}</code> : "—"}
              </td>
            </tr>
          ))}
        </AdminTable>
      ) : null}
      <PagerControls pager={pager} nextCursor={list.data?.next_cursor} />
    </Page>
  );
}
