// SMTP: the server the tenant's mail goes out through, each mailbox's own server (an override
// of the default), and the connection test.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Loading, Page } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { ActionStatus, DirectoryError, useAction, useDirectory } from "./kit";
import { SmtpOverrides, useOverrideEditor } from "./SmtpOverrides";
import { ServerForm, lastTest, type Change } from "./SmtpServerForm";
import { SmtpTestPanel } from "./SmtpTestPanel";

export function SmtpSection() {
  const directory = useDirectory();
  const settings = useLoad(() => api.GET("/admin/smtp"), []);
  const action = useAction();
  const editor = useOverrideEditor();
  const [saves, setSaves] = useState(0); // re-keys the default's form after a save
  const current = settings.data;

  function saved(message: string) {
    setSaves((n) => n + 1);
    editor.close();
    action.setNotice(message);
    settings.reload();
  }

  function saveDefault(change: Change) {
    void action.run(() => api.PUT("/admin/smtp", { body: change }), () => saved("The tenant's SMTP server was saved."));
  }

  return (
    <Page title="SMTP">
      <DirectoryError directory={directory} />
      <ActionStatus action={{ error: settings.error ?? action.error, notice: action.notice }} />
      {settings.loading && !current ? <Loading /> : null}
      {current !== undefined ? (
        <>
          {current.default ? null : <p>No SMTP server is set: the tenant's mail cannot be sent until one is.</p>}
          <ServerForm
            key={`default-${saves}`}
            title="Tenant default server"
            server={current.default ?? null}
            busy={action.busy}
            onSave={saveDefault}
          />
          {current.default ? <p class="muted">Last test: {lastTest(current.default)}</p> : null}
          <SmtpOverrides
            overrides={current.overrides ?? []}
            directory={directory}
            action={action}
            editor={editor}
            onSaved={saved}
          />
        </>
      ) : null}
      <SmtpTestPanel accounts={directory.accounts} onTested={settings.reload} />
    </Page>
  );
}
