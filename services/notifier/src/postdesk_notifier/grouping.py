"""Storing a notification: folded into the user's open group, or a new row; then pushed live.

A group is the user's notifications of one kind on one ticket (`group_key`
"<kind>:<ticket_id>"). A new event folds into the group's row when that row
was created within the grouping window, is still unread (or is an email-only
row whose mail is still pending) and its email has not gone out yet:
`event_count` + 1, the title reworded for the count, `updated_at` now. So a
burst of mail on one ticket is one row and, after the window, one email
that states the final count. Otherwise a new row is inserted, once per
(source event, user, kind).

Concurrency: a transaction-scoped advisory lock on (user, group_key) makes
the look-up and the insert or update one step across replicas; it is held
until the caller commits.

Channels: a row's email_status is `pending` (due when the window closes)
when the user wants the kind by email, else `none`. A user who wants the
email but not the in-app notification still gets a row, as the record of
the email, stored already read (`read_at` = created) with `data.in_app`
false, so it never counts as unread in the app.

Live push: every insert or update runs `pg_notify('postdesk_notifications',
'<user_id>')` in the same transaction; PostgreSQL delivers it on commit, so
listeners (the gateway's SSE streams) never hear of a row they cannot read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from postdesk_schema import Notification
from sqlalchemy import Table, Text, bindparam, cast, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_notifier.domain import NotificationDraft

LIVE_CHANNEL = "postdesk_notifications"
EMAIL_NONE = "none"
EMAIL_PENDING = "pending"
EMAIL_SENT = "sent"
EMAIL_SKIPPED = "skipped"


@dataclass(frozen=True)
class Stored:
    notification_id: uuid.UUID
    created: bool  # False: folded into an existing row
    event_count: int


# Built once: the statements below run for every notification, with their values as
# parameters (building and cache-keying a statement per call cost more than running it).
_LOCK = select(
    func.pg_advisory_xact_lock(func.hashtextextended(bindparam("lock_key", type_=Text), 0))
)
# in a RETURNING list, pg_notify runs once per row written, with the row's own user
_PUSHED = func.pg_notify(LIVE_CHANNEL, cast(col(Notification.user_id), Text))
_OPEN_GROUP = (
    select(col(Notification.id), col(Notification.event_count))
    .where(
        col(Notification.user_id) == bindparam("user_id"),
        col(Notification.group_key) == bindparam("group_key"),
        col(Notification.created_at) > bindparam("since"),
        col(Notification.email_status) != EMAIL_SENT,
        or_(
            col(Notification.read_at).is_(None),
            (col(Notification.email_status) == EMAIL_PENDING)
            & (col(Notification.data)["in_app"].astext == "false"),
        ),
    )
    .order_by(col(Notification.created_at).desc())
    .limit(1)
)
# Conditional: an email job that sent this row's mail meanwhile wins, and the event
# starts a new row rather than being counted in a mail that has gone.
_FOLD = (
    update(Notification)
    .where(
        col(Notification.id) == bindparam("row_id"), col(Notification.email_status) != EMAIL_SENT
    )
    .values(
        event_count=bindparam("new_count"),
        title=bindparam("new_title"),
        body=bindparam("new_body"),
        actor_id=bindparam("new_actor_id"),
        updated_at=bindparam("now"),
    )
    .returning(col(Notification.id), _PUSHED)
)
_TABLE: Table = Notification.__table__  # type: ignore[attr-defined]
_INSERT = (
    insert(_TABLE)  # the table: the ORM adds nothing to an INSERT of plain values
    .on_conflict_do_nothing(index_elements=["source_event_id", "user_id", "kind"])
    .returning(_TABLE.c.id, func.pg_notify(LIVE_CHANNEL, cast(_TABLE.c.user_id, Text)))
)


async def store(
    session: AsyncSession,
    draft: NotificationDraft,
    *,
    source_event_id: uuid.UUID,
    now: datetime,
    window: timedelta,
) -> Stored | None:
    """Fold `draft` into its open group or insert it; None when this event already made the
    user's row of this kind (a redelivery the claim did not catch)."""
    await session.execute(_LOCK, {"lock_key": f"notification:{draft.user_id}:{draft.group_key}"})
    # The insert or update runs the live push itself (`_PUSHED`), for the row it returns.
    return await _fold(session, draft, now=now, window=window) or await _insert(
        session, draft, source_event_id=source_event_id, now=now, window=window
    )


async def push_live(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Tell live listeners, on commit, that `user_id`'s notifications changed."""
    await session.execute(select(func.pg_notify(LIVE_CHANNEL, str(user_id))))


async def _fold(
    session: AsyncSession, draft: NotificationDraft, *, now: datetime, window: timedelta
) -> Stored | None:
    open_group = (
        await session.execute(
            _OPEN_GROUP,
            {"user_id": draft.user_id, "group_key": draft.group_key, "since": now - window},
        )
    ).first()
    if open_group is None:
        return None
    count = open_group.event_count + 1
    folded = await session.execute(
        _FOLD,
        {
            "row_id": open_group.id,
            "new_count": count,
            "new_title": draft.title_for(count),
            "new_body": draft.body,
            "new_actor_id": draft.actor_id,
            "now": now,
        },
    )
    if folded.scalar_one_or_none() is None:
        return None
    return Stored(open_group.id, created=False, event_count=count)


async def _insert(
    session: AsyncSession,
    draft: NotificationDraft,
    *,
    source_event_id: uuid.UUID,
    now: datetime,
    window: timedelta,
) -> Stored | None:
    inserted = await session.execute(
        _INSERT,
        {
            "id": uuid.uuid4(),
            "tenant_id": draft.tenant_id,
            "user_id": draft.user_id,
            "kind": draft.kind.value,
            "ticket_id": draft.ticket_id,
            "title": draft.title_for(1),
            "body": draft.body,
            "source_event_id": source_event_id,
            "actor_id": draft.actor_id,
            "group_key": draft.group_key,
            "event_count": 1,
            "data": {**draft.data, "in_app": draft.channels.in_app},
            "email_status": EMAIL_PENDING if draft.channels.email else EMAIL_NONE,
            "email_due_at": now + window if draft.channels.email else None,
            "read_at": None if draft.channels.in_app else now,
            "created_at": now,
            "updated_at": now,
        },
    )
    notification_id = inserted.scalar_one_or_none()
    return Stored(notification_id, created=True, event_count=1) if notification_id else None
