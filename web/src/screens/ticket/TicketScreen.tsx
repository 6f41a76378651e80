// The ticket screen (#/tickets/<id>): the conversation oldest first, the reply box, internal
// notes; status, priority, assignee, tags and history beside it (below it on a phone). It
// follows the ticket live and says who else is on it.
import { useCallback, useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import type { components } from "../../api/schema";
import { accessTo, currentUser, type Me } from "../../api/session";
import { href, navigate, type Route } from "../../router";
import { ErrorBanner, Loading, Notice } from "../../ui/components";
import { useLoad } from "../../ui/useLoad";
import { ConversationMessage } from "./ConversationMessage";
import { ReplyBox } from "./ReplyBox";
import { SidebarControls, rightsOn } from "./SidebarControls";
import { SidebarHistory } from "./SidebarHistory";
import { TicketHeader } from "./TicketHeader";
import { usePresenceHeartbeat, useTicketEvents, type PresentUser } from "./TicketLive";
import { TicketNotes } from "./TicketNotes";
import { nameOf, usePeople } from "./TicketPeople";
import { useTicketKeys } from "./TicketKeys";
import "./ticket.css";

type Ticket = components["schemas"]["TicketDetail"];

export function TicketScreen({ route }: { route: Route }) {
  const ticketId = route.segments[1] ?? "";
  const user = currentUser();
  if (!user) return <Loading />;
  return (
    <TicketView
      key={ticketId}
      ticketId={ticketId}
      user={user}
      replyFocus={route.query.get("reply") === "1"}
    />
  );
}

function PresenceBanners({ present }: { present: PresentUser[] }) {
  const replying = present.filter((p) => p.state === "replying");
  const viewing = present.filter((p) => p.state === "viewing");
  return (
    <>
      {replying.map((p) => (
        <p key={p.user_id} class="banner warn" role="status">
          {p.name} is replying
        </p>
      ))}
      {viewing.length ? (
        <p class="banner notice presence-viewing" role="status">
          {viewing.map((p) => `${p.name} is viewing`).join(" · ")}
        </p>
      ) : null}
    </>
  );
}

interface ViewProps {
  ticketId: string;
  user: Me;
  replyFocus: boolean;
}

function TicketView({ ticketId, user, replyFocus }: ViewProps) {
  // Opening the ticket (this read) marks it read for the user on the server.
  const loaded = useLoad(
    () => api.GET("/tickets/{ticket_id}", { params: { path: { ticket_id: ticketId } } }),
    [ticketId],
  );
  const [version, setVersion] = useState(0);
  const [gone, setGone] = useState<string | null>(null);
  const refresh = useCallback(() => {
    loaded.reload();
    setVersion((n) => n + 1);
  }, [loaded.reload]);

  usePresenceHeartbeat(ticketId);
  const present = useTicketEvents(ticketId, (changes) => {
    if (changes.includes("deleted")) setGone("This ticket was deleted.");
    refresh();
  });
  useTicketKeys();

  const ticket = loaded.data;
  if (!ticket) {
    if (!loaded.error) return <Loading what="Loading the ticket" />;
    return (
      <>
        <Notice message={gone} />
        <ErrorBanner message={loaded.error} />
        <p>
          <a href={href("/inbox")}>Back to inbox</a>
        </p>
      </>
    );
  }
  return (
    <TicketLayout
      ticket={ticket}
      user={user}
      present={present}
      version={version}
      replyFocus={replyFocus}
      notice={gone}
      reloadError={loaded.error}
      onChanged={refresh}
    />
  );
}

interface LayoutProps {
  ticket: Ticket;
  user: Me;
  present: PresentUser[];
  version: number;
  replyFocus: boolean;
  notice: string | null;
  reloadError: string | null;
  onChanged: () => void;
}

function TicketLayout(props: LayoutProps) {
  const { ticket, user, present, version, replyFocus, onChanged } = props;
  const access = accessTo(user, ticket.account_id);
  const rights = rightsOn(user, access);
  const people = usePeople(ticket.id, ticket.account_id);
  const canReply = !!access && access.role !== "viewer" && access.can_send;
  const canNote = user.role === "admin" || (!!access && access.role !== "viewer");
  const [unreadError, setUnreadError] = useState<string | null>(null);

  const markUnread = async () => {
    const { error } = await api.POST("/tickets/{ticket_id}/unread", {
      params: { path: { ticket_id: ticket.id } },
    });
    if (error !== undefined) setUnreadError(problemText(error));
    else navigate("/inbox");
  };

  return (
    <section class="ticket-screen">
      <TicketHeader ticket={ticket} assignee={nameOf(people, ticket.assignee_id)} />
      <Notice message={props.notice} />
      <ErrorBanner message={props.reloadError} />
      <ErrorBanner message={people.error} />
      <PresenceBanners present={present} />
      <div class="ticket-layout">
        <div class="ticket-main">
          <section aria-labelledby="conversation-title">
            <h2 id="conversation-title">Conversation ({(ticket.messages ?? []).length})</h2>
            <ol class="conversation">
              {(ticket.messages ?? []).map((message) => (
                <li key={message.id}>
                  <ConversationMessage message={message} canCancel={canReply || user.role === "admin"} onChanged={onChanged} />
                </li>
              ))}
            </ol>
          </section>
          {canReply ? (
            <section class="ticket-reply card" aria-label="Reply to the customer">
              <ReplyBox ticket={ticket} autoFocus={replyFocus} onSent={onChanged} />
            </section>
          ) : (
            <p class="muted">You can read this ticket but not reply to it.</p>
          )}
          <TicketNotes ticketId={ticket.id} people={people} canWrite={canNote} version={version} />
        </div>
        <aside class="ticket-side" aria-label="Ticket details">
          <SidebarControls
            ticket={ticket}
            user={user}
            people={people}
            rights={rights}
            onChanged={onChanged}
          />
          <p>
            <button type="button" class="link" onClick={() => void markUnread()}>
              Mark unread and go back
            </button>
          </p>
          <ErrorBanner message={unreadError} />
          <SidebarHistory ticketId={ticket.id} people={people} version={version} />
          <p class="muted keyboard-help">
            Keys: {canReply ? <><kbd>r</kbd> reply, </> : null}<kbd>u</kbd> or <kbd>Esc</kbd> back
            to the{" "}
            <a href={href("/inbox")}>inbox</a>.
          </p>
        </aside>
      </div>
    </section>
  );
}
