// The form of one SMTP server (the tenant's default or a mailbox's own), and how its last test
// reads. The password is write-only: the API says only whether one is stored, and an empty
// password field keeps it.
import { useState } from "preact/hooks";
import { Field } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { Check, FormCard, intOrNull, type Schema } from "./kit";

export type Server = Schema<"SmtpServerView">;
export type Change = Schema<"SmtpServerChange">;
type Security = Server["security"];
const DEFAULT_PORTS: Record<Security, number> = { tls: 465, starttls: 587, none: 25 };

export function lastTest(server: Server): string {
  if (!server.last_test_at) return "Never tested";
  return `${formatDateTime(server.last_test_at)}: ${server.last_test_result || "—"}`;
}

/** The form of one server; `server` null when none is stored yet (a host is then needed). */
export function ServerForm({
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
