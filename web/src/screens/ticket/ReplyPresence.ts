// Tell the ticket's other viewers that you are writing a reply. The server forgets a state
// after ~45 seconds without a repeat, so it is repeated every 20 while it lasts.
import { useEffect, useRef } from "preact/hooks";
import { api } from "../../api/client";

const HEARTBEAT_MS = 20_000;

type PresenceState = "viewing" | "replying" | "left";

function say(ticketId: string, state: PresenceState): void {
  // Presence is a courtesy to colleagues: a failed beat is not worth an error banner.
  void api
    .POST("/tickets/{ticket_id}/presence", {
      params: { path: { ticket_id: ticketId } },
      body: { state },
    })
    .catch(() => undefined);
}

export function useReplyingPresence(ticketId: string, replying: boolean): void {
  const mounted = useRef(true);
  // Declared first, so on unmount this cleanup runs before the one below: leaving the
  // ticket is the ticket screen's to announce, not a "viewing" from here.
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  useEffect(() => {
    if (!replying) return;
    say(ticketId, "replying");
    const timer = window.setInterval(() => say(ticketId, "replying"), HEARTBEAT_MS);
    return () => {
      window.clearInterval(timer);
      if (mounted.current) say(ticketId, "viewing");
    };
  }, [ticketId, replying]);
}
