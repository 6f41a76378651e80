// Creating or editing an email account: identity, department, auto-reply, signature, policies.
import { useState } from "preact/hooks";
import { Field } from "../../ui/components";
import { DepartmentSelect, UserSelect } from "./IdSelect";
import { Check, FormCard, intOrNull, orNull, parseWorkingHours, workingHoursText, type Directory, type Schema } from "./kit";

type Account = Schema<"AccountView">;
export type AccountBody = Schema<"AccountUpdate"> & Partial<Pick<Schema<"AccountCreate">, "address" | "kind" | "owner_user_id">>;

export function AccountForm({
  account,
  directory,
  busy,
  onSubmit,
  onInvalid,
  onCancel,
}: {
  account?: Account;
  directory: Directory;
  busy: boolean;
  onSubmit: (body: AccountBody) => void;
  onInvalid: (message: string) => void;
  onCancel: () => void;
}) {
  const [address, setAddress] = useState("");
  const [kind, setKind] = useState<Account["kind"]>("shared");
  const [ownerId, setOwnerId] = useState("");
  const [displayName, setDisplayName] = useState(account?.display_name ?? "");
  const [departmentId, setDepartmentId] = useState(account?.department_id ?? "");
  const [signature, setSignature] = useState(account?.signature ?? "");
  const [autoReply, setAutoReply] = useState(account?.auto_reply_enabled ?? false);
  const [autoSubject, setAutoSubject] = useState(account?.auto_reply_subject ?? "");
  const [autoMessage, setAutoMessage] = useState(account?.auto_reply_message ?? "");
  const [schedule, setSchedule] = useState(account?.auto_reply_schedule ?? "always");
  const [windowMinutes, setWindowMinutes] = useState(String(account?.auto_reply_window_minutes ?? ""));
  const [timezone, setTimezone] = useState(account?.timezone ?? "UTC");
  const [hours, setHours] = useState(workingHoursText(account?.working_hours));
  const [reopen, setReopen] = useState(account?.reopen_policy ?? "reopen");
  const [matchDays, setMatchDays] = useState(String(account?.subject_match_days ?? ""));
  const [reassign, setReassign] = useState(String(account?.reassign_after_minutes ?? ""));

  function submit() {
    const workingHours = parseWorkingHours(hours);
    if (typeof workingHours === "string") return onInvalid(workingHours);
    const body: AccountBody = {
      display_name: displayName,
      department_id: orNull(departmentId),
      signature,
      auto_reply_enabled: autoReply,
      auto_reply_subject: autoSubject,
      auto_reply_message: autoMessage,
      auto_reply_schedule: schedule === "outside_hours" ? "outside_hours" : "always",
      auto_reply_window_minutes: intOrNull(windowMinutes),
      timezone,
      working_hours: workingHours,
      reopen_policy: reopen === "follow_up" ? "follow_up" : "reopen",
      subject_match_days: intOrNull(matchDays),
      reassign_after_minutes: intOrNull(reassign),
    };
    onSubmit(account ? body : { ...body, address, kind, owner_user_id: kind === "personal" ? orNull(ownerId) : null });
  }

  return (
    <FormCard
      title={account ? `Edit ${account.address}` : "New email account"}
      submit={account ? "Save account" : "Create account"}
      busy={busy}
      onSubmit={submit}
      onCancel={onCancel}
    >
      {account ? null : (
        <>
          <Field label="Address">
            <input type="email" required maxLength={320} value={address} onInput={(e) => setAddress(e.currentTarget.value)} />
          </Field>
          <Field label="Kind">
            <select value={kind} onChange={(e) => setKind(e.currentTarget.value as Account["kind"])}>
              <option value="shared">shared</option>
              <option value="personal">personal</option>
            </select>
          </Field>
          {kind === "personal" ? (
            <UserSelect label="Owner" none="Choose the owner" options={directory.users} value={ownerId} onChange={setOwnerId} />
          ) : null}
        </>
      )}
      <Field label="Display name">
        <input value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />
      </Field>
      <DepartmentSelect
        label="Department"
        none="No department"
        options={directory.departments}
        value={departmentId}
        onChange={setDepartmentId}
      />
      <Field label="Time zone">
        <input maxLength={64} value={timezone} onInput={(e) => setTimezone(e.currentTarget.value)} />
      </Field>
      <Field label="Working hours (JSON)" hint='e.g. {"mon": [["09:00", "17:30"]]}; empty for none'>
        <input value={hours} onInput={(e) => setHours(e.currentTarget.value)} />
      </Field>
      <Field label="Signature">
        <textarea rows={3} value={signature} onInput={(e) => setSignature(e.currentTarget.value)} />
      </Field>
      <fieldset class="admin-flags admin-wide">
        <legend>Auto-reply</legend>
        <Check label="Auto-reply on" checked={autoReply} onChange={setAutoReply} />
        <Field label="Auto-reply subject">
          <input value={autoSubject} onInput={(e) => setAutoSubject(e.currentTarget.value)} />
        </Field>
        <Field label="Auto-reply text">
          <textarea rows={3} value={autoMessage} onInput={(e) => setAutoMessage(e.currentTarget.value)} />
        </Field>
        <Field label="Auto-reply schedule">
          <select value={schedule} onChange={(e) => setSchedule(e.currentTarget.value)}>
            <option value="always">always</option>
            <option value="outside_hours">outside working hours</option>
          </select>
        </Field>
        <Field label="Auto-reply window (minutes)" hint="at most one auto-reply per sender in this time">
          <input type="number" min={1} value={windowMinutes} onInput={(e) => setWindowMinutes(e.currentTarget.value)} />
        </Field>
      </fieldset>
      <Field label="Reply to a closed ticket">
        <select value={reopen} onChange={(e) => setReopen(e.currentTarget.value)}>
          <option value="reopen">reopens it</option>
          <option value="follow_up">opens a follow-up ticket</option>
        </select>
      </Field>
      <Field label="Subject match days" hint="thread mail by subject within this many days; empty: off">
        <input type="number" min={1} max={365} value={matchDays} onInput={(e) => setMatchDays(e.currentTarget.value)} />
      </Field>
      <Field label="Reassign after (minutes)" hint="empty: never">
        <input type="number" min={1} value={reassign} onInput={(e) => setReassign(e.currentTarget.value)} />
      </Field>
    </FormCard>
  );
}
