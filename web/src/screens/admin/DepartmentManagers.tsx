// A department's managers: the users who hear about its SLA warnings and breaches.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { ErrorBanner, Loading } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { ActionStatus, Check, useAction, type Directory } from "./kit";

export function DepartmentManagers({ departmentId, directory }: { departmentId: string; directory: Directory }) {
  const managers = useLoad(
    () => api.GET("/admin/departments/{department_id}/managers", { params: { path: { department_id: departmentId } } }),
    [departmentId],
  );
  const action = useAction();
  // The user's choice once they tick a box (null: the stored managers). Derived rather than
  // copied in an effect, so a box ticked while the managers load is not reset by their arrival.
  const [edited, setEdited] = useState<string[] | null>(null);
  const chosen = edited ?? managers.data?.user_ids ?? [];

  function save() {
    void action.run(
      () =>
        api.PUT("/admin/departments/{department_id}/managers", {
          params: { path: { department_id: departmentId } },
          body: { user_ids: chosen },
        }),
      () => managers.reload(),
      "Managers saved.",
    );
  }

  const candidates = directory.users.filter((user) => user.is_active || chosen.includes(user.id));
  return (
    <form
      class="admin-managers"
      aria-label="Managers"
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
    >
      <ErrorBanner message={managers.error} />
      <ActionStatus action={action} />
      {managers.loading && !managers.data ? <Loading what="Loading managers" /> : null}
      <fieldset class="admin-flags">
        <legend>Managers (notified of SLA warnings and breaches)</legend>
        {candidates.length === 0 ? <p class="muted">No users.</p> : null}
        {candidates.map((user) => (
          <Check
            key={user.id}
            label={`${user.full_name} (${user.email})`}
            checked={chosen.includes(user.id)}
            onChange={(checked) =>
              setEdited(checked ? [...chosen, user.id] : chosen.filter((id) => id !== user.id))
            }
          />
        ))}
      </fieldset>
      <button type="submit" class="primary" disabled={action.busy || !managers.data}>
        Save managers
      </button>
    </form>
  );
}
