// The ticket's settings: status, priority, assignee, tags. Each change is one PATCH; the
// server's refusal is shown as it says it. Read-only for whoever may not change them.
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import type { AccountAccess, Me } from "../../api/session";
import { ErrorBanner, Field } from "../../ui/components";
import { SidebarTags } from "./SidebarTags";
import { isAssignable, nameOf, type People } from "./TicketPeople";

type Ticket = components["schemas"]["TicketDetail"];
type Change = components["schemas"]["TicketChangeRequest"];

const STATUSES = ["open", "pending", "resolved", "closed"] as const;
const PRIORITIES = ["low", "normal", "high", "urgent"] as const;

export interface Rights {
  /** status, priority, tags (can_send, not a viewer) */
  edit: boolean;
  /** take the ticket yourself */
  takeSelf: boolean;
  /** give it to someone else, or unassign it */
  assignOthers: boolean;
}

export function rightsOn(user: Me, access: AccountAccess | undefined): Rights {
  const admin = user.role === "admin";
  const active = admin || (!!access && access.role !== "viewer");
  return {
    edit: active && (admin || !!access?.can_send),
    takeSelf: active && (admin || !!access?.can_send || !!access?.can_assign_others),
    assignOthers: active && (admin || !!access?.can_assign_others),
  };
}

interface Props {
  ticket: Ticket;
  user: Me;
  people: People;
  rights: Rights;
  onChanged: () => void;
}

export function SidebarControls({ ticket, user, people, rights, onChanged }: Props) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const change = async (body: Change) => {
    setBusy(true);
    setError(null);
    const { error: failure } = await api.PATCH("/tickets/{ticket_id}", {
      params: { path: { ticket_id: ticket.id } },
      body,
    });
    setBusy(false);
    if (failure !== undefined) setError(problemText(failure, "The change was refused."));
    onChanged();
  };

  const assignees = people.list.filter(
    (person) => person.assignable && (rights.assignOthers || person.id === user.id),
  );
  const assigneeKnown = !ticket.assignee_id || assignees.some((p) => p.id === ticket.assignee_id);
  const readOnly = !rights.edit;

  return (
    <section class="sidebar-controls" aria-labelledby="ticket-settings-title">
      <h2 id="ticket-settings-title">Ticket</h2>
      {readOnly ? <p class="muted">Read-only: you may not change this ticket.</p> : null}
      <ErrorBanner message={error} />
      <Field label="Status">
        <select
          value={ticket.status}
          disabled={readOnly || busy}
          onChange={(e) => void change({ status: e.currentTarget.value as Change["status"] })}
        >
          {STATUSES.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Priority">
        <select
          value={ticket.priority}
          disabled={readOnly || busy}
          onChange={(e) => void change({ priority: e.currentTarget.value as Change["priority"] })}
        >
          {PRIORITIES.map((priority) => (
            <option key={priority} value={priority}>
              {priority}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Assignee">
        <select
          value={ticket.assignee_id ?? ""}
          disabled={!(rights.assignOthers || rights.takeSelf) || busy}
          onChange={(e) => void change({ assignee_id: e.currentTarget.value || null })}
        >
          <option value="" disabled={!rights.assignOthers && !!ticket.assignee_id}>
            Unassigned
          </option>
          {assigneeKnown ? null : (
            <option value={ticket.assignee_id ?? ""} disabled>
              {nameOf(people, ticket.assignee_id)}
            </option>
          )}
          {assignees.map((person) => (
            <option key={person.id} value={person.id}>
              {person.id === user.id ? `${person.name} (me)` : person.name}
            </option>
          ))}
        </select>
      </Field>
      {rights.takeSelf && ticket.assignee_id !== user.id && isAssignable(people, user.id) ? (
        <button type="button" disabled={busy} onClick={() => void change({ assignee_id: user.id })}>
          Assign to me
        </button>
      ) : null}
      <SidebarTags
        tags={ticket.tags ?? []}
        editable={rights.edit && !busy}
        onEdit={(add, remove) => void change({ tags: { add, remove } })}
      />
    </section>
  );
}
