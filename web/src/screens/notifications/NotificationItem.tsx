// One notification: what happened, a link to its ticket, when, and a read button.
import { href } from "../../router";
import { Badge } from "../../ui/components";
import { formatDateTime, formatRelative } from "../../ui/format";
import type { Notification } from "./notificationStream";

const KIND_LABELS: Record<string, string> = {
  new_ticket: "New ticket",
  customer_reply: "Customer reply",
  mention: "Mention",
  assigned: "Assigned",
  sla_warning: "SLA warning",
  sla_breached: "SLA breached",
  digest: "Digest",
};

const KIND_TONES: Record<string, string> = {
  sla_warning: "warn",
  sla_breached: "danger",
  mention: "accent",
};

export const kindLabel = (kind: string): string => KIND_LABELS[kind] ?? kind.replace(/_/g, " ");

export function NotificationItem({
  notification,
  onRead,
}: {
  notification: Notification;
  onRead: () => void;
}) {
  const unread = !notification.read_at;
  const when = notification.updated_at ?? notification.created_at;
  return (
    <li class={`notification${unread ? " unread" : ""}`}>
      <div class="notification-main">
        <div class="notification-title">
          {notification.ticket_id ? (
            <a href={href(`/tickets/${notification.ticket_id}`)} onClick={unread ? onRead : undefined}>
              {notification.title}
            </a>
          ) : (
            notification.title
          )}
        </div>
        {notification.body ? <div>{notification.body}</div> : null}
        <div class="notification-meta">
          <Badge tone={KIND_TONES[notification.kind] ?? ""}>{kindLabel(notification.kind)}</Badge>{" "}
          <time dateTime={when} title={formatDateTime(when)}>
            {formatRelative(when)}
          </time>
          {notification.event_count > 1 ? ` · ${notification.event_count} events` : null}
          {unread ? <span class="visually-hidden"> · unread</span> : null}
        </div>
      </div>
      {unread ? (
        <div class="notification-actions">
          <button type="button" onClick={onRead} aria-label={`Mark read: ${notification.title}`}>
            Mark read
          </button>
        </div>
      ) : null}
    </li>
  );
}
