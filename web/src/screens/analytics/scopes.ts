// Which reports the user may open: their own figures, each mailbox they hold, and the
// departments the gateway lets them see (all of the tenant's for an admin, their own for a
// member), encoded in the route's query as "me", "account:<id>" or "department:<id>".
import { api } from "../../api/client";
import { isAdmin, type Me } from "../../api/session";

export type Scope =
  | { kind: "me" }
  | { kind: "account"; id: string }
  | { kind: "department"; id: string };

export interface ScopeOption {
  value: string;
  label: string;
}

export function scopeValue(scope: Scope): string {
  return scope.kind === "me" ? "me" : `${scope.kind}:${scope.id}`;
}

export function parseScope(raw: string | null): Scope {
  const [kind, id] = (raw ?? "me").split(":", 2);
  if ((kind === "account" || kind === "department") && id) return { kind, id };
  return { kind: "me" };
}

/** The scope picker's options, grouped by what they describe. */
export async function scopeOptions(
  user: Me,
): Promise<{ mailboxes: ScopeOption[]; departments: ScopeOption[] }> {
  const mailboxes = (user.accounts ?? []).map((account) => ({
    value: `account:${account.account_id}`,
    label: account.display_name ? `${account.display_name} <${account.address}>` : account.address,
  }));
  if (isAdmin(user)) {
    const { data } = await api.GET("/admin/departments");
    const departments = (data?.items ?? []).map((department) => ({
      value: `department:${department.id}`,
      label: department.name,
    }));
    return { mailboxes, departments };
  }
  const departments = user.department_id
    ? [{ value: `department:${user.department_id}`, label: "Your department" }]
    : [];
  return { mailboxes, departments };
}
