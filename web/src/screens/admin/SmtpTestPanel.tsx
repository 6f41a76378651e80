// The SMTP connection test: which settings to test, and what the test found.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Field } from "../../ui/components";
import { ActionStatus, orNull, useAction, type Schema } from "./kit";

/** A term and its value, left out when there is no value. */
function OptionalFact({ term, value }: { term: string; value: string | null | undefined }) {
  if (!value) return null;
  return (
    <>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </>
  );
}

function TestResult({ result }: { result: Schema<"SmtpTestResult"> }) {
  return (
    <div class={`banner ${result.ok ? "notice" : "error"} admin-smtp-result`} role={result.ok ? "status" : "alert"}>
      <p>
        <strong>{result.ok ? "SMTP test succeeded." : "SMTP test failed."}</strong>
      </p>
      <dl class="admin-facts">
        <dt>Stage</dt>
        <dd>{result.stage}</dd>
        <OptionalFact term="Outcome" value={result.outcome} />
        <OptionalFact term="Server" value={result.server} />
        <OptionalFact term="Sender" value={result.sender} />
        <dt>Server said</dt>
        <dd>{result.reason || "—"}</dd>
      </dl>
    </div>
  );
}

/** Tests the tenant's server or a mailbox's; `onTested` after an answer (the last test changed). */
export function SmtpTestPanel({ accounts, onTested }: { accounts: Schema<"AccountWithStats">[]; onTested: () => void }) {
  const action = useAction();
  const [accountId, setAccountId] = useState("");
  const [result, setResult] = useState<Schema<"SmtpTestResult"> | null>(null);

  function test() {
    setResult(null);
    void action.run(
      () => api.POST("/admin/smtp/test", { body: { account_id: orNull(accountId) } }),
      (data) => {
        setResult(data ?? null);
        onTested();
      },
    );
  }

  return (
    <>
      <form
        class="card admin-form"
        aria-label="SMTP test"
        onSubmit={(e) => {
          e.preventDefault();
          test();
        }}
      >
        <h2>Test the connection</h2>
        <p class="muted">Connects, starts TLS, logs in and tries MAIL FROM, without sending anything.</p>
        <Field label="Settings to test">
          <select value={accountId} onChange={(e) => setAccountId(e.currentTarget.value)}>
            <option value="">The tenant's SMTP server</option>
            {accounts.map((account) => (
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
    </>
  );
}
