// A user's or an account's assignments: the table, with add, change and remove.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge, ErrorBanner, Loading } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { AssignmentForm, assignmentValues, newAssignment, type AssignmentValues } from "./AssignmentForm";
import { ActionStatus, AdminTable, confirmed, useAction, type Directory, type Schema } from "./kit";

type Assignment = Schema<"AssignmentView">;

const FLAG_NAMES: [keyof Assignment, string][] = [
  ["can_send", "send"],
  ["can_receive", "receive"],
  ["can_delete", "delete"],
  ["can_assign_others", "assign others"],
];

export function AssignmentsPanel({
  of,
  id,
  directory,
}: {
  of: "user" | "account";
  id: string;
  directory: Directory;
}) {
  const list = useLoad(
    () =>
      of === "user"
        ? api.GET("/admin/users/{user_id}/assignments", { params: { path: { user_id: id } } })
        : api.GET("/admin/accounts/{account_id}/assignments", { params: { path: { account_id: id } } }),
    [of, id],
  );
  const action = useAction();
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const rows = (list.data?.items ?? []).filter((row) => row.is_active);

  function add(values: AssignmentValues) {
    void action.run(
      () => api.POST("/admin/assignments", { body: values }),
      () => {
        setAdding(false);
        list.reload();
      },
      "Assignment added.",
    );
  }

  function change(assignment: Assignment, values: AssignmentValues) {
    const { user_id: _user, account_id: _account, ...body } = values;
    void action.run(
      () => api.PATCH("/admin/assignments/{assignment_id}", { params: { path: { assignment_id: assignment.id } }, body }),
      () => {
        setEditing(null);
        list.reload();
      },
      "Assignment saved.",
    );
  }

  function remove(assignment: Assignment) {
    const what = `${directory.userName(assignment.user_id)} on ${directory.accountName(assignment.account_id)}`;
    if (!confirmed(`Remove the assignment of ${what}? They lose access to the mailbox at once.`)) return;
    void action.run(
      () => api.DELETE("/admin/assignments/{assignment_id}", { params: { path: { assignment_id: assignment.id } } }),
      () => list.reload(),
      "Assignment removed.",
    );
  }

  const other = of === "user" ? "Email account" : "User";
  const editingRow = rows.find((row) => row.id === editing);
  return (
    <div class="admin-assignments">
      <ActionStatus action={action} />
      <ErrorBanner message={list.error} />
      {list.loading && !list.data ? <Loading what="Loading assignments" /> : null}
      {list.data ? (
        <AdminTable
          caption="Assignments"
          head={[other, "Role", "Rights", "Priority", "Actions"]}
          empty="No assignments yet."
          count={rows.length}
        >
          {rows.map((row) => (
            <tr key={row.id}>
              <td>{of === "user" ? directory.accountName(row.account_id) : directory.userName(row.user_id)}</td>
              <td>
                <Badge tone={row.role === "primary" ? "accent" : ""}>{row.role}</Badge>
              </td>
              <td>
                {FLAG_NAMES.filter(([flag]) => row[flag])
                  .map(([, name]) => name)
                  .join(", ") || "none"}
              </td>
              <td>{row.priority}</td>
              <td class="admin-row-actions">
                <button type="button" onClick={() => setEditing(row.id)}>
                  Edit assignment
                </button>
                <button type="button" class="danger" disabled={action.busy} onClick={() => remove(row)}>
                  Remove assignment
                </button>
              </td>
            </tr>
          ))}
        </AdminTable>
      ) : null}
      {editingRow ? (
        <AssignmentForm
          key={editingRow.id}
          title={`Edit the assignment of ${of === "user" ? directory.accountName(editingRow.account_id) : directory.userName(editingRow.user_id)}`}
          submit="Save assignment"
          initial={assignmentValues(editingRow)}
          pick="none"
          directory={directory}
          busy={action.busy}
          onSubmit={(values) => change(editingRow, values)}
          onCancel={() => setEditing(null)}
        />
      ) : null}
      {adding ? (
        <AssignmentForm
          title="Add an assignment"
          submit="Add assignment"
          initial={newAssignment(of === "user" ? id : "", of === "account" ? id : "")}
          pick={of === "user" ? "account" : "user"}
          directory={directory}
          busy={action.busy}
          onSubmit={add}
          onCancel={() => setAdding(false)}
        />
      ) : (
        <button type="button" onClick={() => setAdding(true)}>
          Add assignment
        </button>
      )}
    </div>
  );
}
