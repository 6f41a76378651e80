// The inbox's views with their numbers (GET /tickets/counts). Each count sits beside its link
// so the link's name is the view's name alone.
import type { components } from "../../api/schema";
import { href } from "../../router";
import { type InboxFilters, STATUSES, type SidebarView, filtersToQuery } from "./inboxQuery";

type Counts = components["schemas"]["InboxCounts"];

interface ViewLink {
  view: SidebarView;
  label: string;
  count: (counts: Counts) => number | null | undefined;
  countLabel: string;
}

const VIEW_LINKS: ViewLink[] = [
  { view: "inbox", label: "Inbox", count: (c) => c.unread, countLabel: "unread" },
  { view: "assigned", label: "Assigned to me", count: (c) => c.assigned_to_me, countLabel: "open or pending" },
  { view: "department", label: "My department", count: (c) => c.my_department, countLabel: "tickets" },
  { view: "mine", label: "My mailboxes", count: (c) => c.mine, countLabel: "tickets" },
];

const STATUS_LABELS: Record<string, string> = {
  open: "Open",
  pending: "Pending",
  resolved: "Resolved",
  closed: "Closed",
};

export const statusLabel = (status: string): string => STATUS_LABELS[status] ?? status;

function Count({ value, label }: { value: number | null | undefined; label: string }) {
  if (value === null || value === undefined) return null;
  return (
    <span class="view-count" title={`${value} ${label}`}>
      {value}
      <span class="visually-hidden"> {label}</span>
    </span>
  );
}

export function InboxSidebar({
  filters,
  counts,
  isAdmin,
  hasPersonalMailbox,
}: {
  filters: InboxFilters;
  counts: Counts | undefined;
  isAdmin: boolean;
  hasPersonalMailbox: boolean;
}) {
  const statusPage = filters.view === "all" && (STATUSES as string[]).includes(filters.status);
  // "My mailboxes" lists one's personal mailboxes' tickets: only for those who have some.
  const links = VIEW_LINKS.filter((link) => link.view !== "mine" || hasPersonalMailbox);
  if (isAdmin) {
    links.push({ view: "all", label: "All tickets", count: (c) => c.all, countLabel: "tickets" });
  }
  const current = (view: SidebarView) =>
    filters.view === view && !statusPage ? ("page" as const) : undefined;

  return (
    <nav class="inbox-sidebar" aria-label="Ticket views">
      <ul class="view-list">
        {links.map((link) => (
          <li key={link.view}>
            <a
              href={href("/inbox", { view: link.view === "inbox" ? undefined : link.view })}
              aria-current={current(link.view)}
            >
              {link.label}
            </a>
            <Count value={counts ? link.count(counts) : undefined} label={link.countLabel} />
          </li>
        ))}
      </ul>
      <h2 class="sidebar-heading">By status</h2>
      <ul class="view-list">
        {STATUSES.map((status) => (
          <li key={status}>
            <a
              href={href("/inbox", filtersToQuery(filtersForStatus(status)))}
              aria-current={filters.view === "all" && filters.status === status ? "page" : undefined}
            >
              {statusLabel(status)}
            </a>
            <Count value={counts ? (counts.by_status[status] ?? 0) : undefined} label="tickets" />
          </li>
        ))}
      </ul>
    </nav>
  );
}

function filtersForStatus(status: string): InboxFilters {
  return {
    view: "all",
    status,
    priority: "",
    account: "",
    department: "",
    tag: "",
    sla: "",
    q: "",
    unread: false,
    sort: "last_message_at",
  };
}
