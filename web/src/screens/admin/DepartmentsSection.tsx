// Departments: list, create, edit, delete, and their managers.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Field, Page } from "../../ui/components";
import { DepartmentManagers } from "./DepartmentManagers";
import { FormCard, useCrudList, useDirectory, type Schema } from "./kit";
import { AdminDetail, CrudRowActions, CrudStatus, LoadedTable, NewButton } from "./listViews";

type Department = Schema<"DepartmentView">;
type Strategy = Schema<"DepartmentCreate">["routing_strategy"];

const STRATEGIES: { value: NonNullable<Strategy>; label: string }[] = [
  { value: "primary", label: "Primary first" },
  { value: "priority", label: "By assignment priority" },
  { value: "round_robin", label: "Round robin" },
  { value: "least_open", label: "Fewest open tickets" },
];

function DepartmentForm({
  department,
  busy,
  onSubmit,
  onCancel,
}: {
  department?: Department;
  busy: boolean;
  onSubmit: (values: { name: string; description: string; routing_strategy: NonNullable<Strategy> }) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState(department?.name ?? "");
  const [description, setDescription] = useState(department?.description ?? "");
  const [strategy, setStrategy] = useState((department?.routing_strategy ?? "primary") as NonNullable<Strategy>);
  return (
    <FormCard
      title={department ? `Edit ${department.name}` : "New department"}
      submit={department ? "Save department" : "Create department"}
      busy={busy}
      onSubmit={() => onSubmit({ name, description, routing_strategy: strategy })}
      onCancel={onCancel}
    >
      <Field label="Name">
        <input required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field label="Routing strategy">
        <select value={strategy} onChange={(e) => setStrategy(e.currentTarget.value as NonNullable<Strategy>)}>
          {STRATEGIES.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Description">
        <textarea maxLength={2000} rows={3} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </Field>
    </FormCard>
  );
}

export function DepartmentsSection() {
  const directory = useDirectory();
  const [managing, setManaging] = useState<string | null>(null);
  const crud = useCrudList(() => api.GET("/admin/departments"), {
    remove: (row) => api.DELETE("/admin/departments/{department_id}", { params: { path: { department_id: row.id } } }),
    confirm: (row) => `Delete the department ${row.name}?`,
    removed: "Department deleted.",
    onRemoved: (row) => {
      if (managing === row.id) setManaging(null);
    },
    onChange: directory.reload,
  });
  const { action, editing } = crud;
  const managed = crud.rows.find((row) => row.id === managing);

  return (
    <Page title="Departments" actions={<NewButton label="New department" onClick={crud.openNew} />}>
      <CrudStatus crud={crud} />
      {crud.creating ? (
        <DepartmentForm
          busy={action.busy}
          onSubmit={(body) => crud.submit(() => api.POST("/admin/departments", { body }), "Department created.")}
          onCancel={crud.close}
        />
      ) : null}
      {editing ? (
        <DepartmentForm
          key={editing.id}
          department={editing}
          busy={action.busy}
          onSubmit={(body) =>
            crud.submit(
              () =>
                api.PATCH("/admin/departments/{department_id}", { params: { path: { department_id: editing.id } }, body }),
              "Department saved.",
            )
          }
          onCancel={crud.close}
        />
      ) : null}
      <LoadedTable
        list={crud.list}
        loading="Loading departments"
        caption="Departments"
        head={["Name", "Routing", "Description", "Actions"]}
        empty="No departments yet."
        row={(row: Department) => (
          <tr key={row.id}>
            <td>{row.name}</td>
            <td>{STRATEGIES.find((s) => s.value === row.routing_strategy)?.label ?? row.routing_strategy}</td>
            <td>{row.description}</td>
            <CrudRowActions crud={crud} row={row} name={row.name}>
              <button type="button" aria-label={`Managers of ${row.name}`} onClick={() => setManaging(row.id)}>
                Managers
              </button>
            </CrudRowActions>
          </tr>
        )}
      />
      {managed ? (
        <AdminDetail id="admin-managers-head" title={`Managers of ${managed.name}`} onClose={() => setManaging(null)}>
          <DepartmentManagers key={managed.id} departmentId={managed.id} directory={directory} />
        </AdminDetail>
      ) : null}
    </Page>
  );
}
