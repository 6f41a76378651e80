// The selected ticket's actions as buttons: what the shortcuts do, for pointer and touch.
import type { InboxTicket } from "./useTicketList";

export function TicketActions({
  ticket,
  canChange,
  canTake,
  busy,
  onOpen,
  onReply,
  onAssignToMe,
  onResolve,
  onHelp,
}: {
  ticket: InboxTicket | undefined;
  canChange: boolean;
  canTake: boolean;
  busy: boolean;
  onOpen: () => void;
  onReply: () => void;
  onAssignToMe: () => void;
  onResolve: () => void;
  onHelp: () => void;
}) {
  return (
    <div class="ticket-actions" role="toolbar" aria-label="Selected ticket">
      {ticket ? (
        <>
          <span class="muted">Selected #{ticket.number}:</span>
          <button type="button" onClick={onOpen}>
            Open
          </button>
          {canChange ? (
            <>
              <button type="button" onClick={onReply}>
                Reply
              </button>
              {canTake ? (
                <button type="button" onClick={onAssignToMe} disabled={busy}>
                  Assign #{ticket.number} to me
                </button>
              ) : null}
              {ticket.status !== "resolved" && ticket.status !== "closed" ? (
                <button type="button" onClick={onResolve} disabled={busy}>
                  Resolve #{ticket.number}
                </button>
              ) : null}
            </>
          ) : null}
        </>
      ) : null}
      <button type="button" class="link shortcut-button" onClick={onHelp}>
        Keyboard shortcuts
      </button>
    </div>
  );
}
