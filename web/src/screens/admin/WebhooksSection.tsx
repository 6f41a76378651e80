// Webhooks: subscriptions (create with the secret shown once, edit, delete, test, rotate the
// secret), a subscription's deliveries, and the tenant's webhook settings.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge, Page } from "../../ui/components";
import { OneTimeSecret, confirmed, useCrudList, type Schema } from "./kit";
import { AdminDetail, CrudRowActions, CrudStatus, LoadedTable, NewButton } from "./listViews";
import { WebhookDeliveries } from "./WebhookDeliveries";
import { WebhookForm, type WebhookBody } from "./WebhookForm";
import { WebhookSettingsForm } from "./WebhookSettingsForm";

type Subscription = Schema<"WebhookSubscriptionView">;

const path = (row: Subscription) => ({ params: { path: { subscription_id: row.id } } });

export function WebhooksSection() {
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [deliveryGeneration, setDeliveryGeneration] = useState(0);
  const crud = useCrudList(() => api.GET("/admin/webhooks"), {
    remove: (row) => api.DELETE("/admin/webhooks/{subscription_id}", path(row)),
    confirm: (row) => `Delete the webhook to ${row.url} and its deliveries?`,
    removed: "Webhook deleted.",
    onRemoved: (row) => {
      if (selected === row.id) setSelected(null);
    },
  });
  const { action, editing } = crud;
  const chosen = crud.rows.find((row) => row.id === selected);

  function create(body: WebhookBody) {
    crud.submit(
      () => api.POST("/admin/webhooks", { body }),
      "Webhook created.",
      (created) => created && setSecret({ label: `Signing secret of ${created.url}`, value: created.secret }),
    );
  }

  function rotate(row: Subscription) {
    if (!confirmed(`Replace the signing secret of ${row.url}? The receiver must switch to the new one.`)) return;
    void action.run(
      () => api.POST("/admin/webhooks/{subscription_id}/rotate-secret", path(row)),
      (result) => result && setSecret({ label: `New signing secret of ${row.url}`, value: result.secret }),
      "Secret rotated.",
    );
  }

  function test(row: Subscription) {
    void action.run(
      () => api.POST("/admin/webhooks/{subscription_id}/test", path(row)),
      () => {
        setSelected(row.id);
        setDeliveryGeneration((n) => n + 1);
      },
      "Test delivery (webhook.ping) queued; follow it in the deliveries.",
    );
  }

  return (
    <Page title="Webhooks" actions={<NewButton label="New webhook" onClick={crud.openNew} />}>
      <CrudStatus crud={crud} />
      <OneTimeSecret label={secret?.label ?? ""} value={secret?.value} onDismiss={() => setSecret(null)} />
      {crud.creating ? <WebhookForm busy={action.busy} onSubmit={create} onCancel={crud.close} /> : null}
      {editing ? (
        <WebhookForm
          key={editing.id}
          subscription={editing}
          busy={action.busy}
          onSubmit={(body) =>
            crud.submit(() => api.PATCH("/admin/webhooks/{subscription_id}", { ...path(editing), body }), "Webhook saved.")
          }
          onCancel={crud.close}
        />
      ) : null}
      <LoadedTable
        list={crud.list}
        loading="Loading webhooks"
        caption="Webhook subscriptions"
        head={["URL", "Events", "State", "Actions"]}
        empty="No webhooks yet."
        row={(row: Subscription) => (
          <tr key={row.id}>
            <td class="admin-wrap">
              {row.url}
              {row.description ? <div class="muted">{row.description}</div> : null}
            </td>
            <td>{row.event_types.join(", ")}</td>
            <td>{row.is_active ? <Badge tone="ok">active</Badge> : <Badge>inactive</Badge>}</td>
            <CrudRowActions crud={crud} row={row} name={row.url}>
              <button type="button" aria-label={`Deliveries of ${row.url}`} onClick={() => setSelected(row.id)}>
                Deliveries
              </button>
              <button type="button" aria-label={`Test ${row.url}`} disabled={action.busy} onClick={() => test(row)}>
                Test
              </button>
              <button type="button" aria-label={`Rotate secret of ${row.url}`} disabled={action.busy} onClick={() => rotate(row)}>
                Rotate secret
              </button>
            </CrudRowActions>
          </tr>
        )}
      />
      {chosen ? (
        <AdminDetail id="admin-deliveries-head" title={`Deliveries to ${chosen.url}`} onClose={() => setSelected(null)}>
          <WebhookDeliveries key={chosen.id} subscriptionId={chosen.id} generation={deliveryGeneration} />
        </AdminDetail>
      ) : null}
      <WebhookSettingsForm />
    </Page>
  );
}
