// Notification settings of the tenant: the mailbox notification mails and digests are sent from.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { ErrorBanner, Field, Loading, Page } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { ActionStatus, DirectoryError, orNull, useAction, useDirectory } from "./kit";

export function NotificationSettingsSection() {
  const settings = useLoad(() => api.GET("/admin/notification-settings"), []);
  const directory = useDirectory();
  const action = useAction();
  // The admin's choice once made (null: the stored one), derived rather than copied in an
  // effect, as in WebhookSettingsForm.
  const [edited, setEdited] = useState<string | null>(null);
  const fromId = edited ?? settings.data?.from_account_id ?? "";

  function save() {
    void action.run(
      () => api.PUT("/admin/notification-settings", { body: { from_account_id: orNull(fromId) } }),
      () => settings.reload(),
      "Notification settings saved.",
    );
  }

  return (
    <Page title="Notification settings">
      <DirectoryError directory={directory} />
      <ErrorBanner message={settings.error} />
      <ActionStatus action={action} />
      {settings.loading && !settings.data ? <Loading what="Loading settings" /> : null}
      {settings.data ? (
        <form
          class="card admin-form"
          aria-label="Notification settings"
          onSubmit={(e) => {
            e.preventDefault();
            save();
          }}
        >
          <Field label="Send notification mails from" hint="Without one, a ticket's own mailbox sends its notifications, and the first active shared mailbox the digests">
            <select value={fromId} onChange={(e) => setEdited(e.currentTarget.value)}>
              <option value="">The ticket's own mailbox</option>
              {directory.accounts
                .filter((account) => account.is_active || account.id === fromId)
                .map((account) => (
                  <option key={account.id} value={account.id}>
                    {account.address}
                  </option>
                ))}
            </select>
          </Field>
          <button type="submit" class="primary" disabled={action.busy}>
            Save settings
          </button>
        </form>
      ) : null}
    </Page>
  );
}
