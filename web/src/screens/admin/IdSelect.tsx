// Selects of the directory's accounts, departments and users by id; "" stands for the `none`
// choice (no account, any department, choose one…).
import { Field } from "../../ui/components";
import type { Schema } from "./kit";

interface SelectProps<T> {
  label: string;
  hint?: string;
  /** The text of the "" choice. */
  none: string;
  options: T[];
  value: string;
  required?: boolean;
  onChange: (id: string) => void;
}

export function IdSelect<T extends { id: string }>({
  label,
  hint,
  none,
  options,
  value,
  required = false,
  onChange,
  name,
}: SelectProps<T> & { name: (option: T) => string }) {
  return (
    <Field label={label} hint={hint}>
      <select required={required} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{none}</option>
        {options.map((option) => (
          <option key={option.id} value={option.id}>
            {name(option)}
          </option>
        ))}
      </select>
    </Field>
  );
}

export function AccountSelect(props: SelectProps<Schema<"AccountWithStats">>) {
  return <IdSelect {...props} name={(account) => account.address} />;
}

export function DepartmentSelect(props: SelectProps<Schema<"DepartmentView">>) {
  return <IdSelect {...props} name={(department) => department.name} />;
}

export function UserSelect(props: SelectProps<Schema<"UserView">>) {
  return <IdSelect {...props} name={(user) => user.full_name} />;
}
