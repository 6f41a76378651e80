// Email accounts: list with their numbers, create, edit, deactivate, and their assignments.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge, ErrorBanner, Loading, Page } from "../../ui/components";
import { AccountForm, type AccountBody } from "./AccountForm";
import { AssignmentsPanel } from "./AssignmentsPanel";
import { ActionStatus, AdminTable, confirmed, useAction, useDirectory, type Schema } from "./kit";
import { AdminDetail, NewButton } from "./listViews";

type Account = Schema<"AccountWithStats">;

export function AccountsSection() {
  const directory = useDirectory();
  const action = useAction();
  const [form, setForm] = useState<"new" | string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const rows = directory.accounts;
  const editing = rows.find((row) => row.id === form);
  const chosen = rows.find((row) => row.id === selected);
  const done = () => {
    setForm(null);
    directory.reload();
  };

  function create(body: AccountBody) {
    const { address, kind, is_active: _active, ...rest } = body;
    void action.run(
      () => api.POST("/admin/accounts", { body: { ...rest, address: address ?? "", kind: kind ?? "shared" } }),
      done,
      "Account created.",
    );
  }

  function save(account: Account, body: AccountBody) {
    void action.run(
      () => api.PATCH("/admin/accounts/{account_id}", { params: { path: { account_id: account.id } }, body }),
      done,
      "Account saved.",
    );
  }

  function deactivate(account: Account) {
    if (!confirmed(`Deactivate ${account.address}? It stops receiving and sending mail.`)) return;
    void action.run(
      () => api.POST("/admin/accounts/{account_id}/deactivate", { params: { path: { account_id: account.id } } }),
      done,
      "Account deactivated.",
    );
  }

  return (
    <Page title="Email accounts" actions={<NewButton label="New account" onClick={() => setForm("new")} />}>
      <ActionStatus action={action} />
      <ErrorBanner message={directory.error} />
      {form === "new" ? (
        <AccountForm
          directory={directory}
          busy={action.busy}
          onSubmit={create}
          onInvalid={action.setError}
          onCancel={() => setForm(null)}
        />
      ) : null}
      {editing ? (
        <AccountForm
          key={editing.id}
          account={editing}
          directory={directory}
          busy={action.busy}
          onSubmit={(body) => save(editing, body)}
          onInvalid={action.setError}
          onCancel={() => setForm(null)}
        />
      ) : null}
      {directory.accounts.length === 0 && !directory.error ? <Loading what="Loading accounts" /> : null}
      <AdminTable
        caption="Email accounts"
        head={["Address", "Kind", "Department", "Auto-reply", "Open", "Actions"]}
        empty="No email accounts yet."
        count={rows.length}
      >
        {rows.map((row) => (
          <tr key={row.id}>
            <td>
              {row.address}
              {row.display_name ? <div class="muted">{row.display_name}</div> : null}
              {row.is_active ? null : <Badge tone="danger">deactivated</Badge>}
            </td>
            <td>{row.kind}</td>
            <td>{directory.departmentName(row.department_id)}</td>
            <td>{row.auto_reply_enabled ? <Badge tone="ok">on</Badge> : "off"}</td>
            <td>{row.stats.open_tickets}</td>
            <td class="admin-row-actions">
              <button type="button" aria-label={`Edit ${row.address}`} onClick={() => setForm(row.id)}>
                Edit
              </button>
              <button type="button" aria-label={`Assignments of ${row.address}`} onClick={() => setSelected(row.id)}>
                Assignments
              </button>
              {row.is_active ? (
                <button type="button" class="danger" aria-label={`Deactivate ${row.address}`} onClick={() => deactivate(row)}>
                  Deactivate
                </button>
              ) : null}
            </td>
          </tr>
        ))}
      </AdminTable>
      {chosen ? (
        <AdminDetail id="admin-account-assignments" title={`Assignments of ${chosen.address}`} onClose={() => setSelected(null)}>
          <AssignmentsPanel key={chosen.id} of="account" id={chosen.id} directory={directory} />
        </AdminDetail>
      ) : null}
    </Page>
  );
}
