// The inbox: views with counts, filters kept in the URL, the ticket list with keyset paging,
// keyboard shortcuts, and live refresh.
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import { accessTo, currentUser, isAdmin } from "../../api/session";
import { type Route, navigate } from "../../router";
import { ErrorBanner, Loading, Notice } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { InboxFilters } from "./InboxFilters";
import { useDepartmentChoices } from "./useDepartmentChoices";
import { InboxSidebar } from "./InboxSidebar";
import { ShortcutHelp } from "./ShortcutHelp";
import { TicketActions } from "./TicketActions";
import { TicketTable } from "./TicketTable";
import { filtersFromQuery } from "./inboxQuery";
import { useInboxShortcuts } from "./useInboxShortcuts";
import { useLiveRefresh } from "./useLiveRefresh";
import { type InboxTicket, useTicketList } from "./useTicketList";
import "./inbox.css";

type TicketChange = components["schemas"]["TicketChangeRequest"];

// The selection outlives the screen, so coming back from a ticket finds it still selected.
let rememberedSelection: string | null = null;

const VIEW_TITLES: Record<string, string> = {
  inbox: "Inbox",
  assigned: "Assigned to me",
  department: "My department",
  mine: "My mailboxes",
  all: "All tickets",
};

export function InboxScreen({ route }: { route: Route }) {
  const user = currentUser();
  const admin = isAdmin(user);
  const queryKey = route.query.toString();
  const filters = useMemo(() => filtersFromQuery(route.query), [queryKey]);
  const list = useTicketList(filters);
  const counts = useLoad(() => api.GET("/tickets/counts"), []);
  const departments = useDepartmentChoices(admin);
  const [selectedId, setSelectedId] = useState<string | null>(rememberedSelection);
  const [helpOpen, setHelpOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  const refresh = useCallback(() => {
    list.refresh();
    counts.reload();
  }, [list.refresh, counts.reload]);
  useLiveRefresh(refresh);

  const tickets = list.tickets ?? [];
  // The selection follows its ticket across refreshes; it starts on the first row.
  const found = tickets.findIndex((ticket) => ticket.id === selectedId);
  const selected = found >= 0 ? found : 0;
  const ticket: InboxTicket | undefined = tickets[selected];
  useEffect(() => setNotice(null), [queryKey]);

  const canChange = (target: InboxTicket | undefined): boolean =>
    target !== undefined && (accessTo(user, target.account_id)?.can_send ?? false);
  // Only people assigned to the mailbox (not as viewers) can be its tickets' assignees; an
  // admin without an assignment there may change the ticket but not take it.
  const canTake = (target: InboxTicket | undefined): boolean => {
    const access = target && accessTo(user, target.account_id);
    return Boolean(access?.can_send && access.role && access.role !== "viewer");
  };

  const select = (index: number) => {
    const target = tickets[Math.max(0, Math.min(index, tickets.length - 1))];
    if (!target) return;
    rememberedSelection = target.id;
    setSelectedId(target.id);
  };

  const change = async (target: InboxTicket, body: TicketChange, done: string) => {
    setBusy(true);
    setActionError(null);
    const { data, error } = await api.PATCH("/tickets/{ticket_id}", {
      params: { path: { ticket_id: target.id } },
      body,
    });
    setBusy(false);
    if (!data) {
      setActionError(problemText(error, `Ticket #${target.number} was not changed.`));
      return;
    }
    setNotice(done);
    refresh();
  };

  const refuse = (target: InboxTicket) =>
    setNotice(`You can only read ticket #${target.number}'s mailbox: no changes or replies.`);

  const actions = {
    next: () => select(selected + 1),
    previous: () => select(selected - 1),
    open: () => ticket && navigate(`/tickets/${ticket.id}`),
    reply: () => {
      if (!ticket) return;
      if (canChange(ticket)) navigate(`/tickets/${ticket.id}`, { reply: "1" });
      else refuse(ticket);
    },
    assignToMe: () => {
      if (!ticket || !user || busy) return;
      if (!canChange(ticket)) refuse(ticket);
      else if (!canTake(ticket))
        setNotice(`You are not assigned to ticket #${ticket.number}'s mailbox, so it cannot be yours.`);
      else if (ticket.assignee_id === user.id) setNotice(`Ticket #${ticket.number} is already yours.`);
      else void change(ticket, { assignee_id: user.id }, `Ticket #${ticket.number} is assigned to you.`);
    },
    resolve: () => {
      if (!ticket || busy) return;
      if (!canChange(ticket)) refuse(ticket);
      else if (ticket.status === "resolved") setNotice(`Ticket #${ticket.number} is already resolved.`);
      else void change(ticket, { status: "resolved" }, `Ticket #${ticket.number} is resolved.`);
    },
    help: () => setHelpOpen(true),
  };
  useInboxShortcuts(actions, !helpOpen);

  if (!user) return <Loading />;
  const accounts = user.accounts ?? [];
  return (
    <div class="inbox">
      <InboxSidebar
        filters={filters}
        counts={counts.data}
        isAdmin={admin}
        hasPersonalMailbox={(counts.data?.mine ?? 0) > 0}
      />
      <section class="inbox-main" aria-labelledby="inbox-title">
        <header class="page-head">
          <h1 id="inbox-title">{VIEW_TITLES[filters.view]}</h1>
        </header>
        <InboxFilters filters={filters} accounts={accounts} departments={departments} />
        <ErrorBanner message={counts.error} />
        <ErrorBanner message={list.error ?? actionError} />
        <Notice message={notice} />
        <TicketActions
          ticket={ticket}
          canChange={canChange(ticket)}
          canTake={canTake(ticket) && ticket?.assignee_id !== user.id}
          busy={busy}
          onOpen={actions.open}
          onReply={actions.reply}
          onAssignToMe={actions.assignToMe}
          onResolve={actions.resolve}
          onHelp={actions.help}
        />
        {list.tickets === null ? (
          list.error ? null : <Loading what="Loading tickets" />
        ) : tickets.length === 0 ? (
          <p class="muted empty">No tickets match.</p>
        ) : (
          <TicketTable
            tickets={tickets}
            user={user}
            selected={selected}
            onSelect={select}
          />
        )}
        {list.hasMore ? (
          <div class="paging">
            <button type="button" onClick={list.loadMore} disabled={list.loading}>
              Load more
            </button>
          </div>
        ) : null}
      </section>
      {helpOpen ? <ShortcutHelp onClose={() => setHelpOpen(false)} /> : null}
    </div>
  );
}
