// SLA policies: list, create, edit, delete.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge, ErrorBanner, Loading, Page } from "../../ui/components";
import { formatDuration } from "../../ui/format";
import { useLoad } from "../../ui/useLoad";
import { ActionStatus, AdminTable, confirmed, useAction, useDirectory, type Schema } from "./kit";
import { SlaForm, type SlaBody } from "./SlaForm";

type Policy = Schema<"SlaPolicyView">;

const minutes = (value: number | null) => (value === null ? "—" : formatDuration(value * 60));

export function SlaSection() {
  const list = useLoad(() => api.GET("/admin/sla-policies"), []);
  const directory = useDirectory();
  const action = useAction();
  const [form, setForm] = useState<"new" | string | null>(null);
  const rows = list.data?.items ?? [];
  const editing = rows.find((row) => row.id === form);
  const done = () => {
    setForm(null);
    list.reload();
  };

  function create(body: SlaBody) {
    void action.run(
      () =>
        api.POST("/admin/sla-policies", {
          body: {
            ...body,
            name: body.name ?? "",
            business_hours: body.business_hours ?? false,
            timezone: body.timezone ?? "UTC",
            working_hours: body.working_hours ?? {},
            holidays: body.holidays ?? [],
            warning_percent: body.warning_percent ?? 80,
          },
        }),
      done,
      "Policy created.",
    );
  }

  function remove(policy: Policy) {
    if (!confirmed(`Delete the SLA policy ${policy.name}?`)) return;
    void action.run(
      () => api.DELETE("/admin/sla-policies/{policy_id}", { params: { path: { policy_id: policy.id } } }),
      done,
      "Policy deleted.",
    );
  }

  const scope = (policy: Policy) =>
    [
      policy.account_id ? directory.accountName(policy.account_id) : null,
      policy.department_id ? directory.departmentName(policy.department_id) : null,
      policy.priority ? `${policy.priority} priority` : null,
    ]
      .filter(Boolean)
      .join(" · ") || "Whole tenant";

  return (
    <Page
      title="SLA policies"
      actions={
        <button type="button" class="primary" onClick={() => setForm("new")}>
          New policy
        </button>
      }
    >
      <ActionStatus action={action} />
      <ErrorBanner message={list.error} />
      {form === "new" ? (
        <SlaForm directory={directory} busy={action.busy} onSubmit={create} onInvalid={action.setError} onCancel={() => setForm(null)} />
      ) : null}
      {editing ? (
        <SlaForm
          key={editing.id}
          policy={editing}
          directory={directory}
          busy={action.busy}
          onSubmit={(body) =>
            void action.run(
              () => api.PATCH("/admin/sla-policies/{policy_id}", { params: { path: { policy_id: editing.id } }, body }),
              done,
              "Policy saved.",
            )
          }
          onInvalid={action.setError}
          onCancel={() => setForm(null)}
        />
      ) : null}
      {list.loading && !list.data ? <Loading what="Loading SLA policies" /> : null}
      {list.data ? (
        <AdminTable
          caption="SLA policies"
          head={["Name", "Scope", "First response", "Resolution", "Calendar", "Actions"]}
          empty="No SLA policies yet."
          count={rows.length}
        >
          {rows.map((row) => (
            <tr key={row.id}>
              <td>
                {row.name} {row.is_active ? null : <Badge>inactive</Badge>}
              </td>
              <td>{scope(row)}</td>
              <td>{minutes(row.first_response_minutes)}</td>
              <td>{minutes(row.resolution_minutes)}</td>
              <td>{row.business_hours ? `business hours (${row.timezone})` : "calendar time"}</td>
              <td class="admin-row-actions">
                <button type="button" aria-label={`Edit ${row.name}`} onClick={() => setForm(row.id)}>
                  Edit
                </button>
                <button type="button" class="danger" aria-label={`Delete ${row.name}`} onClick={() => remove(row)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </AdminTable>
      ) : null}
    </Page>
  );
}
