// Inbound domains: the tenant's receiving domains and their catch-all mailbox.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Field } from "../../ui/components";
import { AccountSelect } from "./IdSelect";
import { FormCard, orNull, useCrudList, type Directory, type Schema } from "./kit";
import { AdminSubsection, CrudRowActions, CrudStatus, LoadedTable } from "./listViews";

type Domain = Schema<"InboundDomainView">;

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
      <AccountSelect
        label="Catch-all account"
        hint="gets mail to unknown addresses of the domain"
        none="No catch-all"
        options={directory.accounts}
        value={catchAll}
        onChange={setCatchAll}
      />
    </FormCard>
  );
}

export function InboundDomains({ directory }: { directory: Directory }) {
  const crud = useCrudList(() => api.GET("/admin/inbound-domains"), {
    remove: (row) => api.DELETE("/admin/inbound-domains/{domain_id}", { params: { path: { domain_id: row.id } } }),
    confirm: (row) => `Delete the inbound domain ${row.domain}?`,
    removed: "Domain deleted.",
  });
  const { action, editing } = crud;

  return (
    <AdminSubsection id="admin-domains-head" title="Domains" newLabel="New domain" onNew={crud.openNew}>
      <CrudStatus crud={crud} />
      {crud.creating ? (
        <DomainForm
          directory={directory}
          busy={action.busy}
          onSubmit={(domain, catchAll) =>
            crud.submit(
              () => api.POST("/admin/inbound-domains", { body: { domain, catch_all_account_id: catchAll } }),
              "Domain added.",
            )
          }
          onCancel={crud.close}
        />
      ) : null}
      {editing ? (
        <DomainForm
          key={editing.id}
          domain={editing}
          directory={directory}
          busy={action.busy}
          onSubmit={(_name, catchAll) =>
            crud.submit(
              () =>
                api.PATCH("/admin/inbound-domains/{domain_id}", {
                  params: { path: { domain_id: editing.id } },
                  body: { catch_all_account_id: catchAll },
                }),
              "Domain saved.",
            )
          }
          onCancel={crud.close}
        />
      ) : null}
      <LoadedTable
        list={crud.list}
        loading="Loading domains"
        caption="Inbound domains"
        head={["Domain", "Catch-all", "Actions"]}
        empty="No inbound domains yet."
        row={(row: Domain) => (
          <tr key={row.id}>
            <td>{row.domain}</td>
            <td>{directory.accountName(row.catch_all_account_id)}</td>
            <CrudRowActions crud={crud} row={row} name={row.domain} />
          </tr>
        )}
      />
    </AdminSubsection>
  );
}
