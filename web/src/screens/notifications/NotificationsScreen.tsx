// The user's notifications, latest change first, with paging, one-by-one and all-at-once
// reads. New ones arrive live from the stream.
import { useCallback, useEffect, useState } from "preact/hooks";
import { api } from "../../api/client";
import { problemText } from "../../api/problems";
import { type Route, href, navigate } from "../../router";
import { ErrorBanner, Loading, Notice, Page } from "../../ui/components";
import { NotificationItem } from "./NotificationItem";
import { type Notification, notificationsRead, onNotification } from "./notificationStream";
import "./notifications.css";

const PAGE_SIZE = 25;

interface ListState {
  items: Notification[];
  nextCursor: string | null;
}

/** Put a streamed or re-read notification in its place: latest change first, once by id. */
function merged(items: Notification[], changed: Notification): Notification[] {
  const rest = items.filter((item) => item.id !== changed.id);
  return [changed, ...rest].sort((a, b) =>
    (b.updated_at ?? b.created_at).localeCompare(a.updated_at ?? a.created_at),
  );
}

export function NotificationsScreen({ route }: { route: Route }) {
  const unreadOnly = route.query.get("unread") === "1";
  const [list, setList] = useState<ListState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const loadPage = useCallback(
    async (cursor: string | null) => {
      setBusy(true);
      const { data, error: failure } = await api.GET("/notifications", {
        params: { query: { unread_only: unreadOnly, limit: PAGE_SIZE, cursor } },
      });
      setBusy(false);
      if (!data) {
        setError(problemText(failure));
        return;
      }
      setError(null);
      setList((previous) => ({
        items: cursor && previous ? [...previous.items, ...data.items] : data.items,
        nextCursor: data.next_cursor ?? null,
      }));
    },
    [unreadOnly],
  );

  useEffect(() => {
    setList(null);
    void loadPage(null);
  }, [loadPage]);

  useEffect(
    () =>
      onNotification((changed) =>
        setList((previous) => {
          if (!previous) return previous;
          const known = previous.items.some((item) => item.id === changed.id);
          if (unreadOnly && changed.read_at && !known) return previous;
          return { ...previous, items: merged(previous.items, changed) };
        }),
      ),
    [unreadOnly],
  );

  const markRead = async (notification: Notification) => {
    const { data, error: failure } = await api.POST("/notifications/{notification_id}/read", {
      params: { path: { notification_id: notification.id } },
    });
    if (!data) {
      setError(problemText(failure));
      return;
    }
    setList((previous) =>
      previous && {
        ...previous,
        items: previous.items.map((item) => (item.id === data.id ? data : item)),
      },
    );
    notificationsRead();
  };

  const markAllRead = async () => {
    setBusy(true);
    const { data, error: failure } = await api.POST("/notifications/read-all", { body: {} });
    setBusy(false);
    if (!data) {
      setError(problemText(failure));
      return;
    }
    setNotice(data.marked === 1 ? "Marked 1 notification read." : `Marked ${data.marked} notifications read.`);
    notificationsRead();
    void loadPage(null);
  };

  const hasUnread = list?.items.some((item) => !item.read_at) ?? false;
  return (
    <Page
      title="Notifications"
      actions={
        <>
          <label class="check">
            <input
              type="checkbox"
              checked={unreadOnly}
              onChange={(e) =>
                navigate("/notifications", { unread: e.currentTarget.checked ? "1" : undefined })
              }
            />
            Unread only
          </label>
          <button type="button" onClick={() => void markAllRead()} disabled={busy || !hasUnread}>
            Mark all read
          </button>
        </>
      }
    >
      <ErrorBanner message={error} />
      <Notice message={notice} />
      {list === null ? (
        error ? null : <Loading what="Loading your notifications" />
      ) : list.items.length === 0 ? (
        <p class="muted">
          {unreadOnly ? "No unread notifications. " : "No notifications yet."}
          {unreadOnly ? <a href={href("/notifications")}>Show all</a> : null}
        </p>
      ) : (
        <ul class="notification-list" aria-label="Notifications">
          {list.items.map((notification) => (
            <NotificationItem
              key={notification.id}
              notification={notification}
              onRead={() => void markRead(notification)}
            />
          ))}
        </ul>
      )}
      {list?.nextCursor ? (
        <div class="paging">
          <button type="button" disabled={busy} onClick={() => void loadPage(list.nextCursor)}>
            Load more
          </button>
        </div>
      ) : null}
    </Page>
  );
}
