// The ticket's live side: its event stream (reload on change, who else is here) and our own
// presence heartbeat.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, fetchWithSession, refreshOnce, streamUrl } from "../../api/client";
import type { components } from "../../api/schema";

type PresenceState = components["schemas"]["PresenceRequest"]["state"];

export interface PresentUser {
  user_id: string;
  name: string;
  state: "viewing" | "replying";
}

// The gateway forgets a presence ~45 s after its last repeat; it asks for one every ~20 s.
const HEARTBEAT_MS = 20_000;

function postPresence(ticketId: string, state: PresenceState): void {
  void api.POST("/tickets/{ticket_id}/presence", {
    params: { path: { ticket_id: ticketId } },
    body: { state },
  });
}

/** Whether the reader is writing a reply: the reply box then repeats "replying" itself (while
 * its text is not empty), which our "viewing" must not overwrite. */
function writingReply(): boolean {
  const field = document.querySelector<HTMLTextAreaElement>(".ticket-reply textarea");
  return !!field && field.value.trim() !== "";
}

export function usePresenceHeartbeat(ticketId: string): void {
  useEffect(() => {
    postPresence(ticketId, "viewing");
    const timer = window.setInterval(() => {
      if (!writingReply() && document.visibilityState === "visible") {
        postPresence(ticketId, "viewing");
      }
    }, HEARTBEAT_MS);
    // Closing the tab unmounts nothing: say "left" with a request that outlives the page.
    const onPageHide = () =>
      void fetchWithSession(`/tickets/${ticketId}/presence`, {
        method: "POST",
        keepalive: true,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ state: "left" }),
      }).catch(() => undefined);
    // A hidden tab lets its presence lapse; coming back says so at once.
    const onVisible = () => {
      if (document.visibilityState === "visible" && !writingReply()) postPresence(ticketId, "viewing");
    };
    window.addEventListener("pagehide", onPageHide);
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      window.clearInterval(timer);
      window.removeEventListener("pagehide", onPageHide);
      document.removeEventListener("visibilitychange", onVisible);
      postPresence(ticketId, "left");
    };
  }, [ticketId]);
}

/** Subscribes to the ticket's stream: `onChange(changes)` for each `ticket` event; returns
 * the other users present now. */
export function useTicketEvents(
  ticketId: string,
  onChange: (changes: string[]) => void,
): PresentUser[] {
  const [present, setPresent] = useState<PresentUser[]>([]);
  // Bumped to reconnect when the stream ended for good (it ends when the token expires).
  const [connection, setConnection] = useState(0);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  useEffect(() => {
    const source = new EventSource(streamUrl(`/tickets/${ticketId}/events`));
    source.addEventListener("presence", (event) => {
      try {
        const data = JSON.parse((event as MessageEvent<string>).data) as { users?: PresentUser[] };
        setPresent(data.users ?? []);
      } catch {
        // a malformed event changes nothing
      }
    });
    source.addEventListener("ticket", (event) => {
      try {
        const data = JSON.parse((event as MessageEvent<string>).data) as { changes?: string[] };
        onChangeRef.current(data.changes ?? []);
      } catch {
        onChangeRef.current([]);
      }
    });
    let closed = false;
    source.addEventListener("error", () => {
      if (source.readyState !== EventSource.CLOSED || closed) return;
      void refreshOnce().then((ok) => {
        if (ok && !closed) window.setTimeout(() => setConnection((n) => n + 1), 3000);
      });
    });
    return () => {
      closed = true;
      source.close();
    };
  }, [ticketId, connection]);
  useEffect(() => setPresent([]), [ticketId]);
  return present;
}
