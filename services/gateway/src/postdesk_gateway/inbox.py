"""Use cases of the inbox list: filtered pages, the sidebar counts, marking a ticket unread."""

from __future__ import annotations

import uuid

from postdesk_contracts.api_inbox import InboxCounts, InboxPage, InboxTicket
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import db, inbox_db, views
from postdesk_gateway.domain import CurrentUser, NotFoundError
from postdesk_gateway.inbox_db import InboxFilter
from postdesk_gateway.inbox_domain import InboxCursor, decode_inbox_cursor, encode_inbox_cursor


async def list_inbox(
    session: AsyncSession,
    user: CurrentUser,
    wanted: InboxFilter,
    *,
    limit: int,
    cursor: str | None,
) -> InboxPage:
    """One page of the tickets matching `wanted`; `next_cursor` is None on the last page."""
    after = (
        decode_inbox_cursor(cursor, sort=wanted.sort, direction=wanted.direction)
        if cursor
        else None
    )
    rows = await inbox_db.list_inbox(session, user, wanted, after=after, limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more:
        last = page[-1][0]
        next_cursor = encode_inbox_cursor(
            InboxCursor(
                wanted.sort, wanted.direction, inbox_db.sort_value(last, wanted.sort), last.id
            )
        )
    names = await inbox_db.staff_names(
        session, user, {t.assignee_id for t, _ in page if t.assignee_id is not None}
    )
    items = [
        InboxTicket(
            **views.ticket_summary(t).model_dump(),
            sentiment=t.sentiment,
            unread=unread,
            assignee_name=names.get(t.assignee_id, "") if t.assignee_id else "",
        )
        for t, unread in page
    ]
    return InboxPage(items=items, next_cursor=next_cursor)


async def counts(session: AsyncSession, user: CurrentUser) -> InboxCounts:
    found = await inbox_db.inbox_counts(session, user)
    return InboxCounts(
        unread=found.unread,
        mine=found.mine,
        assigned_to_me=found.assigned_to_me,
        my_department=found.my_department,
        all=found.all if user.is_admin else None,
        by_status=found.by_status,
    )


async def mark_unread(session: AsyncSession, user: CurrentUser, ticket_id: uuid.UUID) -> None:
    """Forget the caller's read of a visible ticket (404 otherwise)."""
    ticket = await db.get_visible_ticket(session, user, ticket_id)
    if ticket is None:
        raise NotFoundError("ticket not found")
    await inbox_db.mark_unread(session, user, ticket)
    await session.commit()
