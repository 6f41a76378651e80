// IMAP mailboxes the tenant's mail is fetched from.
import { api } from "../../api/client";
import { Badge } from "../../ui/components";
import { ImapForm, type ImapBody } from "./ImapForm";
import { useCrudList, type Directory, type Schema } from "./kit";
import { AdminSubsection, CrudRowActions, CrudStatus, LoadedTable } from "./listViews";

type Mailbox = Schema<"ImapMailboxView">;

const login = (mailbox: Mailbox) => `${mailbox.username}@${mailbox.host}`;

export function ImapMailboxes({ directory }: { directory: Directory }) {
  const crud = useCrudList(() => api.GET("/admin/imap-mailboxes"), {
    remove: (row) => api.DELETE("/admin/imap-mailboxes/{mailbox_id}", { params: { path: { mailbox_id: row.id } } }),
    confirm: (row) => `Delete the IMAP mailbox ${login(row)}? Mail is no longer fetched from it.`,
    removed: "Mailbox deleted.",
  });
  const { action, editing } = crud;

  function create({ password, ...body }: ImapBody) {
    if (!password) return action.setError("An IMAP mailbox needs its password.");
    crud.submit(() => api.POST("/admin/imap-mailboxes", { body: { ...body, password } }), "Mailbox added.");
  }

  function save(mailbox: Mailbox, { account_id: _account, password, ...body }: ImapBody) {
    crud.submit(
      () =>
        api.PATCH("/admin/imap-mailboxes/{mailbox_id}", {
          params: { path: { mailbox_id: mailbox.id } },
          body: password ? { ...body, password } : body,
        }),
      "Mailbox saved.",
    );
  }

  return (
    <AdminSubsection id="admin-imap-head" title="IMAP mailboxes" newLabel="New IMAP mailbox" onNew={crud.openNew}>
      <CrudStatus crud={crud} />
      {crud.creating ? <ImapForm directory={directory} busy={action.busy} onSubmit={create} onCancel={crud.close} /> : null}
      {editing ? (
        <ImapForm
          key={editing.id}
          mailbox={editing}
          directory={directory}
          busy={action.busy}
          onSubmit={(body) => save(editing, body)}
          onCancel={crud.close}
        />
      ) : null}
      <LoadedTable
        list={crud.list}
        loading="Loading IMAP mailboxes"
        caption="IMAP mailboxes"
        head={["Server", "Login", "Folder", "Account", "State", "Actions"]}
        empty="No IMAP mailboxes yet."
        row={(row: Mailbox) => (
          <tr key={row.id}>
            <td>
              {row.host}:{row.port} ({row.security})
            </td>
            <td>{row.username}</td>
            <td>
              {row.folder} · {row.after_action}
              {row.move_to_folder ? ` → ${row.move_to_folder}` : ""}
            </td>
            <td>{directory.accountName(row.account_id)}</td>
            <td>{row.is_active ? <Badge tone="ok">active</Badge> : <Badge>inactive</Badge>}</td>
            <CrudRowActions crud={crud} row={row} name={login(row)} />
          </tr>
        )}
      />
    </AdminSubsection>
  );
}
