// The form that gives a user rights on a mailbox, or changes those rights.
import { useState } from "preact/hooks";
import { Field } from "../../ui/components";
import { Check, FormCard, type Directory, type Schema } from "./kit";

export type AssignmentRole = Schema<"AssignmentView">["role"];

export interface AssignmentValues {
  user_id: string;
  account_id: string;
  role: AssignmentRole;
  can_send: boolean;
  can_receive: boolean;
  can_delete: boolean;
  can_assign_others: boolean;
  notify_on_receive: boolean;
  notify_on_reply: boolean;
  notify_on_mention: boolean;
  priority: number;
  notes: string;
}

export const ROLES: AssignmentRole[] = ["primary", "backup", "viewer"];

export function newAssignment(userId: string, accountId: string): AssignmentValues {
  return {
    user_id: userId,
    account_id: accountId,
    role: "backup",
    can_send: true,
    can_receive: true,
    can_delete: false,
    can_assign_others: false,
    notify_on_receive: true,
    notify_on_reply: true,
    notify_on_mention: true,
    priority: 0,
    notes: "",
  };
}

/** The editable values of an existing assignment (the form must not send its other fields). */
export function assignmentValues(row: Schema<"AssignmentView">): AssignmentValues {
  return {
    user_id: row.user_id,
    account_id: row.account_id,
    role: row.role,
    can_send: row.can_send,
    can_receive: row.can_receive,
    can_delete: row.can_delete,
    can_assign_others: row.can_assign_others,
    notify_on_receive: row.notify_on_receive,
    notify_on_reply: row.notify_on_reply,
    notify_on_mention: row.notify_on_mention,
    priority: row.priority,
    notes: row.notes,
  };
}

type Flag =
  | "can_send"
  | "can_receive"
  | "can_delete"
  | "can_assign_others"
  | "notify_on_receive"
  | "notify_on_reply"
  | "notify_on_mention";

const FLAGS: [Flag, string][] = [
  ["can_send", "Can send"],
  ["can_receive", "Can receive"],
  ["can_delete", "Can delete"],
  ["can_assign_others", "Can assign others"],
  ["notify_on_receive", "Notify on receive"],
  ["notify_on_reply", "Notify on reply"],
  ["notify_on_mention", "Notify on mention"],
];

/** `pick` says which side is chosen in the form: the user, the account, both, or neither (edit). */
export function AssignmentForm({
  title,
  submit,
  initial,
  pick,
  directory,
  busy,
  onSubmit,
  onCancel,
}: {
  title: string;
  submit: string;
  initial: AssignmentValues;
  pick: "user" | "account" | "both" | "none";
  directory: Directory;
  busy: boolean;
  onSubmit: (values: AssignmentValues) => void;
  onCancel?: () => void;
}) {
  const [values, setValues] = useState(initial);
  const set = (patch: Partial<AssignmentValues>) => setValues({ ...values, ...patch });
  const viewer = values.role === "viewer";
  return (
    <FormCard title={title} submit={submit} busy={busy} onSubmit={() => onSubmit(values)} onCancel={onCancel}>
      {pick === "user" || pick === "both" ? (
        <Field label="User">
          <select required value={values.user_id} onChange={(e) => set({ user_id: e.currentTarget.value })}>
            <option value="">Choose a user</option>
            {directory.users
              .filter((user) => user.is_active)
              .map((user) => (
                <option key={user.id} value={user.id}>
                  {user.full_name} ({user.email})
                </option>
              ))}
          </select>
        </Field>
      ) : null}
      {pick === "account" || pick === "both" ? (
        <Field label="Email account">
          <select required value={values.account_id} onChange={(e) => set({ account_id: e.currentTarget.value })}>
            <option value="">Choose an account</option>
            {directory.accounts
              .filter((account) => account.is_active)
              .map((account) => (
                <option key={account.id} value={account.id}>
                  {account.address}
                </option>
              ))}
          </select>
        </Field>
      ) : null}
      <Field label="Role">
        <select
          value={values.role}
          onChange={(e) => {
            const role = e.currentTarget.value as AssignmentRole;
            // A viewer can never send or delete: the server refuses the combination.
            set(role === "viewer" ? { role, can_send: false, can_delete: false } : { role });
          }}
        >
          {ROLES.map((role) => (
            <option key={role} value={role}>
              {role}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Priority" hint="0–1000, used by priority routing">
        <input
          type="number"
          min={0}
          max={1000}
          value={values.priority}
          onInput={(e) => set({ priority: Number(e.currentTarget.value) || 0 })}
        />
      </Field>
      <fieldset class="admin-flags">
        <legend>Permissions and notifications</legend>
        {FLAGS.map(([flag, label]) => {
          const barred = viewer && (flag === "can_send" || flag === "can_delete");
          return (
            <Check
              key={flag}
              label={label}
              checked={values[flag] && !barred}
              disabled={barred}
              onChange={(checked) => set({ [flag]: checked } as Partial<AssignmentValues>)}
            />
          );
        })}
      </fieldset>
      <Field label="Notes">
        <input value={values.notes} maxLength={2000} onInput={(e) => set({ notes: e.currentTarget.value })} />
      </Field>
    </FormCard>
  );
}
