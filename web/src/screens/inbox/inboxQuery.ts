// The inbox's filters live in the URL (#/inbox?view=assigned&priority=urgent&q=refund), so
// links, reloads and the back button keep them. This maps them to GET /tickets's query.
import type { operations } from "../../api/schema";

type TicketListQuery = NonNullable<operations["TicketsListTickets"]["parameters"]["query"]>;
type Status = NonNullable<TicketListQuery["status"]>[number];
type Priority = NonNullable<TicketListQuery["priority"]>[number];
type Sla = NonNullable<TicketListQuery["sla"]>;
type Sort = NonNullable<TicketListQuery["sort"]>;

/** The sidebar's views. "inbox" and "assigned" are the open work: open and pending tickets
 * unless a status is chosen; the others show every status. */
export type SidebarView = "inbox" | "assigned" | "department" | "mine" | "all";

export const STATUSES: Status[] = ["open", "pending", "resolved", "closed"];
export const PRIORITIES: Priority[] = ["low", "normal", "high", "urgent"];
export const SLA_STATES: Sla[] = ["ok", "warning", "breached"];
export const SORTS: { value: Sort; label: string }[] = [
  { value: "last_message_at", label: "Latest activity" },
  { value: "created_at", label: "Newest first" },
  { value: "priority", label: "Priority" },
  { value: "number", label: "Ticket number" },
];
/** The status filter's value for "every status" in a view that defaults to open work. */
export const ANY_STATUS = "any";

const OPEN_WORK: Status[] = ["open", "pending"];
const VIEWS: SidebarView[] = ["inbox", "assigned", "department", "mine", "all"];

export interface InboxFilters {
  view: SidebarView;
  /** "" (the view's default), ANY_STATUS, or one status. */
  status: string;
  priority: string;
  account: string;
  /** A department's id (the filter admins get; members have the "My department" view). */
  department: string;
  tag: string;
  sla: string;
  q: string;
  unread: boolean;
  sort: Sort;
}

const oneOf = <T extends string>(value: string | null, allowed: readonly T[]): T | undefined =>
  allowed.find((item) => item === value);

export function filtersFromQuery(query: URLSearchParams): InboxFilters {
  const view = oneOf(query.get("view"), VIEWS) ?? "inbox";
  const status = query.get("status") ?? "";
  // "Any status" is the default of the views that do not default to open work.
  const any = status === ANY_STATUS && defaultsToOpenWork(view);
  return {
    view,
    status: any || oneOf(status, STATUSES) ? status : "",
    priority: oneOf(query.get("priority"), PRIORITIES) ?? "",
    account: query.get("account") ?? "",
    department: query.get("department") ?? "",
    tag: query.get("tag") ?? "",
    sla: oneOf(query.get("sla"), SLA_STATES) ?? "",
    q: query.get("q") ?? "",
    unread: query.get("unread") === "1",
    sort: oneOf(query.get("sort"), SORTS.map((s) => s.value)) ?? "last_message_at",
  };
}

/** The URL query of these filters (defaults left out). */
export function filtersToQuery(filters: InboxFilters): Record<string, string | undefined> {
  return {
    view: filters.view === "inbox" ? undefined : filters.view,
    status: filters.status || undefined,
    priority: filters.priority || undefined,
    account: filters.account || undefined,
    department: filters.department || undefined,
    tag: filters.tag || undefined,
    sla: filters.sla || undefined,
    q: filters.q || undefined,
    unread: filters.unread ? "1" : undefined,
    sort: filters.sort === "last_message_at" ? undefined : filters.sort,
  };
}

export const defaultsToOpenWork = (view: SidebarView): boolean =>
  view === "inbox" || view === "assigned";

function statuses(filters: InboxFilters): Status[] | undefined {
  if (filters.status === ANY_STATUS) return undefined;
  const chosen = oneOf(filters.status, STATUSES);
  if (chosen) return [chosen];
  return defaultsToOpenWork(filters.view) ? OPEN_WORK : undefined;
}

const API_VIEWS: Record<SidebarView, NonNullable<TicketListQuery["view"]>> = {
  inbox: "all",
  all: "all",
  assigned: "assigned",
  department: "department",
  mine: "mine",
};

export function ticketListQuery(
  filters: InboxFilters,
  limit: number,
  cursor: string | null,
): TicketListQuery {
  const trimmedQ = filters.q.trim();
  const trimmedTag = filters.tag.trim();
  return {
    view: API_VIEWS[filters.view],
    status: statuses(filters),
    priority: filters.priority ? [filters.priority as Priority] : undefined,
    account_id: filters.account || undefined,
    department_id: filters.department || undefined,
    tag: trimmedTag || undefined,
    sla: (filters.sla || undefined) as Sla | undefined,
    q: trimmedQ || undefined,
    unread_only: filters.unread || undefined,
    sort: filters.sort,
    limit,
    cursor: cursor ?? undefined,
  };
}
