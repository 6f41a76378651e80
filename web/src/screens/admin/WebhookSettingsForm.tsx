// The tenant's webhook settings: whether URLs may reach private addresses.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { ErrorBanner } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { ActionStatus, Check, useAction } from "./kit";

export function WebhookSettingsForm() {
  const settings = useLoad(() => api.GET("/admin/webhook-settings"), []);
  const action = useAction();
  // The user's choice once they change it (null: the stored setting). Derived rather than copied
  // in an effect, so a box ticked while the settings load is not reset by their arrival.
  const [edited, setEdited] = useState<boolean | null>(null);
  const allowPrivate = edited ?? settings.data?.allow_private_targets ?? false;

  function save() {
    if (allowPrivate && !confirmed()) return;
    void action.run(
      () => api.PUT("/admin/webhook-settings", { body: { allow_private_targets: allowPrivate } }),
      () => settings.reload(),
      "Webhook settings saved.",
    );
  }

  return (
    <form
      class="card admin-form"
      aria-label="Webhook settings"
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
    >
      <h2>Webhook settings</h2>
      <ErrorBanner message={settings.error} />
      <ActionStatus action={action} />
      <Check
        label="Allow private, loopback and shared (CGNAT) addresses as webhook targets"
        checked={allowPrivate}
        onChange={setEdited}
      />
      <button type="submit" class="primary" disabled={action.busy || !settings.data}>
        Save webhook settings
      </button>
    </form>
  );
}

const confirmed = () =>
  window.confirm("Allow webhooks to reach private networks? Only do this when your receivers live there.");
