// IMAP mailboxes the tenant's mail is fetched from.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge, ErrorBanner, Loading } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { ImapForm, type ImapBody } from "./ImapForm";
import { ActionStatus, AdminTable, confirmed, useAction, type Directory, type Schema } from "./kit";

type Mailbox = Schema<"ImapMailboxView">;

export function ImapMailboxes({ directory }: { directory: Directory }) {
  const list = useLoad(() => api.GET("/admin/imap-mailboxes"), []);
  const action = useAction();
  const [form, setForm] = useState<"new" | string | null>(null);
  const rows = list.data?.items ?? [];
  const editing = rows.find((row) => row.id === form);
  const done = () => {
    setForm(null);
    list.reload();
  };

  function create({ password, ...body }: ImapBody) {
    if (!password) return action.setError("An IMAP mailbox needs its password.");
    void action.run(() => api.POST("/admin/imap-mailboxes", { body: { ...body, password } }), done, "Mailbox added.");
  }

  function save(mailbox: Mailbox, { account_id: _account, password, ...body }: ImapBody) {
    void action.run(
      () =>
        api.PATCH("/admin/imap-mailboxes/{mailbox_id}", {
          params: { path: { mailbox_id: mailbox.id } },
          body: password ? { ...body, password } : body,
        }),
      done,
      "Mailbox saved.",
    );
  }

  function remove(mailbox: Mailbox) {
    if (!confirmed(`Delete the IMAP mailbox ${mailbox.username}@${mailbox.host}? Mail is no longer fetched from it.`)) return;
    void action.run(
      () => api.DELETE("/admin/imap-mailboxes/{mailbox_id}", { params: { path: { mailbox_id: mailbox.id } } }),
      done,
      "Mailbox deleted.",
    );
  }

  return (
    <section aria-labelledby="admin-imap-head">
      <div class="admin-subhead">
        <h2 id="admin-imap-head">IMAP mailboxes</h2>
        <button type="button" onClick={() => setForm("new")}>
          New IMAP mailbox
        </button>
      </div>
      <ActionStatus action={action} />
      <ErrorBanner message={list.error} />
      {form === "new" ? <ImapForm directory={directory} busy={action.busy} onSubmit={create} onCancel={() => setForm(null)} /> : null}
      {editing ? (
        <ImapForm
          key={editing.id}
          mailbox={editing}
          directory={directory}
          busy={action.busy}
          onSubmit={(body) => save(editing, body)}
          onCancel={() => setForm(null)}
        />
      ) : null}
      {list.loading && !list.data ? <Loading what="Loading IMAP mailboxes" /> : null}
      {list.data ? (
        <AdminTable
          caption="IMAP mailboxes"
          head={["Server", "Login", "Folder", "Account", "State", "Actions"]}
          empty="No IMAP mailboxes yet."
          count={rows.length}
        >
          {rows.map((row) => (
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
              <td class="admin-row-actions">
                <button type="button" aria-label={`Edit ${row.username}@${row.host}`} onClick={() => setForm(row.id)}>
                  Edit
                </button>
                <button type="button" class="danger" aria-label={`Delete ${row.username}@${row.host}`} onClick={() => remove(row)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </AdminTable>
      ) : null}
    </section>
  );
}
