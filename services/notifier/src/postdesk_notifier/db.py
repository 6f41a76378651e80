"""The notifier's queries: it reads tickets and users and owns `notifications`."""

from __future__ import annotations

import uuid

from postdesk_schema import Notification, Ticket, User
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_notifier.domain import NotificationDraft, TicketInfo, UserInfo


async def load_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> TicketInfo | None:
    row = (
        await session.execute(
            select(
                col(Ticket.id), col(Ticket.tenant_id), col(Ticket.number), col(Ticket.subject)
            ).where(col(Ticket.id) == ticket_id)
        )
    ).first()
    return TicketInfo(row.id, row.tenant_id, row.number, row.subject) if row else None


async def load_user(session: AsyncSession, user_id: uuid.UUID) -> UserInfo | None:
    row = (
        await session.execute(
            select(col(User.id), col(User.tenant_id), col(User.is_active)).where(
                col(User.id) == user_id
            )
        )
    ).first()
    return UserInfo(row.id, row.tenant_id, row.is_active) if row else None


async def insert_notification(
    session: AsyncSession, draft: NotificationDraft, source_event_id: uuid.UUID
) -> uuid.UUID | None:
    """Insert once per (source event, user, kind); None if it already exists."""
    inserted = await session.execute(
        insert(Notification)
        .values(
            id=uuid.uuid4(),
            tenant_id=draft.tenant_id,
            user_id=draft.user_id,
            kind=draft.kind,
            ticket_id=draft.ticket_id,
            title=draft.title,
            source_event_id=source_event_id,
        )
        .on_conflict_do_nothing(index_elements=["source_event_id", "user_id", "kind"])
        .returning(col(Notification.id))
    )
    return inserted.scalar_one_or_none()
