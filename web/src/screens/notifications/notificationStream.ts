// The user's live notifications: one EventSource on /notifications/stream for the whole page,
// open while anyone listens. Screens subscribe with onNotification (the inbox refreshes on
// each) and onNotificationsChanged (also fired by local reads, so the bell's count follows).
import { refreshOnce, streamUrl } from "../../api/client";
import type { components } from "../../api/schema";

export type Notification = components["schemas"]["NotificationView"];

type NotificationListener = (notification: Notification) => void;
type ChangeListener = () => void;

const notificationListeners = new Set<NotificationListener>();
const changeListeners = new Set<ChangeListener>();

let source: EventSource | null = null;
let lastEventId: string | null = null;
let retryTimer: number | undefined;
let retryDelay = 1000;
const MAX_RETRY_DELAY = 30_000;

function listening(): boolean {
  return notificationListeners.size + changeListeners.size > 0;
}

function announceChange(): void {
  for (const listener of [...changeListeners]) listener();
}

function received(event: MessageEvent<string>): void {
  retryDelay = 1000;
  if (event.lastEventId) lastEventId = event.lastEventId;
  let notification: Notification;
  try {
    notification = JSON.parse(event.data) as Notification;
  } catch {
    return;
  }
  for (const listener of [...notificationListeners]) listener(notification);
  announceChange();
}

function open(): void {
  // A replacement stream resumes after the last event seen (EventSource only sends
  // Last-Event-ID on its own reconnects, not on a new instance).
  const url = new URL(streamUrl("/notifications/stream"));
  if (lastEventId) url.searchParams.set("since", lastEventId);
  const stream = new EventSource(url.toString());
  stream.addEventListener("notification", received as EventListener);
  stream.addEventListener("open", () => {
    retryDelay = 1000;
  });
  stream.addEventListener("error", () => {
    // EventSource retries a dropped connection itself; it gives up (CLOSED) on an HTTP
    // error such as 401 from an expired token: refresh the session and open a new one.
    if (stream.readyState !== EventSource.CLOSED) return;
    stream.close();
    if (source === stream) source = null;
    scheduleReopen();
  });
  source = stream;
}

function scheduleReopen(): void {
  window.clearTimeout(retryTimer);
  const delay = retryDelay;
  retryDelay = Math.min(retryDelay * 2, MAX_RETRY_DELAY);
  retryTimer = window.setTimeout(() => {
    if (!listening() || source) return;
    void refreshOnce().finally(() => {
      if (listening() && !source) open();
    });
  }, delay);
}

function start(): void {
  if (!source && listening()) open();
}

function stopIfIdle(): void {
  if (listening()) return;
  window.clearTimeout(retryTimer);
  source?.close();
  source = null;
}

/** Call `listener` with every notification the stream brings; returns the unsubscribe. */
export function onNotification(listener: NotificationListener): () => void {
  notificationListeners.add(listener);
  start();
  return () => {
    notificationListeners.delete(listener);
    stopIfIdle();
  };
}

/** Call `listener` whenever the user's notifications may have changed: a streamed event,
 * or a read made in this page. */
export function onNotificationsChanged(listener: ChangeListener): () => void {
  changeListeners.add(listener);
  start();
  return () => {
    changeListeners.delete(listener);
    stopIfIdle();
  };
}

/** This page marked notifications read: tell the listeners (the bell re-counts). */
export function notificationsRead(): void {
  announceChange();
}
