"""Queries for notes, notifications, notification preferences and department managers.

A user's notifications are theirs alone: every query here is bound to the
user's id and tenant. Rows the notifier keeps only as the record of an
email the user wanted without the in-app notification (`data.in_app`
false) are not in-app notifications and never leave through the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from postdesk_schema import (
    Department,
    DepartmentManager,
    EmailAssignment,
    Notification,
    TenantRole,
    Ticket,
    TicketNote,
    User,
)
from sqlalchemy import ColumnElement, delete, exists, func, or_, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway.db import merged_ticket_ids
from postdesk_gateway.domain import CurrentUser, KeyCursor
from postdesk_gateway.mentions import Candidate


async def ticket_notes(session: AsyncSession, ticket: Ticket) -> list[TicketNote]:
    """The notes of the ticket and of every ticket merged into it, oldest first."""
    rows = await session.scalars(
        select(TicketNote)
        .where(
            col(TicketNote.tenant_id) == ticket.tenant_id,
            col(TicketNote.ticket_id).in_(merged_ticket_ids(ticket)),
        )
        .order_by(col(TicketNote.created_at), col(TicketNote.id))
    )
    return list(rows.all())


async def mention_candidates(
    session: AsyncSession, ticket: Ticket, handles: Collection[str]
) -> list[Candidate]:
    """Users of the ticket's tenant whose login, or its local part, is one of `handles`,
    with whether they are active and may see the ticket (admin, or an active assignment
    on its mailbox)."""
    if not handles:
        return []
    login = func.lower(col(User.email))
    assigned = exists().where(
        col(EmailAssignment.user_id) == col(User.id),
        col(EmailAssignment.account_id) == ticket.account_id,
        col(EmailAssignment.tenant_id) == ticket.tenant_id,
        col(EmailAssignment.is_active).is_(True),
    )
    rows = await session.execute(
        select(
            col(User.id),
            col(User.email),
            col(User.is_active),
            or_(col(User.role) == TenantRole.ADMIN.value, assigned).label("can_see"),
        ).where(
            col(User.tenant_id) == ticket.tenant_id,
            or_(login.in_(list(handles)), func.split_part(login, "@", 1).in_(list(handles))),
        )
    )
    return [Candidate(r.id, r.email, r.is_active, bool(r.can_see)) for r in rows]


def _mine(user: CurrentUser) -> list[ColumnElement[bool]]:
    return [
        col(Notification.user_id) == user.id,
        col(Notification.tenant_id) == user.tenant_id,
        func.coalesce(col(Notification.data)["in_app"].astext, "true") != "false",
    ]


async def notifications_page(
    session: AsyncSession,
    user: CurrentUser,
    *,
    unread_only: bool,
    before: KeyCursor | None,
    limit: int,
) -> list[Notification]:
    """Up to `limit` of the user's notifications, latest change first, after `before`."""
    conditions = _mine(user)
    if unread_only:
        conditions.append(col(Notification.read_at).is_(None))
    if before is not None:
        conditions.append(
            tuple_(col(Notification.updated_at), col(Notification.id))
            < tuple_(before.at, before.id)
        )
    rows = await session.scalars(
        select(Notification)
        .where(*conditions)
        .order_by(col(Notification.updated_at).desc(), col(Notification.id).desc())
        .limit(limit)
    )
    return list(rows.all())


async def notifications_changed(
    session: AsyncSession, user: CurrentUser, *, after: KeyCursor, limit: int
) -> list[Notification]:
    """Up to `limit` of the user's notifications that changed after `after`, oldest change
    first."""
    rows = await session.scalars(
        select(Notification)
        .where(
            *_mine(user),
            tuple_(col(Notification.updated_at), col(Notification.id)) > tuple_(after.at, after.id),
        )
        .order_by(col(Notification.updated_at), col(Notification.id))
        .limit(limit)
    )
    return list(rows.all())


async def database_now(session: AsyncSession) -> datetime:
    """The database's clock: the one positions in a stream are compared with."""
    now: datetime = (await session.execute(select(func.clock_timestamp()))).scalar_one()
    return now


async def unread_count(session: AsyncSession, user: CurrentUser) -> int:
    query = select(func.count()).where(*_mine(user), col(Notification.read_at).is_(None))
    return (await session.execute(query)).scalar_one()


async def mark_read(
    session: AsyncSession, user: CurrentUser, notification_id: uuid.UUID, now: datetime
) -> Notification | None:
    """The user's notification, read (at `now` unless it was read before); None if it is
    not theirs."""
    notification = (
        await session.scalars(
            select(Notification).where(col(Notification.id) == notification_id, *_mine(user))
        )
    ).one_or_none()
    if notification is not None and notification.read_at is None:
        notification.read_at = now
    return notification


async def mark_all_read(
    session: AsyncSession, user: CurrentUser, *, before: datetime | None, now: datetime
) -> int:
    """Mark the user's unread notifications read (only those changed at or before `before`,
    when given); how many."""
    conditions = [*_mine(user), col(Notification.read_at).is_(None)]
    if before is not None:
        conditions.append(col(Notification.updated_at) <= before)
    result = await session.execute(
        update(Notification).where(*conditions).values(read_at=now).returning(col(Notification.id))
    )
    return len(result.all())


async def stored_preferences(session: AsyncSession, user: CurrentUser) -> dict[str, Any]:
    stored = (
        await session.execute(
            select(col(User.notification_preferences)).where(
                col(User.id) == user.id, col(User.tenant_id) == user.tenant_id
            )
        )
    ).scalar_one()
    return dict(stored)


async def store_preferences(
    session: AsyncSession, user: CurrentUser, preferences: dict[str, dict[str, bool]]
) -> None:
    await session.execute(
        update(User)
        .where(col(User.id) == user.id, col(User.tenant_id) == user.tenant_id)
        .values(notification_preferences=preferences)
    )


async def tenant_department(
    session: AsyncSession, tenant_id: uuid.UUID, department_id: uuid.UUID, *, lock: bool = False
) -> Department | None:
    """The tenant's department; `lock` holds its row, so changes to its managers take turns."""
    query = select(Department).where(
        col(Department.id) == department_id, col(Department.tenant_id) == tenant_id
    )
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def department_managers(session: AsyncSession, department: Department) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(col(DepartmentManager.user_id))
        .where(
            col(DepartmentManager.department_id) == department.id,
            col(DepartmentManager.tenant_id) == department.tenant_id,
        )
        .order_by(col(DepartmentManager.created_at), col(DepartmentManager.user_id))
    )
    return list(rows.all())


async def active_tenant_users(
    session: AsyncSession, tenant_id: uuid.UUID, user_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of `user_ids` are active users of the tenant."""
    if not user_ids:
        return set()
    rows = await session.scalars(
        select(col(User.id)).where(
            col(User.id).in_(list(user_ids)),
            col(User.tenant_id) == tenant_id,
            col(User.is_active).is_(True),
        )
    )
    return set(rows.all())


async def replace_managers(
    session: AsyncSession, department: Department, user_ids: Collection[uuid.UUID]
) -> None:
    """Make `user_ids` the department's managers: others removed, new ones added, the ones
    staying keep their row."""
    await session.execute(
        delete(DepartmentManager).where(
            col(DepartmentManager.department_id) == department.id,
            col(DepartmentManager.tenant_id) == department.tenant_id,
            col(DepartmentManager.user_id).not_in(list(user_ids)),
        )
    )
    if user_ids:
        await session.execute(
            insert(DepartmentManager)
            .values(
                [
                    {
                        "department_id": department.id,
                        "user_id": user_id,
                        "tenant_id": department.tenant_id,
                    }
                    for user_id in user_ids
                ]
            )
            .on_conflict_do_nothing()
        )
