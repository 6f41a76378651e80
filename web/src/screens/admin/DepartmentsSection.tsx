// Departments: list, create, edit, delete, and their managers.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { ErrorBanner, Field, Loading, Page } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { DepartmentManagers } from "./DepartmentManagers";
import { ActionStatus, AdminTable, FormCard, confirmed, useAction, useDirectory, type Schema } from "./kit";

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
  const list = useLoad(() => api.GET("/admin/departments"), []);
  const directory = useDirectory();
  const action = useAction();
  const [form, setForm] = useState<"new" | string | null>(null);
  const [managing, setManaging] = useState<string | null>(null);
  const rows = list.data?.items ?? [];
  const editing = rows.find((row) => row.id === form);
  const managed = rows.find((row) => row.id === managing);
  const done = () => {
    setForm(null);
    list.reload();
    directory.reload();
  };

  function remove(department: Department) {
    if (!confirmed(`Delete the department ${department.name}?`)) return;
    void action.run(
      () => api.DELETE("/admin/departments/{department_id}", { params: { path: { department_id: department.id } } }),
      () => {
        if (managing === department.id) setManaging(null);
        done();
      },
      "Department deleted.",
    );
  }

  return (
    <Page
      title="Departments"
      actions={
        <button type="button" class="primary" onClick={() => setForm("new")}>
          New department
        </button>
      }
    >
      <ActionStatus action={action} />
      <ErrorBanner message={list.error} />
      {form === "new" ? (
        <DepartmentForm
          busy={action.busy}
          onSubmit={(body) => void action.run(() => api.POST("/admin/departments", { body }), done, "Department created.")}
          onCancel={() => setForm(null)}
        />
      ) : null}
      {editing ? (
        <DepartmentForm
          key={editing.id}
          department={editing}
          busy={action.busy}
          onSubmit={(body) =>
            void action.run(
              () =>
                api.PATCH("/admin/departments/{department_id}", { params: { path: { department_id: editing.id } }, body }),
              done,
              "Department saved.",
            )
          }
          onCancel={() => setForm(null)}
        />
      ) : null}
      {list.loading && !list.data ? <Loading what="Loading departments" /> : null}
      {list.data ? (
        <AdminTable
          caption="Departments"
          head={["Name", "Routing", "Description", "Actions"]}
          empty="No departments yet."
          count={rows.length}
        >
          {rows.map((row) => (
            <tr key={row.id}>
              <td>{row.name}</td>
              <td>{STRATEGIES.find((s) => s.value === row.routing_strategy)?.label ?? row.routing_strategy}</td>
              <td>{row.description}</td>
              <td class="admin-row-actions">
                <button type="button" aria-label={`Edit ${row.name}`} onClick={() => setForm(row.id)}>
                  Edit
                </button>
                <button type="button" aria-label={`Managers of ${row.name}`} onClick={() => setManaging(row.id)}>
                  Managers
                </button>
                <button type="button" class="danger" aria-label={`Delete ${row.name}`} onClick={() => remove(row)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </AdminTable>
      ) : null}
      {managed ? (
        <section class="card admin-detail" aria-labelledby="admin-managers-head">
          <header class="admin-detail-head">
            <h2 id="admin-managers-head">Managers of {managed.name}</h2>
            <button type="button" class="link admin-close" onClick={() => setManaging(null)}>
              Close
            </button>
          </header>
          <DepartmentManagers key={managed.id} departmentId={managed.id} directory={directory} />
        </section>
      ) : null}
    </Page>
  );
}
