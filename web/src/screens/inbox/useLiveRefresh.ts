// Keep the inbox fresh: on every new notification, and every 30 s while the page is visible
// (and at once when it becomes visible again).
import { useEffect, useRef } from "preact/hooks";
import { onNotification } from "../notifications/notificationStream";

const EVERY_MS = 30_000;

export function useLiveRefresh(refresh: () => void): void {
  const latest = useRef(refresh);
  latest.current = refresh;
  useEffect(() => {
    const run = () => latest.current();
    let timer: number | undefined;
    const schedule = () => {
      window.clearInterval(timer);
      timer = document.visibilityState === "visible" ? window.setInterval(run, EVERY_MS) : undefined;
    };
    const onVisibility = () => {
      if (document.visibilityState === "visible") run();
      schedule();
    };
    schedule();
    document.addEventListener("visibilitychange", onVisibility);
    // A notification being read is no news for the list; a new or updated unread one is.
    const unsubscribe = onNotification((notification) => {
      if (!notification.read_at) run();
    });
    return () => {
      window.clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisibility);
      unsubscribe();
    };
  }, []);
}
