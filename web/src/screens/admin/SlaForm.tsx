// Creating or editing an SLA policy. Its scope (account, department, priority) is fixed once
// created; the targets and calendar can change.
import { useState } from "preact/hooks";
import { Field } from "../../ui/components";
import { AccountSelect, DepartmentSelect } from "./IdSelect";
import { Check, FormCard, intOrNull, orNull, parseWorkingHours, workingHoursText, type Directory, type Schema } from "./kit";

type Policy = Schema<"SlaPolicyView">;
type Priority = NonNullable<Schema<"SlaPolicyCreate">["priority"]>;
export type SlaBody = Schema<"SlaPolicyUpdate"> & Partial<Pick<Schema<"SlaPolicyCreate">, "account_id" | "department_id" | "priority">>;

const PRIORITIES: Priority[] = ["low", "normal", "high", "urgent"];

export function SlaForm({
  policy,
  directory,
  busy,
  onSubmit,
  onInvalid,
  onCancel,
}: {
  policy?: Policy;
  directory: Directory;
  busy: boolean;
  onSubmit: (body: SlaBody) => void;
  onInvalid: (message: string) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState(policy?.name ?? "");
  const [accountId, setAccountId] = useState("");
  const [departmentId, setDepartmentId] = useState("");
  const [priority, setPriority] = useState("");
  const [firstResponse, setFirstResponse] = useState(String(policy?.first_response_minutes ?? ""));
  const [resolution, setResolution] = useState(String(policy?.resolution_minutes ?? ""));
  const [businessHours, setBusinessHours] = useState(policy?.business_hours ?? false);
  const [timezone, setTimezone] = useState(policy?.timezone ?? "UTC");
  const [hours, setHours] = useState(workingHoursText(policy?.working_hours));
  const [holidays, setHolidays] = useState((policy?.holidays ?? []).join(", "));
  const [warning, setWarning] = useState(String(policy?.warning_percent ?? 80));
  const [active, setActive] = useState(policy?.is_active ?? true);

  function submit() {
    const workingHours = parseWorkingHours(hours);
    if (typeof workingHours === "string") return onInvalid(workingHours);
    const body: SlaBody = {
      name,
      first_response_minutes: intOrNull(firstResponse),
      resolution_minutes: intOrNull(resolution),
      business_hours: businessHours,
      timezone,
      working_hours: workingHours,
      holidays: holidays.split(/[\s,]+/).filter(Boolean),
      warning_percent: intOrNull(warning) ?? 80,
    };
    onSubmit(
      policy
        ? { ...body, is_active: active }
        : {
            ...body,
            account_id: orNull(accountId),
            department_id: orNull(departmentId),
            priority: (orNull(priority) as Priority | null) ?? null,
          },
    );
  }

  return (
    <FormCard
      title={policy ? `Edit ${policy.name}` : "New SLA policy"}
      submit={policy ? "Save policy" : "Create policy"}
      busy={busy}
      onSubmit={submit}
      onCancel={onCancel}
    >
      <Field label="Name">
        <input required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      {policy ? null : (
        <>
          <AccountSelect
            label="Account scope"
            hint="empty: the whole tenant"
            none="Any account"
            options={directory.accounts}
            value={accountId}
            onChange={setAccountId}
          />
          <DepartmentSelect
            label="Department scope"
            none="Any department"
            options={directory.departments}
            value={departmentId}
            onChange={setDepartmentId}
          />
          <Field label="Priority scope">
            <select value={priority} onChange={(e) => setPriority(e.currentTarget.value)}>
              <option value="">Any priority</option>
              {PRIORITIES.map((value) => (
                <option key={value} value={value}>
                  {value}
                </option>
              ))}
            </select>
          </Field>
        </>
      )}
      <Field label="First response (minutes)">
        <input type="number" min={1} value={firstResponse} onInput={(e) => setFirstResponse(e.currentTarget.value)} />
      </Field>
      <Field label="Resolution (minutes)">
        <input type="number" min={1} value={resolution} onInput={(e) => setResolution(e.currentTarget.value)} />
      </Field>
      <Field label="Warning at (% of the target)">
        <input type="number" min={1} max={100} value={warning} onInput={(e) => setWarning(e.currentTarget.value)} />
      </Field>
      <Check label="Count business hours only" checked={businessHours} onChange={setBusinessHours} />
      <Field label="Time zone">
        <input maxLength={64} value={timezone} onInput={(e) => setTimezone(e.currentTarget.value)} />
      </Field>
      <Field label="Working hours (JSON)" hint='needed for business hours, e.g. {"mon": [["09:00", "17:30"]]}'>
        <input value={hours} onInput={(e) => setHours(e.currentTarget.value)} />
      </Field>
      <Field label="Holidays" hint="dates, YYYY-MM-DD, separated by commas">
        <input value={holidays} onInput={(e) => setHolidays(e.currentTarget.value)} />
      </Field>
      {policy ? <Check label="Active" checked={active} onChange={setActive} /> : null}
    </FormCard>
  );
}
