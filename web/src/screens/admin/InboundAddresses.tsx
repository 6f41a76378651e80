// Inbound addresses: which account gets the mail sent to an address.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge, ErrorBanner, Field, Loading } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { ActionStatus, AdminTable, Check, FormCard, confirmed, useAction, type Directory, type Schema } from "./kit";

type Address = Schema<"InboundAddressView">;

function AddressForm({ address, directory, busy, onSubmit, onCancel }: {
  address?: Address;
  directory: Directory;
  busy: boolean;
  onSubmit: (values: { address: string; account_id: string; is_active: boolean }) => void;
  onCancel: () => void;
}) {
  const [value, setValue] = useState(address?.address ?? "");
  const [accountId, setAccountId] = useState(address?.account_id ?? "");
  const [active, setActive] = useState(address?.is_active ?? true);
  return (
    <FormCard
      title={address ? `Edit ${address.address}` : "New inbound address"}
      submit={address ? "Save address" : "Add address"}
      busy={busy}
      onSubmit={() => onSubmit({ address: value, account_id: accountId, is_active: active })}
      onCancel={onCancel}
    >
      {address ? null : (
        <Field label="Inbound address">
          <input type="email" required maxLength={320} value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </Field>
      )}
      <Field label="Delivers to account">
        <select required value={accountId} onChange={(e) => setAccountId(e.currentTarget.value)}>
          <option value="">Choose an account</option>
          {directory.accounts.map((account) => (
            <option key={account.id} value={account.id}>
              {account.address}
            </option>
          ))}
        </select>
      </Field>
      <Check label="Active" checked={active} onChange={setActive} />
    </FormCard>
  );
}

export function InboundAddresses({ directory }: { directory: Directory }) {
  const list = useLoad(() => api.GET("/admin/inbound-addresses"), []);
  const action = useAction();
  const [form, setForm] = useState<"new" | string | null>(null);
  const rows = list.data?.items ?? [];
  const editing = rows.find((row) => row.id === form);
  const done = () => {
    setForm(null);
    list.reload();
  };

  function remove(address: Address) {
    if (!confirmed(`Delete the inbound address ${address.address}?`)) return;
    void action.run(
      () => api.DELETE("/admin/inbound-addresses/{address_id}", { params: { path: { address_id: address.id } } }),
      done,
      "Address deleted.",
    );
  }

  return (
    <section aria-labelledby="admin-addresses-head">
      <div class="admin-subhead">
        <h2 id="admin-addresses-head">Addresses</h2>
        <button type="button" onClick={() => setForm("new")}>
          New address
        </button>
      </div>
      <ActionStatus action={action} />
      <ErrorBanner message={list.error} />
      {form === "new" ? (
        <AddressForm
          directory={directory}
          busy={action.busy}
          onSubmit={(body) => void action.run(() => api.POST("/admin/inbound-addresses", { body }), done, "Address added.")}
          onCancel={() => setForm(null)}
        />
      ) : null}
      {editing ? (
        <AddressForm
          key={editing.id}
          address={editing}
          directory={directory}
          busy={action.busy}
          onSubmit={({ account_id, is_active }) =>
            void action.run(
              () =>
                api.PATCH("/admin/inbound-addresses/{address_id}", {
                  params: { path: { address_id: editing.id } },
                  body: { account_id, is_active },
                }),
              done,
              "Address saved.",
            )
          }
          onCancel={() => setForm(null)}
        />
      ) : null}
      {list.loading && !list.data ? <Loading what="Loading addresses" /> : null}
      {list.data ? (
        <AdminTable caption="Inbound addresses" head={["Address", "Account", "State", "Actions"]} empty="No inbound addresses yet." count={rows.length}>
          {rows.map((row) => (
            <tr key={row.id}>
              <td>{row.address}</td>
              <td>{directory.accountName(row.account_id)}</td>
              <td>{row.is_active ? <Badge tone="ok">active</Badge> : <Badge>inactive</Badge>}</td>
              <td class="admin-row-actions">
                <button type="button" aria-label={`Edit ${row.address}`} onClick={() => setForm(row.id)}>
                  Edit
                </button>
                <button type="button" class="danger" aria-label={`Delete ${row.address}`} onClick={() => remove(row)}>
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
