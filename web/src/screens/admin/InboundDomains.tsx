// Inbound domains: the tenant's receiving domains and their catch-all mailbox.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { ErrorBanner, Field, Loading } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { ActionStatus, AdminTable, FormCard, confirmed, orNull, useAction, type Directory, type Schema } from "./kit";

type Domain = Schema<"InboundDomainView">;

function CatchAllSelect({ value, directory, onChange }: { value: string; directory: Directory; onChange: (v: string) => void }) {
  return (
    <Field label="Catch-all account" hint="gets mail to unknown addresses of the domain">
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">No catch-all</option>
        {directory.accounts.map((account) => (
          <option key={account.id} value={account.id}>
            {account.address}
          </option>
        ))}
      </select>
    </Field>
  );
}

function DomainForm({ domain, directory, busy, onSubmit, onCancel }: {
  domain?: Domain;
  directory: Directory;
  busy: boolean;
  onSubmit: (name: string, catchAll: string | null) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState(domain?.domain ?? "");
  const [catchAll, setCatchAll] = useState(domain?.catch_all_account_id ?? "");
  return (
    <FormCard
      title={domain ? `Edit ${domain.domain}` : "New inbound domain"}
      submit={domain ? "Save domain" : "Add domain"}
      busy={busy}
      onSubmit={() => onSubmit(name, orNull(catchAll))}
      onCancel={onCancel}
    >
      {domain ? null : (
        <Field label="Domain">
          <input required maxLength={253} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
      )}
      <CatchAllSelect value={catchAll} directory={directory} onChange={setCatchAll} />
    </FormCard>
  );
}

export function InboundDomains({ directory }: { directory: Directory }) {
  const list = useLoad(() => api.GET("/admin/inbound-domains"), []);
  const action = useAction();
  const [form, setForm] = useState<"new" | string | null>(null);
  const rows = list.data?.items ?? [];
  const editing = rows.find((row) => row.id === form);
  const done = () => {
    setForm(null);
    list.reload();
  };

  function remove(domain: Domain) {
    if (!confirmed(`Delete the inbound domain ${domain.domain}?`)) return;
    void action.run(
      () => api.DELETE("/admin/inbound-domains/{domain_id}", { params: { path: { domain_id: domain.id } } }),
      done,
      "Domain deleted.",
    );
  }

  return (
    <section aria-labelledby="admin-domains-head">
      <div class="admin-subhead">
        <h2 id="admin-domains-head">Domains</h2>
        <button type="button" onClick={() => setForm("new")}>
          New domain
        </button>
      </div>
      <ActionStatus action={action} />
      <ErrorBanner message={list.error} />
      {form === "new" ? (
        <DomainForm
          directory={directory}
          busy={action.busy}
          onSubmit={(domain, catchAll) =>
            void action.run(
              () => api.POST("/admin/inbound-domains", { body: { domain, catch_all_account_id: catchAll } }),
              done,
              "Domain added.",
            )
          }
          onCancel={() => setForm(null)}
        />
      ) : null}
      {editing ? (
        <DomainForm
          key={editing.id}
          domain={editing}
          directory={directory}
          busy={action.busy}
          onSubmit={(_name, catchAll) =>
            void action.run(
              () =>
                api.PATCH("/admin/inbound-domains/{domain_id}", {
                  params: { path: { domain_id: editing.id } },
                  body: { catch_all_account_id: catchAll },
                }),
              done,
              "Domain saved.",
            )
          }
          onCancel={() => setForm(null)}
        />
      ) : null}
      {list.loading && !list.data ? <Loading what="Loading domains" /> : null}
      {list.data ? (
        <AdminTable caption="Inbound domains" head={["Domain", "Catch-all", "Actions"]} empty="No inbound domains yet." count={rows.length}>
          {rows.map((row) => (
            <tr key={row.id}>
              <td>{row.domain}</td>
              <td>{directory.accountName(row.catch_all_account_id)}</td>
              <td class="admin-row-actions">
                <button type="button" aria-label={`Edit ${row.domain}`} onClick={() => setForm(row.id)}>
                  Edit
                </button>
                <button type="button" class="danger" aria-label={`Delete ${row.domain}`} onClick={() => remove(row)}>
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
