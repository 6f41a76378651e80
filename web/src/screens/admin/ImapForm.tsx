// Creating or editing an IMAP mailbox. The password is write-only: never shown, sent only when
// typed (on edit, empty keeps the stored one).
import { useState } from "preact/hooks";
import { Field } from "../../ui/components";
import { AccountSelect } from "./IdSelect";
import { Check, FormCard, orNull, type Directory, type Schema } from "./kit";

type Mailbox = Schema<"ImapMailboxView">;
type Security = NonNullable<Schema<"ImapMailboxCreate">["security"]>;
export type ImapBody = Omit<Schema<"ImapMailboxCreate">, "password" | "account_id"> & {
  account_id: string;
  password: string | null;
};

export function ImapForm({ mailbox, directory, busy, onSubmit, onCancel }: {
  mailbox?: Mailbox;
  directory: Directory;
  busy: boolean;
  onSubmit: (body: ImapBody) => void;
  onCancel: () => void;
}) {
  const [accountId, setAccountId] = useState(mailbox?.account_id ?? "");
  const [host, setHost] = useState(mailbox?.host ?? "");
  const [port, setPort] = useState(String(mailbox?.port ?? 993));
  const [security, setSecurity] = useState<Security>((mailbox?.security as Security | undefined) ?? "ssl");
  const [username, setUsername] = useState(mailbox?.username ?? "");
  const [password, setPassword] = useState("");
  const [folder, setFolder] = useState(mailbox?.folder ?? "INBOX");
  const [afterAction, setAfterAction] = useState(mailbox?.after_action ?? "flag");
  const [moveTo, setMoveTo] = useState(mailbox?.move_to_folder ?? "");
  const [pollInterval, setPollInterval] = useState(String(mailbox?.poll_interval_seconds ?? 60));
  const [useIdle, setUseIdle] = useState(mailbox?.use_idle ?? true);
  const [active, setActive] = useState(mailbox?.is_active ?? true);

  function submit() {
    onSubmit({
      account_id: accountId,
      host,
      port: Number(port) || 993,
      security,
      username,
      password: orNull(password),
      folder,
      after_action: afterAction,
      move_to_folder: afterAction === "move" ? orNull(moveTo) : null,
      poll_interval_seconds: Number(pollInterval) || 60,
      use_idle: useIdle,
      is_active: active,
    });
  }

  return (
    <FormCard
      title={mailbox ? `Edit ${mailbox.username}@${mailbox.host}` : "New IMAP mailbox"}
      submit={mailbox ? "Save mailbox" : "Add mailbox"}
      busy={busy}
      onSubmit={submit}
      onCancel={onCancel}
    >
      {mailbox ? null : (
        <AccountSelect
          label="Delivers to account"
          none="Choose an account"
          required
          options={directory.accounts}
          value={accountId}
          onChange={setAccountId}
        />
      )}
      <Field label="Host">
        <input required maxLength={253} value={host} onInput={(e) => setHost(e.currentTarget.value)} />
      </Field>
      <Field label="Port">
        <input type="number" min={1} max={65535} value={port} onInput={(e) => setPort(e.currentTarget.value)} />
      </Field>
      <Field label="Security">
        <select value={security} onChange={(e) => setSecurity(e.currentTarget.value as Security)}>
          <option value="ssl">SSL/TLS</option>
          <option value="starttls">STARTTLS</option>
          <option value="plain">none (plain)</option>
        </select>
      </Field>
      <Field label="Username">
        <input required maxLength={320} value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
      </Field>
      <Field label="IMAP password" hint={mailbox ? "leave empty to keep the stored password" : undefined}>
        <input
          type="password"
          autoComplete="new-password"
          required={!mailbox}
          maxLength={1024}
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </Field>
      <Field label="Folder">
        <input required maxLength={255} value={folder} onInput={(e) => setFolder(e.currentTarget.value)} />
      </Field>
      <Field label="After fetching" hint="flag: mark it seen (or flag:Keyword); move: to the folder below">
        <input required value={afterAction} onInput={(e) => setAfterAction(e.currentTarget.value)} list="admin-imap-actions" />
      </Field>
      <datalist id="admin-imap-actions">
        <option value="flag" />
        <option value="leave" />
        <option value="move" />
      </datalist>
      {afterAction === "move" ? (
        <Field label="Move to folder">
          <input required value={moveTo} onInput={(e) => setMoveTo(e.currentTarget.value)} />
        </Field>
      ) : null}
      <Field label="Poll every (seconds)">
        <input type="number" min={10} max={86400} value={pollInterval} onInput={(e) => setPollInterval(e.currentTarget.value)} />
      </Field>
      <Check label="Use IMAP IDLE" checked={useIdle} onChange={setUseIdle} />
      <Check label="Active" checked={active} onChange={setActive} />
    </FormCard>
  );
}
