// Creating or editing a webhook subscription: URL, description, event types, active.
import { useState } from "preact/hooks";
import { Field } from "../../ui/components";
import { Check, FormCard, type Schema } from "./kit";

type Subscription = Schema<"WebhookSubscriptionView">;
export type WebhookBody = Schema<"WebhookSubscriptionCreate">;

/** The event types a subscription may have (the gateway's WEBHOOK_EVENTS). */
export const WEBHOOK_EVENT_TYPES = [
  "ticket.created",
  "ticket.assigned",
  "ticket.message_added",
  "ticket.updated",
  "ticket.note_added",
  "sla.warning",
  "sla.breached",
  "mail.sent",
  "mail.failed",
  "outbound.cancelled",
];

export function WebhookForm({
  subscription,
  busy,
  onSubmit,
  onCancel,
}: {
  subscription?: Subscription;
  busy: boolean;
  onSubmit: (body: WebhookBody) => void;
  onCancel: () => void;
}) {
  const [url, setUrl] = useState(subscription?.url ?? "");
  const [description, setDescription] = useState(subscription?.description ?? "");
  const [events, setEvents] = useState<string[]>(subscription?.event_types ?? ["ticket.created"]);
  const [active, setActive] = useState(subscription?.is_active ?? true);
  return (
    <FormCard
      title={subscription ? "Edit webhook" : "New webhook"}
      submit={subscription ? "Save webhook" : "Create webhook"}
      busy={busy}
      onSubmit={() => onSubmit({ url, description, event_types: events, is_active: active })}
      onCancel={onCancel}
    >
      <Field label="URL" hint="https:// receiver; private addresses only when the settings allow them">
        <input type="url" required maxLength={2048} value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
      </Field>
      <Field label="Description">
        <input maxLength={500} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </Field>
      <fieldset class="admin-flags">
        <legend>Event types</legend>
        {WEBHOOK_EVENT_TYPES.map((type) => (
          <Check
            key={type}
            label={type}
            checked={events.includes(type)}
            onChange={(checked) => setEvents(checked ? [...events, type] : events.filter((e) => e !== type))}
          />
        ))}
      </fieldset>
      <Check label="Active" checked={active} onChange={setActive} />
    </FormCard>
  );
}
