"""Queries of the inbox: the filtered list, the sidebar counts, per-user read state.

Every query starts from `db.visible_tickets`, so the visibility rule (tenant,
assignments, soft delete) stays in one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postdesk_schema import (
    AccountKind,
    AssignmentRole,
    EmailAccount,
    EmailAssignment,
    SlaTimer,
    Ticket,
    TicketRead,
    TicketStatus,
    User,
)
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    exists,
    func,
    not_,
    or_,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway.db import visible_tickets
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.inbox_domain import PRIORITY_RANK, InboxCursor
from postdesk_gateway.inbox_search import SearchPlan, plan_search, search_condition

_OPEN_WORK = (TicketStatus.OPEN, TicketStatus.PENDING)
SEARCH_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class InboxFilter:
    """What the caller asked the list to hold; empty sequences filter nothing."""

    view: str = "all"
    account_id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None
    statuses: Sequence[str] = ()
    priorities: Sequence[str] = ()
    tag: str | None = None
    sentiment: str | None = None
    sla: str | None = None
    date_field: str = "created_at"
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    unread_only: bool = False
    sort: str = "last_message_at"
    direction: str = "desc"


def _unread(user: CurrentUser) -> ColumnElement[bool]:
    """No read row of the user's, or a message after it."""
    read_since_last = exists().where(
        col(TicketRead.ticket_id) == col(Ticket.id),
        col(TicketRead.user_id) == user.id,
        col(TicketRead.read_at) >= col(Ticket.last_message_at),
    )
    return not_(read_since_last)


def _mine(user: CurrentUser) -> ColumnElement[bool]:
    personal = select(col(EmailAccount.id)).where(
        col(EmailAccount.tenant_id) == user.tenant_id,
        col(EmailAccount.kind) == AccountKind.PERSONAL,
        col(EmailAccount.owner_user_id) == user.id,
    )
    return col(Ticket.account_id).in_(personal)


def _my_department(user: CurrentUser) -> ColumnElement[bool]:
    if user.department_id is None:
        return col(Ticket.id).is_(None)  # matches nothing: no department, no tickets
    return col(Ticket.department_id) == user.department_id


def _sla(state: str) -> ColumnElement[bool]:
    def clock(condition: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists().where(
            col(SlaTimer.ticket_id) == col(Ticket.id),
            col(SlaTimer.tenant_id) == col(Ticket.tenant_id),
            condition,
        )

    breached = clock(col(SlaTimer.breached_at).is_not(None))
    warned = clock(col(SlaTimer.warned_at).is_not(None))
    if state == "breached":
        return breached
    if state == "warning":
        return and_(warned, not_(breached))
    return and_(not_(warned), not_(breached))


def _view(user: CurrentUser, view: str) -> list[ColumnElement[bool]]:
    if view == "mine":
        return [_mine(user)]
    if view == "assigned":
        return [col(Ticket.assignee_id) == user.id]
    if view == "department":
        return [_my_department(user)]
    return []  # "all": everything visible (a member's visible set)


def _conditions(
    user: CurrentUser, wanted: InboxFilter, *, search: SearchPlan | None = None
) -> list[ColumnElement[bool]]:
    conditions = [visible_tickets(user), *_view(user, wanted.view)]
    if wanted.account_id is not None:
        conditions.append(col(Ticket.account_id) == wanted.account_id)
    if wanted.department_id is not None:
        conditions.append(col(Ticket.department_id) == wanted.department_id)
    if wanted.statuses:
        conditions.append(col(Ticket.status).in_(list(wanted.statuses)))
    if wanted.priorities:
        conditions.append(col(Ticket.priority).in_(list(wanted.priorities)))
    if wanted.tag:
        conditions.append(col(Ticket.tags).contains([wanted.tag.strip().lower()]))
    if wanted.sentiment:
        conditions.append(col(Ticket.sentiment) == wanted.sentiment)
    if wanted.sla:
        conditions.append(_sla(wanted.sla))
    dated = (
        col(Ticket.created_at) if wanted.date_field == "created_at" else col(Ticket.last_message_at)
    )
    if wanted.since is not None:
        conditions.append(dated >= wanted.since)
    if wanted.until is not None:
        conditions.append(dated < wanted.until)
    if search is not None:
        conditions.append(search_condition(user, search))
    if wanted.unread_only:
        conditions.append(_unread(user))
    return conditions


def _sort_key(sort: str) -> ColumnElement[Any]:
    if sort == "priority":
        return case(PRIORITY_RANK, value=col(Ticket.priority), else_=-1)
    columns: dict[str, Any] = {
        "number": col(Ticket.number),
        "created_at": col(Ticket.created_at),
    }
    key: ColumnElement[Any] = columns.get(sort, col(Ticket.last_message_at))
    return key


def sort_value(ticket: Ticket, sort: str) -> datetime | int:
    """The value of the sort key `_sort_key` orders `ticket` by."""
    if sort == "priority":
        return PRIORITY_RANK.get(str(ticket.priority), -1)
    if sort == "number":
        return ticket.number
    if sort == "created_at":
        return ticket.created_at
    return ticket.last_message_at


async def list_inbox(
    session: AsyncSession,
    user: CurrentUser,
    wanted: InboxFilter,
    *,
    after: InboxCursor | None,
    limit: int,
) -> list[tuple[Ticket, bool]]:
    """Up to `limit` tickets matching `wanted` in its order, after `after`; each with
    whether it is unread for `user`."""
    key = _sort_key(wanted.sort)
    search = None
    if wanted.q:
        # No plan suits every term and visible set (ADR 11): bound the worst.
        await session.execute(
            select(func.set_config("statement_timeout", str(SEARCH_TIMEOUT_MS), True))
        )
        search = await plan_search(session, user, wanted.q)
    conditions = _conditions(user, wanted, search=search)
    descending = wanted.direction == "desc"
    if after is not None:
        position = tuple_(key, col(Ticket.id))
        bound = tuple_(after.value, after.ticket_id)
        conditions.append(position < bound if descending else position > bound)
    order = (key.desc(), col(Ticket.id).desc()) if descending else (key.asc(), col(Ticket.id))
    query = (
        select(Ticket, _unread(user).label("unread"))
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [(ticket, bool(unread)) for ticket, unread in rows]


async def staff_names(
    session: AsyncSession, user: CurrentUser, user_ids: set[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Full names of these users of the caller's tenant (the assignees of a page)."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(col(User.id), col(User.full_name)).where(
            col(User.tenant_id) == user.tenant_id, col(User.id).in_(user_ids)
        )
    )
    return {user_id: name for user_id, name in rows.all()}


@dataclass(frozen=True)
class Counts:
    unread: int
    mine: int
    assigned_to_me: int
    my_department: int
    all: int
    by_status: dict[str, int]


async def inbox_counts(session: AsyncSession, user: CurrentUser) -> Counts:
    """The sidebar's numbers in one statement: one FILTER per number over the visible set."""

    def count_where(condition: ColumnElement[bool]) -> Any:
        return func.count().filter(condition)

    statuses = list(TicketStatus)
    # The read state as one hash join against the user's reads, not a probe per ticket.
    read = and_(col(TicketRead.ticket_id) == col(Ticket.id), col(TicketRead.user_id) == user.id)
    unread = or_(
        col(TicketRead.read_at).is_(None), col(TicketRead.read_at) < col(Ticket.last_message_at)
    )
    numbers: list[Any] = [
        count_where(unread),
        count_where(_mine(user)),
        count_where(and_(col(Ticket.assignee_id) == user.id, col(Ticket.status).in_(_OPEN_WORK))),
        count_where(_my_department(user)),
        func.count(),
        *(count_where(col(Ticket.status) == s) for s in statuses),
    ]
    query = (
        select(*numbers)
        .select_from(Ticket)
        .outerjoin(TicketRead, read)
        .where(visible_tickets(user))
    )
    row = (await session.execute(query)).one()
    unread, mine, assigned, department, total, *per_status = row
    return Counts(
        unread=unread,
        mine=mine,
        assigned_to_me=assigned,
        my_department=department,
        all=total,
        by_status={str(s): n for s, n in zip(statuses, per_status, strict=True)},
    )


async def mark_read(
    session: AsyncSession, user: CurrentUser, ticket: Ticket, now: datetime
) -> None:
    """Upsert the user's read of the ticket at `now`."""
    statement = insert(TicketRead).values(
        user_id=user.id, ticket_id=ticket.id, tenant_id=ticket.tenant_id, read_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[col(TicketRead.user_id), col(TicketRead.ticket_id)],
            set_={"read_at": statement.excluded.read_at},
        )
    )


async def mark_unread(session: AsyncSession, user: CurrentUser, ticket: Ticket) -> None:
    await session.execute(
        delete(TicketRead).where(
            col(TicketRead.user_id) == user.id, col(TicketRead.ticket_id) == ticket.id
        )
    )


def _assignee_condition(tenant_id: uuid.UUID, user_id: uuid.UUID) -> ColumnElement[bool]:
    """The rule for who may be a ticket's assignee, on the assignment rows of `user_id`: an
    active user of the tenant with an active, non-viewer assignment on the mailbox."""
    return and_(
        col(EmailAssignment.tenant_id) == tenant_id,
        col(EmailAssignment.user_id) == user_id,
        col(EmailAssignment.is_active).is_(True),
        col(EmailAssignment.role) != AssignmentRole.VIEWER,
        exists().where(
            col(User.id) == user_id,
            col(User.tenant_id) == tenant_id,
            col(User.is_active).is_(True),
        ),
    )


async def can_be_assignee(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, account_id: uuid.UUID
) -> bool:
    """An active user of the tenant with an active, non-viewer assignment on the mailbox."""
    query = select(col(EmailAssignment.id)).where(
        _assignee_condition(tenant_id, user_id), col(EmailAssignment.account_id) == account_id
    )
    return (await session.execute(query)).first() is not None


async def assignee_accounts(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    account_ids: Collection[uuid.UUID],
) -> set[uuid.UUID]:
    """Those of `account_ids` whose tickets `user_id` may be assignee of (`can_be_assignee`
    for many mailboxes in one query)."""
    if not account_ids:
        return set()
    query = select(col(EmailAssignment.account_id)).where(
        _assignee_condition(tenant_id, user_id),
        col(EmailAssignment.account_id).in_(list(account_ids)),
    )
    return set((await session.scalars(query)).all())
