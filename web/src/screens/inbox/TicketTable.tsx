// The ticket list: one row per ticket, the selected one marked (keyboard shortcuts act on it).
import { useEffect, useRef } from "preact/hooks";
import type { Me } from "../../api/session";
import { href } from "../../router";
import { Badge } from "../../ui/components";
import { formatDateTime, formatShort } from "../../ui/format";
import { statusLabel } from "./InboxSidebar";
import type { InboxTicket } from "./useTicketList";

const PRIORITY_TONES: Record<string, string> = { urgent: "danger", high: "warn", low: "" };
const STATUS_TONES: Record<string, string> = { open: "accent", pending: "warn", resolved: "ok" };

function mailboxName(user: Me, accountId: string): string {
  return user.accounts?.find((account) => account.account_id === accountId)?.address ?? "–";
}

function assigneeName(user: Me, ticket: InboxTicket) {
  if (!ticket.assignee_id) return <span class="muted">Unassigned</span>;
  if (ticket.assignee_id === user.id) return "You";
  return ticket.assignee_name || <span class="muted">A former colleague</span>;
}

export function TicketTable({
  tickets,
  user,
  selected,
  onSelect,
}: {
  tickets: InboxTicket[];
  user: Me;
  selected: number;
  onSelect: (index: number) => void;
}) {
  const body = useRef<HTMLTableSectionElement>(null);
  useEffect(() => {
    body.current?.rows[selected]?.scrollIntoView({ block: "nearest" });
  }, [selected]);

  return (
    <table class="ticket-table">
      <caption class="visually-hidden">Tickets</caption>
      <thead>
        <tr>
          <th scope="col">
            <span class="visually-hidden">Unread</span>
          </th>
          <th scope="col">#</th>
          <th scope="col">Subject</th>
          <th scope="col">Customer</th>
          <th scope="col">Mailbox</th>
          <th scope="col">Status</th>
          <th scope="col">Priority</th>
          <th scope="col">Assignee</th>
          <th scope="col">Last activity</th>
        </tr>
      </thead>
      <tbody ref={body}>
        {tickets.map((ticket, index) => (
          <tr
            key={ticket.id}
            class={`${ticket.unread ? "unread" : ""}${index === selected ? " selected" : ""}`}
            aria-selected={index === selected}
            onClick={() => onSelect(index)}
          >
            <td class="cell-unread">
              {ticket.unread ? (
                <span class="unread-dot" title="Unread">
                  <span class="visually-hidden">Unread</span>
                </span>
              ) : null}
            </td>
            <td class="cell-number">#{ticket.number}</td>
            <td class="cell-subject">
              <a href={href(`/tickets/${ticket.id}`)}>{ticket.subject || "(no subject)"}</a>
              {(ticket.tags ?? []).map((tag) => (
                <Badge key={tag}>{tag}</Badge>
              ))}
            </td>
            <td class="cell-customer" title={ticket.customer_email}>
              {ticket.customer_name || ticket.customer_email}
            </td>
            <td class="cell-mailbox">{mailboxName(user, ticket.account_id)}</td>
            <td class="cell-status">
              <Badge tone={STATUS_TONES[ticket.status] ?? ""}>{statusLabel(ticket.status)}</Badge>
            </td>
            <td class="cell-priority">
              <Badge tone={PRIORITY_TONES[ticket.priority] ?? ""}>{ticket.priority}</Badge>
            </td>
            <td class="cell-assignee">{assigneeName(user, ticket)}</td>
            <td class="cell-time">
              <time dateTime={ticket.last_message_at} title={formatDateTime(ticket.last_message_at)}>
                {formatShort(ticket.last_message_at)}
              </time>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
