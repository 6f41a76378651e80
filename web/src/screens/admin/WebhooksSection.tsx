// Webhooks: subscriptions (create with the secret shown once, edit, delete, test, rotate the
// secret), a subscription's deliveries, and the tenant's webhook settings.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Badge, ErrorBanner, Loading, Page } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { ActionStatus, AdminTable, OneTimeSecret, confirmed, useAction, type Schema } from "./kit";
import { WebhookDeliveries } from "./WebhookDeliveries";
import { WebhookForm, type WebhookBody } from "./WebhookForm";
import { WebhookSettingsForm } from "./WebhookSettingsForm";

type Subscription = Schema<"WebhookSubscriptionView">;

export function WebhooksSection() {
  const list = useLoad(() => api.GET("/admin/webhooks"), []);
  const action = useAction();
  const [form, setForm] = useState<"new" | string | null>(null);
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [deliveryGeneration, setDeliveryGeneration] = useState(0);
  const rows = list.data?.items ?? [];
  const editing = rows.find((row) => row.id === form);
  const chosen = rows.find((row) => row.id === selected);
  const path = (row: Subscription) => ({ params: { path: { subscription_id: row.id } } });
  const done = () => {
    setForm(null);
    list.reload();
  };

  function create(body: WebhookBody) {
    void action.run(
      () => api.POST("/admin/webhooks", { body }),
      (created) => {
        if (created) setSecret({ label: `Signing secret of ${created.url}`, value: created.secret });
        done();
      },
      "Webhook created.",
    );
  }

  function remove(row: Subscription) {
    if (!confirmed(`Delete the webhook to ${row.url} and its deliveries?`)) return;
    void action.run(
      () => api.DELETE("/admin/webhooks/{subscription_id}", path(row)),
      () => {
        if (selected === row.id) setSelected(null);
        done();
      },
      "Webhook deleted.",
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
    <Page
      title="Webhooks"
      actions={
        <button type="button" class="primary" onClick={() => setForm("new")}>
          New webhook
        </button>
      }
    >
      <ActionStatus action={action} />
      <ErrorBanner message={list.error} />
      <OneTimeSecret label={secret?.label ?? ""} value={secret?.value} onDismiss={() => setSecret(null)} />
      {form === "new" ? <WebhookForm busy={action.busy} onSubmit={create} onCancel={() => setForm(null)} /> : null}
      {editing ? (
        <WebhookForm
          key={editing.id}
          subscription={editing}
          busy={action.busy}
          onSubmit={(body) =>
            void action.run(() => api.PATCH("/admin/webhooks/{subscription_id}", { ...path(editing), body }), done, "Webhook saved.")
          }
          onCancel={() => setForm(null)}
        />
      ) : null}
      {list.loading && !list.data ? <Loading what="Loading webhooks" /> : null}
      {list.data ? (
        <AdminTable caption="Webhook subscriptions" head={["URL", "Events", "State", "Actions"]} empty="No webhooks yet." count={rows.length}>
          {rows.map((row) => (
            <tr key={row.id}>
              <td class="admin-wrap">
                {row.url}
                {row.description ? <div class="muted">{row.description}</div> : null}
              </td>
              <td>{row.event_types.join(", ")}</td>
              <td>{row.is_active ? <Badge tone="ok">active</Badge> : <Badge>inactive</Badge>}</td>
              <td class="admin-row-actions">
                <button type="button" aria-label={`Edit ${row.url}`} onClick={() => setForm(row.id)}>
                  Edit
                </button>
                <button type="button" aria-label={`Deliveries of ${row.url}`} onClick={() => setSelected(row.id)}>
                  Deliveries
                </button>
                <button type="button" aria-label={`Test ${row.url}`} disabled={action.busy} onClick={() => test(row)}>
                  Test
                </button>
                <button type="button" aria-label={`Rotate secret of ${row.url}`} disabled={action.busy} onClick={() => rotate(row)}>
                  Rotate secret
                </button>
                <button type="button" class="danger" aria-label={`Delete ${row.url}`} onClick={() => remove(row)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </AdminTable>
      ) : null}
      {chosen ? (
        <section class="card admin-detail" aria-labelledby="admin-deliveries-head">
          <header class="admin-detail-head">
            <h2 id="admin-deliveries-head">Deliveries to {chosen.url}</h2>
            <button type="button" class="link admin-close" onClick={() => setSelected(null)}>
              Close
            </button>
          </header>
          <WebhookDeliveries key={chosen.id} subscriptionId={chosen.id} generation={deliveryGeneration} />
        </section>
      ) : null}
      <WebhookSettingsForm />
    </Page>
  );
}
