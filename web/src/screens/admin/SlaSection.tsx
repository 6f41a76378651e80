// SLA policies: list, create, edit, delete.
import { api } from "../../api/client";
import { Badge, Page } from "../../ui/components";
import { formatDuration } from "../../ui/format";
import { useCrudList, useDirectory, type Schema } from "./kit";
import { CrudRowActions, CrudStatus, LoadedTable, NewButton } from "./listViews";
import { SlaForm, type SlaBody } from "./SlaForm";

type Policy = Schema<"SlaPolicyView">;

const minutes = (value: number | null) => (value === null ? "—" : formatDuration(value * 60));

export function SlaSection() {
  const directory = useDirectory();
  const crud = useCrudList(() => api.GET("/admin/sla-policies"), {
    remove: (row) => api.DELETE("/admin/sla-policies/{policy_id}", { params: { path: { policy_id: row.id } } }),
    confirm: (row) => `Delete the SLA policy ${row.name}?`,
    removed: "Policy deleted.",
  });
  const { action, editing } = crud;

  function create(body: SlaBody) {
    crud.submit(
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
      "Policy created.",
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
    <Page title="SLA policies" actions={<NewButton label="New policy" onClick={crud.openNew} />}>
      <CrudStatus crud={crud} />
      {crud.creating ? (
        <SlaForm directory={directory} busy={action.busy} onSubmit={create} onInvalid={action.setError} onCancel={crud.close} />
      ) : null}
      {editing ? (
        <SlaForm
          key={editing.id}
          policy={editing}
          directory={directory}
          busy={action.busy}
          onSubmit={(body) =>
            crud.submit(
              () => api.PATCH("/admin/sla-policies/{policy_id}", { params: { path: { policy_id: editing.id } }, body }),
              "Policy saved.",
            )
          }
          onInvalid={action.setError}
          onCancel={crud.close}
        />
      ) : null}
      <LoadedTable
        list={crud.list}
        loading="Loading SLA policies"
        caption="SLA policies"
        head={["Name", "Scope", "First response", "Resolution", "Calendar", "Actions"]}
        empty="No SLA policies yet."
        row={(row: Policy) => (
          <tr key={row.id}>
            <td>
              {row.name} {row.is_active ? null : <Badge>inactive</Badge>}
            </td>
            <td>{scope(row)}</td>
            <td>{minutes(row.first_response_minutes)}</td>
            <td>{minutes(row.resolution_minutes)}</td>
            <td>{row.business_hours ? `business hours (${row.timezone})` : "calendar time"}</td>
            <CrudRowActions crud={crud} row={row} name={row.name} />
          </tr>
        )}
      />
    </Page>
  );
}
