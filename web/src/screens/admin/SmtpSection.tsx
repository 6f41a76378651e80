// SMTP: test the server the tenant's (or one account's) mail goes through. The API has no call
// to set the server: that is done on the command line.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Field, Page } from "../../ui/components";
import { ActionStatus, DirectoryError, orNull, useAction, useDirectory, type Schema } from "./kit";

function TestResult({ result }: { result: Schema<"SmtpTestResult"> }) {
  return (
    <div class={`banner ${result.ok ? "notice" : "error"} admin-smtp-result`} role={result.ok ? "status" : "alert"}>
      <p>
        <strong>{result.ok ? "SMTP test succeeded." : "SMTP test failed."}</strong>
      </p>
      <dl class="admin-facts">
        <dt>Stage</dt>
        <dd>{result.stage}</dd>
        {result.outcome ? (
          <>
            <dt>Outcome</dt>
            <dd>{result.outcome}</dd>
          </>
        ) : null}
        {result.server ? (
          <>
            <dt>Server</dt>
            <dd>{result.server}</dd>
          </>
        ) : null}
        {result.sender ? (
          <>
            <dt>Sender</dt>
            <dd>{result.sender}</dd>
          </>
        ) : null}
        <dt>Server said</dt>
        <dd>{result.reason || "—"}</dd>
      </dl>
    </div>
  );
}

export function SmtpSection() {
  const directory = useDirectory();
  const action = useAction();
  const [accountId, setAccountId] = useState("");
  const [result, setResult] = useState<Schema<"SmtpTestResult"> | null>(null);

  function test() {
    setResult(null);
    void action.run(
      () => api.POST("/admin/smtp/test", { body: { account_id: orNull(accountId) } }),
      (data) => setResult(data ?? null),
    );
  }

  return (
    <Page title="SMTP">
      <DirectoryError directory={directory} />
      <p>
        The API has no call to set the SMTP server: it is set on the command line with{" "}
        <code>{"postdesk smtp set <tenant>"}</code> (add <code>--account</code> for one account's own server). The test connects, starts TLS, logs in and tries MAIL FROM,
        without sending anything.
      </p>
      <form
        class="card admin-form"
        aria-label="SMTP test"
        onSubmit={(e) => {
          e.preventDefault();
          test();
        }}
      >
        <h2>Test the connection</h2>
        <Field label="Settings to test">
          <select value={accountId} onChange={(e) => setAccountId(e.currentTarget.value)}>
            <option value="">The tenant's SMTP server</option>
            {directory.accounts.map((account) => (
              <option key={account.id} value={account.id}>
                The server of {account.address}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? "Testing…" : "Test SMTP"}
        </button>
      </form>
      <ActionStatus action={action} />
      {result ? <TestResult result={result} /> : null}
    </Page>
  );
}
