// Creating a user and editing one.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { Field } from "../../ui/components";
import { DepartmentSelect } from "./IdSelect";
import { ActionStatus, FormCard, orNull, useAction, type Directory, type Schema } from "./kit";

type User = Schema<"UserView">;
type Role = User["role"];

function UserDepartmentSelect({
  value,
  directory,
  onChange,
}: {
  value: string;
  directory: Directory;
  onChange: (value: string) => void;
}) {
  return (
    <DepartmentSelect label="Department" none="No department" options={directory.departments} value={value} onChange={onChange} />
  );
}

function RoleSelect({ value, onChange }: { value: Role; onChange: (value: Role) => void }) {
  return (
    <Field label="Role">
      <select value={value} onChange={(e) => onChange(e.currentTarget.value as Role)}>
        <option value="member">member</option>
        <option value="admin">admin</option>
      </select>
    </Field>
  );
}

export function UserCreateForm({
  directory,
  onCreated,
  onCancel,
}: {
  directory: Directory;
  onCreated: (created: Schema<"UserCreated">) => void;
  onCancel: () => void;
}) {
  const action = useAction();
  const [email, setEmail] = useState("");
  const [fullName, setFullName] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [departmentId, setDepartmentId] = useState("");
  const [jobTitle, setJobTitle] = useState("");
  const [password, setPassword] = useState("");
  const [companyEmail, setCompanyEmail] = useState("");
  const [timezone, setTimezone] = useState("UTC");

  function submit() {
    void action.run(
      () =>
        api.POST("/admin/users", {
          body: {
            email,
            full_name: fullName,
            role,
            department_id: orNull(departmentId),
            job_title: jobTitle,
            password: orNull(password),
            company_email: orNull(companyEmail.trim()),
            email_signature: "",
            timezone,
          },
        }),
      (created) => created && onCreated(created),
    );
  }

  return (
    <>
      <ActionStatus action={action} />
      <FormCard title="New user" submit="Create user" busy={action.busy} onSubmit={submit} onCancel={onCancel}>
        <Field label="Email (login)">
          <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <Field label="Full name">
          <input required maxLength={200} value={fullName} onInput={(e) => setFullName(e.currentTarget.value)} />
        </Field>
        <RoleSelect value={role} onChange={setRole} />
        <UserDepartmentSelect value={departmentId} directory={directory} onChange={setDepartmentId} />
        <Field label="Job title">
          <input maxLength={200} value={jobTitle} onInput={(e) => setJobTitle(e.currentTarget.value)} />
        </Field>
        <Field label="Time zone">
          <input maxLength={64} value={timezone} onInput={(e) => setTimezone(e.currentTarget.value)} />
        </Field>
        <Field label="Password" hint="Leave empty to have one generated and shown once">
          <input
            type="password"
            autoComplete="new-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <Field label="Company email" hint="Creates their personal mailbox, with them as primary">
          <input type="email" value={companyEmail} onInput={(e) => setCompanyEmail(e.currentTarget.value)} />
        </Field>
      </FormCard>
    </>
  );
}

export function UserEditForm({
  user,
  directory,
  onSaved,
  onCancel,
}: {
  user: User;
  directory: Directory;
  onSaved: (user: User) => void;
  onCancel: () => void;
}) {
  const action = useAction();
  const [fullName, setFullName] = useState(user.full_name);
  const [role, setRole] = useState<Role>(user.role);
  const [departmentId, setDepartmentId] = useState(user.department_id ?? "");
  const [jobTitle, setJobTitle] = useState(user.job_title);
  const [timezone, setTimezone] = useState(user.timezone);

  function submit() {
    void action.run(
      () =>
        api.PATCH("/admin/users/{user_id}", {
          params: { path: { user_id: user.id } },
          body: {
            full_name: fullName,
            role,
            department_id: orNull(departmentId),
            job_title: jobTitle,
            timezone,
          },
        }),
      (saved) => saved && onSaved(saved),
    );
  }

  return (
    <>
      <ActionStatus action={action} />
      <FormCard title={`Edit ${user.full_name}`} submit="Save user" busy={action.busy} onSubmit={submit} onCancel={onCancel}>
        <Field label="Full name">
          <input required maxLength={200} value={fullName} onInput={(e) => setFullName(e.currentTarget.value)} />
        </Field>
        <RoleSelect value={role} onChange={setRole} />
        <UserDepartmentSelect value={departmentId} directory={directory} onChange={setDepartmentId} />
        <Field label="Job title">
          <input maxLength={200} value={jobTitle} onInput={(e) => setJobTitle(e.currentTarget.value)} />
        </Field>
        <Field label="Time zone">
          <input maxLength={64} value={timezone} onInput={(e) => setTimezone(e.currentTarget.value)} />
        </Field>
      </FormCard>
    </>
  );
}
