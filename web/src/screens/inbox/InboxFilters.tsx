// The filters above the list. Choices apply at once; the search words and the tag apply when
// the form is submitted (Enter), so typing does not reload the list on every key.
import { useEffect, useState } from "preact/hooks";
import type { AccountAccess } from "../../api/session";
import { href, navigate } from "../../router";
import { Field } from "../../ui/components";
import {
  ANY_STATUS,
  type InboxFilters as Filters,
  PRIORITIES,
  SLA_STATES,
  SORTS,
  STATUSES,
  defaultsToOpenWork,
  filtersToQuery,
} from "./inboxQuery";
import { statusLabel } from "./InboxSidebar";

const SLA_LABELS: Record<string, string> = { ok: "On time", warning: "Warned", breached: "Breached" };
const capitalized = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);

export interface DepartmentChoice {
  id: string;
  name: string;
}

export function InboxFilters({
  filters,
  accounts,
  departments,
}: {
  filters: Filters;
  accounts: AccountAccess[];
  /** Empty for members: only admins may list departments. */
  departments: DepartmentChoice[];
}) {
  const [q, setQ] = useState(filters.q);
  const [tag, setTag] = useState(filters.tag);
  useEffect(() => setQ(filters.q), [filters.q]);
  useEffect(() => setTag(filters.tag), [filters.tag]);

  const apply = (change: Partial<Filters>) =>
    navigate("/inbox", filtersToQuery({ ...filters, q, tag, ...change }));

  const submit = (event: Event) => {
    event.preventDefault();
    apply({});
  };

  const filtered =
    filters.status ||
    filters.priority ||
    filters.account ||
    filters.department ||
    filters.tag ||
    filters.sla ||
    filters.q ||
    filters.unread;

  return (
    <form class="inbox-filters" role="search" aria-label="Filter tickets" onSubmit={submit}>
      <Field label="Search">
        <input
          type="search"
          value={q}
          maxLength={200}
          placeholder="Subject, customer, text"
          onInput={(e) => setQ(e.currentTarget.value)}
        />
      </Field>
      <Field label="Status">
        <select value={filters.status} onChange={(e) => apply({ status: e.currentTarget.value })}>
          <option value="">{defaultsToOpenWork(filters.view) ? "Open and pending" : "Any status"}</option>
          {defaultsToOpenWork(filters.view) ? <option value={ANY_STATUS}>Any status</option> : null}
          {STATUSES.map((status) => (
            <option key={status} value={status}>
              {statusLabel(status)}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Priority">
        <select value={filters.priority} onChange={(e) => apply({ priority: e.currentTarget.value })}>
          <option value="">Any priority</option>
          {PRIORITIES.map((priority) => (
            <option key={priority} value={priority}>
              {capitalized(priority)}
            </option>
          ))}
        </select>
      </Field>
      {accounts.length > 1 ? (
        <Field label="Mailbox">
          <select value={filters.account} onChange={(e) => apply({ account: e.currentTarget.value })}>
            <option value="">All mailboxes</option>
            {accounts.map((account) => (
              <option key={account.account_id} value={account.account_id}>
                {account.address}
              </option>
            ))}
          </select>
        </Field>
      ) : null}
      {departments.length > 0 ? (
        <Field label="Department">
          <select
            value={filters.department}
            onChange={(e) => apply({ department: e.currentTarget.value })}
          >
            <option value="">All departments</option>
            {departments.map((department) => (
              <option key={department.id} value={department.id}>
                {department.name}
              </option>
            ))}
          </select>
        </Field>
      ) : null}
      <Field label="SLA">
        <select value={filters.sla} onChange={(e) => apply({ sla: e.currentTarget.value })}>
          <option value="">Any SLA state</option>
          {SLA_STATES.map((state) => (
            <option key={state} value={state}>
              {SLA_LABELS[state]}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Tag">
        <input
          type="text"
          value={tag}
          maxLength={40}
          size={10}
          onInput={(e) => setTag(e.currentTarget.value)}
        />
      </Field>
      <Field label="Sort">
        <select
          value={filters.sort}
          onChange={(e) => apply({ sort: e.currentTarget.value as Filters["sort"] })}
        >
          {SORTS.map((sort) => (
            <option key={sort.value} value={sort.value}>
              {sort.label}
            </option>
          ))}
        </select>
      </Field>
      <label class="check">
        <input
          type="checkbox"
          checked={filters.unread}
          onChange={(e) => apply({ unread: e.currentTarget.checked })}
        />
        Unread only
      </label>
      <div class="filter-actions">
        <button type="submit">Apply</button>
        {filtered ? (
          <a class="button" href={href("/inbox", { view: filters.view === "inbox" ? undefined : filters.view })}>
            Clear filters
          </a>
        ) : null}
      </div>
    </form>
  );
}
