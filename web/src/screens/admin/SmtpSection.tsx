// SMTP: the server the tenant's mail goes out through, each mailbox's own server (an override
// of the default), and the connection test. The password is write-only: the API says only
// whether one is stored, and an empty password field keeps it.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Field, Loading, Page } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { useLoad } from "../../ui/useLoad";
import {
  ActionStatus,
  AdminTable,
  Check,
  DirectoryError,
  FormCard,
  confirmed,
  intOrNull,
  orNull,
  useAction,
  useDirectory,
  type Schema,
} from "./kit";

type Server = Schema<"SmtpServerView">;
type Change = Schema<"SmtpServerChange">;
type Security = Server["security"];
const DEFAULT_PORTS: Record<Security, number> = { tls: 465, starttls: 587, none: 25 };

function lastTest(server: Server): string {
  if (!server.last_test_at) return "Never tested";
  return `${formatDateTime(server.last_test_at)}: ${server.last_test_result || "—"}`;
}

/** The form of one server; `server` null when none is stored yet (a host is then needed). */
function ServerForm({
  title,
  server,
  busy,
  onSave,
  onCancel,
}: {
  title: string;
  server: Server | null;
  busy: boolean;
  onSave: (change: Change) => void;
  onCancel?: () => void;
}) {
  const [host, setHost] = useState(server?.host ?? "");
  const [security, setSecurity] = useState<Security>(server?.security ?? "starttls");
  const [port, setPort] = useState(String(server?.port ?? DEFAULT_PORTS.starttls));
  const [username, setUsername] = useState(server?.username ?? "");
  const [password, setPassword] = useState("");
  const [clearPassword, setClearPassword] = useState(false);
  const [fromDomain, setFromDomain] = useState(server?.from_domain ?? "");
  const [timeout, setTimeoutSeconds] = useState(String(server?.timeout_seconds ?? 30));
  const [active, setActive] = useState(server?.is_active ?? true);

  function chooseSecurity(next: Security) {
    // a port still at the old security's default follows the new one's
    if (port.trim() === "" || port === String(DEFAULT_PORTS[security])) setPort(String(DEFAULT_PORTS[next]));
    setSecurity(next);
  }

  function save() {
    const seconds = timeout.trim() === "" ? null : Number(timeout);
    const change: Change = {
      host: host.trim(),
      port: intOrNull(port),
      security,
      username,
      from_domain: fromDomain.trim(),
      timeout_seconds: seconds !== null && Number.isFinite(seconds) ? seconds : null,
      is_active: active,
    };
    if (clearPassword) change.password = "";
    else if (password !== "") change.password = password;
    onSave(change);
  }

  const stored = server?.has_password ?? false;
  return (
    <FormCard title={title} submit={busy ? "Saving…" : "Save"} busy={busy} onSubmit={save} onCancel={onCancel}>
      <Field label="Host">
        <input value={host} required maxLength={253} onInput={(e) => setHost(e.currentTarget.value)} />
      </Field>
      <Field label="Security">
        <select value={security} onChange={(e) => chooseSecurity(e.currentTarget.value as Security)}>
          <option value="starttls">STARTTLS (starttls)</option>
          <option value="tls">Implicit TLS (tls)</option>
          <option value="none">None: unencrypted (none)</option>
        </select>
      </Field>
      <Field label="Port">
        <input type="number" min={1} max={65535} value={port} onInput={(e) => setPort(e.currentTarget.value)} />
      </Field>
      <Field label="Username" hint="empty for no login">
        <input value={username} maxLength={1024} autocomplete="off" onInput={(e) => setUsername(e.currentTarget.value)} />
      </Field>
      <Field label="Password" hint={stored ? "leave empty to keep the stored password" : "no password stored"}>
        <input
          type="password"
          value={password}
          maxLength={1024}
          autocomplete="new-password"
          disabled={clearPassword}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </Field>
      {stored ? <Check label="Clear password" checked={clearPassword} onChange={setClearPassword} /> : null}
      <Field label="From domain" hint="domain of Message-IDs and EHLO; empty for the mailbox's">
        <input value={fromDomain} maxLength={253} onInput={(e) => setFromDomain(e.currentTarget.value)} />
      </Field>
      <Field label="Timeout (seconds)">
        <input type="number" min={1} max={600} step="any" value={timeout} onInput={(e) => setTimeoutSeconds(e.currentTarget.value)} />
      </Field>
      <Check label="Active" checked={active} onChange={setActive} />
      {security === "none" && username ? (
        <p class="muted">Security none sends the login and password unencrypted.</p>
      ) : null}
    </FormCard>
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

function TestForm({ accounts, onTested }: { accounts: Schema<"AccountWithStats">[]; onTested: () => void }) {
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

export function SmtpSection() {
  const directory = useDirectory();
  const settings = useLoad(() => api.GET("/admin/smtp"), []);
  const action = useAction();
  const [editing, setEditing] = useState<string | null>(null); // an account id, or "new"
  const [newAccount, setNewAccount] = useState("");
  const [saves, setSaves] = useState(0); // re-keys the default's form after a save

  const current = settings.data;
  const overrides = current?.overrides ?? [];
  const withoutOverride = directory.accounts.filter((a) => !overrides.some((o) => o.account_id === a.id));
  const editedOverride = overrides.find((o) => o.account_id === editing) ?? null;
  const editedAccount = editing === "new" ? newAccount : editing;

  function saved(message: string) {
    setSaves((n) => n + 1);
    setEditing(null);
    setNewAccount("");
    action.setNotice(message);
    settings.reload();
  }

  function saveDefault(change: Change) {
    void action.run(() => api.PUT("/admin/smtp", { body: change }), () => saved("The tenant's SMTP server was saved."));
  }

  function saveOverride(accountId: string, change: Change) {
    void action.run(
      () => api.PUT("/admin/smtp/accounts/{account_id}", { params: { path: { account_id: accountId } }, body: change }),
      () => saved("The mailbox's SMTP server was saved."),
    );
  }

  function remove(server: Server) {
    const accountId = server.account_id;
    if (!accountId || !confirmed(`Remove the SMTP server of ${server.account_address}? Its mail then goes through the tenant's server.`))
      return;
    void action.run(
      () => api.DELETE("/admin/smtp/accounts/{account_id}", { params: { path: { account_id: accountId } } }),
      () => saved("The override was removed."),
    );
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
          <section class="card" aria-label="Mailbox overrides">
            <h2>Mailbox overrides</h2>
            <p class="muted">A mailbox with an active override sends through its own server instead of the default.</p>
            <AdminTable
              caption="Mailbox overrides"
              head={["Mailbox", "Server", "Login", "State", "Last test", "Actions"]}
              empty="No mailbox has its own SMTP server."
              count={overrides.length}
            >
              {overrides.map((server) => (
                <tr key={server.account_id}>
                  <td>{server.account_address}</td>
                  <td>{`${server.host}:${server.port} (${server.security})`}</td>
                  <td>{server.username ? `${server.username}${server.has_password ? ", password set" : ""}` : "no login"}</td>
                  <td>{server.is_active ? "active" : "inactive"}</td>
                  <td>{lastTest(server)}</td>
                  <td>
                    <button type="button" class="link" aria-label={`Edit override of ${server.account_address}`} onClick={() => setEditing(server.account_id ?? null)}>
                      Edit
                    </button>{" "}
                    <button type="button" class="link danger" aria-label={`Remove override of ${server.account_address}`} disabled={action.busy} onClick={() => remove(server)}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </AdminTable>
            {editing === null && withoutOverride.length > 0 ? (
              <button type="button" onClick={() => setEditing("new")}>
                Add override
              </button>
            ) : null}
          </section>
          {editing === "new" ? (
            <Field label="Mailbox to override">
              <select value={newAccount} onChange={(e) => setNewAccount(e.currentTarget.value)}>
                <option value="">Choose a mailbox…</option>
                {withoutOverride.map((account) => (
                  <option key={account.id} value={account.id}>
                    {account.address}
                  </option>
                ))}
              </select>
            </Field>
          ) : null}
          {editing !== null && editedAccount ? (
            <ServerForm
              key={`override-${editedAccount}`}
              title={`SMTP server of ${directory.accountName(editedAccount)}`}
              server={editedOverride}
              busy={action.busy}
              onSave={(change) => saveOverride(editedAccount, change)}
              onCancel={() => setEditing(null)}
            />
          ) : editing === "new" ? (
            <button type="button" onClick={() => setEditing(null)}>
              Cancel
            </button>
          ) : null}
        </>
      ) : null}
      <TestForm accounts={directory.accounts} onTested={settings.reload} />
    </Page>
  );
}
