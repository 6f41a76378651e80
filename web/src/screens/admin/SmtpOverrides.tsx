// The mailboxes with their own SMTP server (an override of the tenant's default): the list,
// adding one for a mailbox without, editing and removing one.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { AccountSelect } from "./IdSelect";
import { AdminTable, confirmed, type Directory, type useAction } from "./kit";
import { ServerForm, lastTest, type Change, type Server } from "./SmtpServerForm";

/** Which override form is open: a mailbox's account id, "new" (its mailbox still to choose), or none. */
export function useOverrideEditor() {
  const [editing, setEditing] = useState<string | null>(null);
  const [newAccount, setNewAccount] = useState("");
  return {
    editing,
    setEditing,
    newAccount,
    setNewAccount,
    close: () => {
      setEditing(null);
      setNewAccount("");
    },
  };
}

export function SmtpOverrides({
  overrides,
  directory,
  action,
  editor,
  onSaved,
}: {
  overrides: Server[];
  directory: Directory;
  action: ReturnType<typeof useAction>;
  editor: ReturnType<typeof useOverrideEditor>;
  onSaved: (message: string) => void;
}) {
  const { editing, setEditing, newAccount, setNewAccount } = editor;
  const withoutOverride = directory.accounts.filter((a) => !overrides.some((o) => o.account_id === a.id));
  const editedOverride = overrides.find((o) => o.account_id === editing) ?? null;
  const editedAccount = editing === "new" ? newAccount : editing;

  function save(accountId: string, change: Change) {
    void action.run(
      () => api.PUT("/admin/smtp/accounts/{account_id}", { params: { path: { account_id: accountId } }, body: change }),
      () => onSaved("The mailbox's SMTP server was saved."),
    );
  }

  function remove(server: Server) {
    const accountId = server.account_id;
    if (!accountId || !confirmed(`Remove the SMTP server of ${server.account_address}? Its mail then goes through the tenant's server.`))
      return;
    void action.run(
      () => api.DELETE("/admin/smtp/accounts/{account_id}", { params: { path: { account_id: accountId } } }),
      () => onSaved("The override was removed."),
    );
  }

  return (
    <>
      <section class="card" aria-label="Mailbox overrides">
        <h2>Mailbox overrides</h2>
        <p class="muted">A mailbox with an active override sends through its own server instead of the default.</p>
        <AdminTable
          caption="Mailbox overrides"
          head={["Mailbox", "Server", "Login", "State", "Last test", "Actions"]}
          empty="No mailbox has its own SMTP server."
          count={overrides.length}
        >
          {overrides.map((server) => (
            <tr key={server.account_id}>
              <td>{server.account_address}</td>
              <td>{`${server.host}:${server.port} (${server.security})`}</td>
              <td>{server.username ? `${server.username}${server.has_password ? ", password set" : ""}` : "no login"}</td>
              <td>{server.is_active ? "active" : "inactive"}</td>
              <td>{lastTest(server)}</td>
              <td>
                <button type="button" class="link" aria-label={`Edit override of ${server.account_address}`} onClick={() => setEditing(server.account_id ?? null)}>
                  Edit
                </button>{" "}
                <button type="button" class="link danger" aria-label={`Remove override of ${server.account_address}`} disabled={action.busy} onClick={() => remove(server)}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </AdminTable>
        {editing === null && withoutOverride.length > 0 ? (
          <button type="button" onClick={() => setEditing("new")}>
            Add override
          </button>
        ) : null}
      </section>
      {editing === "new" ? (
        <AccountSelect
          label="Mailbox to override"
          none="Choose a mailbox…"
          options={withoutOverride}
          value={newAccount}
          onChange={setNewAccount}
        />
      ) : null}
      {editing !== null && editedAccount ? (
        <ServerForm
          key={`override-${editedAccount}`}
          title={`SMTP server of ${directory.accountName(editedAccount)}`}
          server={editedOverride}
          busy={action.busy}
          onSave={(change) => save(editedAccount, change)}
          onCancel={() => setEditing(null)}
        />
      ) : editing === "new" ? (
        <button type="button" onClick={() => setEditing(null)}>
          Cancel
        </button>
      ) : null}
    </>
  );
}
