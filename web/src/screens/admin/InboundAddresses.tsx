// Inbound addresses: which account gets the mail sent to an address.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge, Field } from "../../ui/components";
import { AccountSelect } from "./IdSelect";
import { Check, FormCard, useCrudList, type Directory, type Schema } from "./kit";
import { AdminSubsection, CrudRowActions, CrudStatus, LoadedTable } from "./listViews";

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
      <AccountSelect
        label="Delivers to account"
        none="Choose an account"
        required
        options={directory.accounts}
        value={accountId}
        onChange={setAccountId}
      />
      <Check label="Active" checked={active} onChange={setActive} />
    </FormCard>
  );
}

export function InboundAddresses({ directory }: { directory: Directory }) {
  const crud = useCrudList(() => api.GET("/admin/inbound-addresses"), {
    remove: (row) => api.DELETE("/admin/inbound-addresses/{address_id}", { params: { path: { address_id: row.id } } }),
    confirm: (row) => `Delete the inbound address ${row.address}?`,
    removed: "Address deleted.",
  });
  const { action, editing } = crud;

  return (
    <AdminSubsection id="admin-addresses-head" title="Addresses" newLabel="New address" onNew={crud.openNew}>
      <CrudStatus crud={crud} />
      {crud.creating ? (
        <AddressForm
          directory={directory}
          busy={action.busy}
          onSubmit={(body) => crud.submit(() => api.POST("/admin/inbound-addresses", { body }), "Address added.")}
          onCancel={crud.close}
        />
      ) : null}
      {editing ? (
        <AddressForm
          key={editing.id}
          address={editing}
          directory={directory}
          busy={action.busy}
          onSubmit={({ account_id, is_active }) =>
            crud.submit(
              () =>
                api.PATCH("/admin/inbound-addresses/{address_id}", {
                  params: { path: { address_id: editing.id } },
                  body: { account_id, is_active },
                }),
              "Address saved.",
            )
          }
          onCancel={crud.close}
        />
      ) : null}
      <LoadedTable
        list={crud.list}
        loading="Loading addresses"
        caption="Inbound addresses"
        head={["Address", "Account", "State", "Actions"]}
        empty="No inbound addresses yet."
        row={(row: Address) => (
          <tr key={row.id}>
            <td>{row.address}</td>
            <td>{directory.accountName(row.account_id)}</td>
            <td>{row.is_active ? <Badge tone="ok">active</Badge> : <Badge>inactive</Badge>}</td>
            <CrudRowActions crud={crud} row={row} name={row.address} />
          </tr>
        )}
      />
    </AdminSubsection>
  );
}
