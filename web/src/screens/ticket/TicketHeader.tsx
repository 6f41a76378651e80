// The ticket's head: subject, number, customer, mailbox, state, tags, SLA clocks.
import type { components } from "../../api/schema";
import { accessTo, currentUser } from "../../api/session";
import { href } from "../../router";
import { Badge } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { TicketSla } from "./TicketSla";

type Ticket = components["schemas"]["TicketDetail"];

const STATUS_TONE: Record<string, string> = { open: "accent", pending: "warn", resolved: "ok", closed: "" };
const PRIORITY_TONE: Record<string, string> = { urgent: "danger", high: "warn", normal: "", low: "" };

export function mailboxName(accountId: string): string {
  const account = accessTo(currentUser(), accountId);
  if (!account) return "(mailbox)";
  return account.display_name ? `${account.display_name} <${account.address}>` : account.address;
}

export function TicketHeader({ ticket, assignee }: { ticket: Ticket; assignee: string }) {
  const customer = ticket.customer_name
    ? `${ticket.customer_name} <${ticket.customer_email}>`
    : ticket.customer_email;
  return (
    <header class="ticket-head">
      <p class="ticket-back">
        <a href={href("/inbox")}>← Back to inbox</a>
      </p>
      <h1>{ticket.subject || "(no subject)"}</h1>
      <p class="ticket-badges">
        <span class="ticket-number">#{ticket.number}</span>
        <Badge tone={STATUS_TONE[ticket.status] ?? ""}>{ticket.status}</Badge>
        <Badge tone={PRIORITY_TONE[ticket.priority] ?? ""}>{ticket.priority} priority</Badge>
        {(ticket.tags ?? []).map((tag) => (
          <Badge key={tag}>{tag}</Badge>
        ))}
      </p>
      <dl class="ticket-facts">
        <div>
          <dt>Customer</dt>
          <dd>{customer}</dd>
        </div>
        <div>
          <dt>Mailbox</dt>
          <dd>{mailboxName(ticket.account_id)}</dd>
        </div>
        <div>
          <dt>Assignee</dt>
          <dd>{assignee || "Unassigned"}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            <time dateTime={ticket.created_at}>{formatDateTime(ticket.created_at)}</time>
          </dd>
        </div>
      </dl>
      {ticket.merged_into_id ? (
        <p class="banner notice">
          This ticket was merged into <a href={href(`/tickets/${ticket.merged_into_id}`)}>another ticket</a>.
        </p>
      ) : null}
      {ticket.linked_ticket_id ? (
        <p class="muted">
          Follows up <a href={href(`/tickets/${ticket.linked_ticket_id}`)}>an earlier ticket</a>.
        </p>
      ) : null}
      <TicketSla clocks={ticket.sla ?? []} />
    </header>
  );
}
