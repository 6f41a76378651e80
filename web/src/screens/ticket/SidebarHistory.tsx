// What happened to the ticket and why (rules matched and assigned, agents' changes): loaded
// when the reader opens the section.
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import { ErrorBanner, Loading } from "../../ui/components";
import { formatDateTime } from "../../ui/format";
import { nameOf, type People } from "./TicketPeople";

type Entry = components["schemas"]["TicketHistoryEntry"];

const KIND_LABEL: Record<string, string> = {
  matched: "Mail matched",
  assigned: "Assigned",
  reopened: "Reopened",
  auto_reply: "Automatic reply",
  sla: "SLA",
  status: "Status",
  note: "Note",
};

function actor(entry: Entry, people: People): string {
  if (entry.actor_user_id) return nameOf(people, entry.actor_user_id);
  return entry.rule ? `rule ${entry.rule}` : "postdesk";
}

interface Props {
  ticketId: string;
  people: People;
  /** Bumped when the ticket changed, to read the history again if it is open. */
  version: number;
}

export function SidebarHistory({ ticketId, people, version }: Props) {
  const [open, setOpen] = useState(false);
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!open) return;
    let current = true;
    void api
      .GET("/tickets/{ticket_id}/history", { params: { path: { ticket_id: ticketId } } })
      .then(({ data, error: failure }) => {
        if (!current) return;
        if (data) setEntries(data.items);
        else setError(problemText(failure));
      });
    return () => {
      current = false;
    };
  }, [open, ticketId, version]);
  return (
    <details
      class="sidebar-history"
      open={open}
      onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}
    >
      <summary>History</summary>
      <ErrorBanner message={error} />
      {open && entries === null && !error ? <Loading what="Loading the history" /> : null}
      {entries?.length === 0 ? <p class="muted">Nothing recorded yet.</p> : null}
      {entries?.length ? (
        <ol class="history-list">
          {entries.map((entry) => (
            <li key={entry.id}>
              <time class="muted" dateTime={entry.created_at}>
                {formatDateTime(entry.created_at)}
              </time>
              <div>
                <strong>{KIND_LABEL[entry.kind] ?? entry.kind}</strong>{" "}
                <span class="muted">by {actor(entry, people)}</span>
              </div>
              {entry.detail ? <div class="history-detail">{entry.detail}</div> : null}
              {entry.ticket_id !== ticketId ? (
                <div class="muted">(on a ticket merged into this one)</div>
              ) : null}
            </li>
          ))}
        </ol>
      ) : null}
    </details>
  );
}
