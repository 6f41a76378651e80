// One user: edit, reset the password, deactivate, and their assignments.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge } from "../../ui/components";
import { AssignmentsPanel } from "./AssignmentsPanel";
import { ActionStatus, OneTimeSecret, confirmed, useAction, type Directory, type Schema } from "./kit";
import { UserDeactivateForm } from "./UserDeactivateForm";
import { UserEditForm } from "./UserForms";

type User = Schema<"UserView">;

export function UserDetail({
  user,
  directory,
  onChanged,
  onClose,
}: {
  user: User;
  directory: Directory;
  /** After a change; `message` is for the list, as a deactivated user may leave it. */
  onChanged: (message?: string) => void;
  onClose: () => void;
}) {
  const action = useAction();
  const [editing, setEditing] = useState(false);
  const [password, setPassword] = useState<string | null>(null);
  const [deactivating, setDeactivating] = useState(false);

  function resetPassword() {
    if (!confirmed(`Reset the password of ${user.full_name}? Every session of theirs ends.`)) return;
    void action.run(
      () => api.POST("/admin/users/{user_id}/password", { params: { path: { user_id: user.id } }, body: {} }),
      (done) => setPassword(done?.temporary_password ?? null),
      "Password reset.",
    );
  }

  return (
    <section class="card admin-detail" aria-labelledby="admin-user-detail">
      <header class="admin-detail-head">
        <h2 id="admin-user-detail">{user.full_name}</h2>
        <span class="muted">{user.email}</span>
        <Badge tone={user.role === "admin" ? "accent" : ""}>{user.role}</Badge>
        {user.is_active ? null : <Badge tone="danger">deactivated</Badge>}
        <button type="button" class="link admin-close" onClick={onClose}>
          Close
        </button>
      </header>
      <p class="muted">
        Department: {directory.departmentName(user.department_id)}
        {user.job_title ? ` · ${user.job_title}` : ""} · Time zone {user.timezone}
      </p>
      <ActionStatus action={action} />
      <OneTimeSecret label="Temporary password" value={password} onDismiss={() => setPassword(null)} />
      <div class="admin-row-actions">
        <button type="button" onClick={() => setEditing(true)}>
          Edit user
        </button>
        <button type="button" disabled={action.busy || !user.is_active} onClick={resetPassword}>
          Reset password
        </button>
        <button
          type="button"
          class="danger"
          disabled={action.busy || !user.is_active}
          onClick={() => setDeactivating(true)}
        >
          Deactivate user
        </button>
      </div>
      {deactivating ? (
        <UserDeactivateForm
          user={user}
          directory={directory}
          onDeactivated={(message) => {
            setDeactivating(false);
            onChanged(message);
          }}
          onCancel={() => setDeactivating(false)}
        />
      ) : null}
      {editing ? (
        <UserEditForm
          user={user}
          directory={directory}
          onSaved={() => {
            setEditing(false);
            onChanged();
          }}
          onCancel={() => setEditing(false)}
        />
      ) : null}
      <h3>Assignments</h3>
      <AssignmentsPanel of="user" id={user.id} directory={directory} />
    </section>
  );
}
