"""The notifier's reads of tickets, users, assignments and department managers.

All reads run in the consuming transaction; none locks anything. People are
always looked up within one tenant, so no event can reach another tenant's users.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from postdesk_contracts.addressing import normalise_address
from postdesk_schema import DepartmentManager, EmailAssignment, Ticket, User
from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_notifier.domain import Handler, Person, TicketInfo

_PERSON_COLUMNS = (
    col(User.id),
    col(User.tenant_id),
    col(User.full_name),
    col(User.email),
    col(User.company_email),
    col(User.role),
    col(User.is_active),
    col(User.timezone),
    col(User.working_hours),
    col(User.notification_preferences),
)


class TicketNotFoundError(LookupError):
    """An event names a ticket the database does not hold (retried, then dead-lettered)."""


def _person(row: Any) -> Person:
    return Person(
        id=row.id,
        tenant_id=row.tenant_id,
        full_name=row.full_name,
        email=row.email,
        company_email=row.company_email,
        is_admin=str(row.role) == "admin",
        is_active=row.is_active,
        timezone=row.timezone or "UTC",
        working_hours=row.working_hours or {},
        preferences=row.notification_preferences or {},
    )


def _people_query() -> Select[Any]:
    return select(*_PERSON_COLUMNS)


# Built once, run with parameters: the notifier reads these for nearly every event.
_TICKET = select(
    col(Ticket.id),
    col(Ticket.tenant_id),
    col(Ticket.number),
    col(Ticket.subject),
    col(Ticket.account_id),
    col(Ticket.department_id),
    col(Ticket.assignee_id),
).where(col(Ticket.id) == bindparam("ticket_id"))
_PEOPLE = _people_query().where(
    col(User.tenant_id) == bindparam("tenant_id"),
    col(User.id).in_(bindparam("ids", expanding=True)),
)
_HANDLERS = (
    _people_query()
    .add_columns(
        col(EmailAssignment.role).label("assignment_role"),
        col(EmailAssignment.priority),
        col(EmailAssignment.can_receive),
        col(EmailAssignment.is_active).label("assignment_active"),
        col(EmailAssignment.notify_on_receive),
        col(EmailAssignment.notify_on_reply),
        col(EmailAssignment.notify_on_mention),
    )
    .join(EmailAssignment, col(EmailAssignment.user_id) == col(User.id))
    .where(
        col(EmailAssignment.account_id) == bindparam("account_id"),
        col(EmailAssignment.tenant_id) == bindparam("tenant_id"),
        col(User.tenant_id) == bindparam("tenant_id"),
    )
    .order_by(col(EmailAssignment.priority), col(EmailAssignment.created_at))
)
_HANDLERS_AMONG = _HANDLERS.where(col(User.id).in_(bindparam("ids", expanding=True)))


async def load_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> TicketInfo | None:
    row = (await session.execute(_TICKET, {"ticket_id": ticket_id})).first()
    if row is None:
        return None
    return TicketInfo(
        id=row.id,
        tenant_id=row.tenant_id,
        number=row.number,
        subject=row.subject,
        account_id=row.account_id,
        department_id=row.department_id,
        assignee_id=row.assignee_id,
    )


async def require_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> TicketInfo:
    ticket = await load_ticket(session, ticket_id)
    if ticket is None:
        raise TicketNotFoundError(f"ticket {ticket_id} does not exist")
    return ticket


async def people(
    session: AsyncSession, tenant_id: uuid.UUID, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Person]:
    """The tenant's users among `user_ids`, active or not; others are left out."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    rows = await session.execute(_PEOPLE, {"tenant_id": tenant_id, "ids": ids})
    return {row.id: _person(row) for row in rows}


async def person(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID | None
) -> Person | None:
    if user_id is None:
        return None
    return (await people(session, tenant_id, [user_id])).get(user_id)


async def account_handlers(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    user_ids: Iterable[uuid.UUID] | None = None,
) -> list[Handler]:
    """Every assignment on the account (any role, active or not) with its user; only those
    of `user_ids` when given."""
    params: dict[str, Any] = {"tenant_id": tenant_id, "account_id": account_id}
    if user_ids is None:
        rows = await session.execute(_HANDLERS, params)
    else:
        params["ids"] = list(dict.fromkeys(user_ids))
        rows = await session.execute(_HANDLERS_AMONG, params)
    return [
        Handler(
            person=_person(row),
            role=str(row.assignment_role),
            priority=row.priority,
            can_receive=row.can_receive,
            is_active=row.assignment_active,
            notify_on_receive=row.notify_on_receive,
            notify_on_reply=row.notify_on_reply,
            notify_on_mention=row.notify_on_mention,
        )
        for row in rows
    ]


async def department_managers(
    session: AsyncSession, tenant_id: uuid.UUID, department_id: uuid.UUID | None
) -> list[Person]:
    if department_id is None:
        return []
    rows = await session.execute(
        _people_query()
        .join(DepartmentManager, col(DepartmentManager.user_id) == col(User.id))
        .where(
            col(DepartmentManager.department_id) == department_id,
            col(DepartmentManager.tenant_id) == tenant_id,
            col(User.tenant_id) == tenant_id,
        )
    )
    return [_person(row) for row in rows]


async def staff_with_address(
    session: AsyncSession, tenant_id: uuid.UUID, address: str
) -> frozenset[uuid.UUID]:
    """The tenant's users whose login or company address is `address` (any case)."""
    normalised = normalise_address(address)
    if not normalised:
        return frozenset()
    rows = await session.execute(
        select(col(User.id)).where(
            col(User.tenant_id) == tenant_id,
            or_(
                func.lower(col(User.email)) == normalised,
                func.lower(col(User.company_email)) == normalised,
            ),
        )
    )
    return frozenset(rows.scalars())
