// The top bar's bell: a link to the notifications with the unread count, kept live by the
// notification stream (and by reads made in this page).
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api/client";
import { href } from "../../router";
import { onNotificationsChanged } from "./notificationStream";
import "./notifications.css";

export function NotificationBell() {
  const [unread, setUnread] = useState<number | null>(null);

  useEffect(() => {
    let current = true;
    let pending = false;
    const count = async () => {
      // Events come in bursts (a stream replay): one count in flight at a time.
      if (pending) return;
      pending = true;
      try {
        const { data } = await api.GET("/notifications/unread-count");
        if (current && data) setUnread(data.unread);
      } finally {
        pending = false;
      }
    };
    void count();
    const unsubscribe = onNotificationsChanged(() => void count());
    return () => {
      current = false;
      unsubscribe();
    };
  }, []);

  const label = unread === null ? "Notifications" : `Notifications (${unread} unread)`;
  return (
    <a class="bell" href={href("/notifications")} aria-label={label} title={label}>
      <svg class="bell-icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
        <path
          d="M12 2a6 6 0 0 0-6 6v3.6L4.3 15a1 1 0 0 0 .9 1.5h13.6a1 1 0 0 0 .9-1.5L18 11.6V8a6 6 0 0 0-6-6zm0 20a3 3 0 0 0 3-3H9a3 3 0 0 0 3 3z"
          fill="currentColor"
        />
      </svg>
      {unread ? <span class="bell-count" aria-hidden="true">{unread > 99 ? "99+" : unread}</span> : null}
    </a>
  );
}
