"""The aggregates behind the analytics reports, computed in PostgreSQL.

A report's scope is a condition on tickets (one assignee, one department, one
mailbox) inside one tenant; `live_tickets` adds the rule every figure obeys:
no soft-deleted ticket, no ticket merged into another. Days, weeks and hours
are counted in the report's timezone with `timezone(zone, ts)`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from postdesk_schema import (
    Department,
    DepartmentManager,
    Message,
    OutboundMessage,
    SlaTimer,
    Ticket,
    TicketStatus,
    User,
)
from sqlalchemy import ColumnElement, and_, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_gateway.analytics import Period
from postdesk_gateway.domain import CurrentUser

_BACKLOG_STATUSES = (TicketStatus.OPEN, TicketStatus.PENDING)


@dataclass(frozen=True)
class TicketFigures:
    tickets: int
    resolved: int
    median_response: float | None
    p90_response: float | None
    median_resolution: float | None
    p90_resolution: float | None


@dataclass(frozen=True)
class AgentRow:
    user_id: uuid.UUID
    full_name: str
    tickets: int
    resolved: int


def live_tickets(tenant_id: uuid.UUID, *scope: ColumnElement[bool]) -> ColumnElement[bool]:
    """The tenant's tickets within `scope`, without soft-deleted or merged-away ones."""
    return and_(
        col(Ticket.tenant_id) == tenant_id,
        col(Ticket.deleted_at).is_(None),
        col(Ticket.merged_into_id).is_(None),
        *scope,
    )


def created_in(period: Period) -> ColumnElement[bool]:
    return and_(col(Ticket.created_at) >= period.starts_at, col(Ticket.created_at) < period.ends_at)


async def ticket_figures(
    session: AsyncSession, tickets: ColumnElement[bool], period: Period
) -> TicketFigures:
    """Counts and response/resolution percentiles of the tickets created in the period."""
    response, resolution = col(Ticket.response_minutes), col(Ticket.resolution_minutes)
    row = (
        await session.execute(
            select(
                func.count().label("tickets"),
                func.count().filter(col(Ticket.resolved_at).is_not(None)).label("resolved"),
                func.percentile_cont(0.5).within_group(response).label("median_response"),
                func.percentile_cont(0.9).within_group(response).label("p90_response"),
                func.percentile_cont(0.5).within_group(resolution).label("median_resolution"),
                func.percentile_cont(0.9).within_group(resolution).label("p90_resolution"),
            ).where(tickets, created_in(period))
        )
    ).one()
    return TicketFigures(
        row.tickets,
        row.resolved,
        row.median_response,
        row.p90_response,
        row.median_resolution,
        row.p90_resolution,
    )


async def sla_outcomes(
    session: AsyncSession, tenant_id: uuid.UUID, tickets: ColumnElement[bool], period: Period
) -> tuple[int, int]:
    """(met, breached) SLA clocks of the period's tickets: met is stopped without a breach."""
    breached = col(SlaTimer.breached_at).is_not(None)
    row = (
        await session.execute(
            select(
                func.count().filter(col(SlaTimer.state) == "stopped", ~breached).label("met"),
                func.count().filter(breached).label("breached"),
            )
            .select_from(SlaTimer)
            .join(Ticket, col(Ticket.id) == col(SlaTimer.ticket_id))
            .where(col(SlaTimer.tenant_id) == tenant_id, tickets, created_in(period))
        )
    ).one()
    return int(row.met), int(row.breached)


async def created_per_bucket(
    session: AsyncSession, tickets: ColumnElement[bool], period: Period
) -> dict[date, int]:
    """Tickets created per day or week (Monday first) of the period, in its timezone."""
    bucket = func.date_trunc(
        literal(period.granularity), func.timezone(period.zone, col(Ticket.created_at))
    ).label("bucket")
    rows = await session.execute(
        select(bucket, func.count().label("tickets"))
        .where(tickets, created_in(period))
        .group_by(bucket)
    )
    return {row.bucket.date(): int(row.tickets) for row in rows}


async def inbound_per_hour(
    session: AsyncSession, tenant_id: uuid.UUID, tickets: ColumnElement[bool], period: Period
) -> list[tuple[int, int, int]]:
    """(ISO weekday, hour, count) of inbound messages received in the period, local time."""
    local = func.timezone(period.zone, col(Message.created_at))
    weekday = func.extract("isodow", local).label("weekday")
    hour = func.extract("hour", local).label("hour")
    rows = await session.execute(
        select(weekday, hour, func.count().label("messages"))
        .select_from(Message)
        .join(Ticket, col(Ticket.id) == col(Message.ticket_id))
        .where(
            col(Message.tenant_id) == tenant_id,
            col(Message.direction) == "inbound",
            col(Message.created_at) >= period.starts_at,
            col(Message.created_at) < period.ends_at,
            tickets,
        )
        .group_by(weekday, hour)
    )
    return [(int(r.weekday), int(r.hour), int(r.messages)) for r in rows]


async def replies_sent_by(
    session: AsyncSession, user: CurrentUser, tickets: ColumnElement[bool], period: Period
) -> int:
    """Outbound messages in the period whose sending the user requested."""
    count = await session.scalar(
        select(func.count())
        .select_from(Message)
        .join(
            OutboundMessage,
            and_(
                col(OutboundMessage.id) == col(Message.outbound_id),
                col(OutboundMessage.tenant_id) == col(Message.tenant_id),
            ),
        )
        .join(Ticket, col(Ticket.id) == col(Message.ticket_id))
        .where(
            col(Message.tenant_id) == user.tenant_id,
            col(Message.direction) == "outbound",
            col(OutboundMessage.requested_by) == user.id,
            col(Message.created_at) >= period.starts_at,
            col(Message.created_at) < period.ends_at,
            tickets,
        )
    )
    return int(count or 0)


async def open_backlog(session: AsyncSession, tickets: ColumnElement[bool]) -> int:
    """Tickets open or pending now, whenever they were created."""
    count = await session.scalar(
        select(func.count()).where(tickets, col(Ticket.status).in_(_BACKLOG_STATUSES))
    )
    return int(count or 0)


async def agent_loads(
    session: AsyncSession, tickets: ColumnElement[bool], period: Period
) -> list[AgentRow]:
    """Per assignee: the period's tickets and how many of them are resolved, most first."""
    handled = func.count().label("tickets")
    rows = await session.execute(
        select(
            col(User.id),
            col(User.full_name),
            handled,
            func.count().filter(col(Ticket.resolved_at).is_not(None)).label("resolved"),
        )
        .select_from(Ticket)
        .join(
            User,
            and_(col(User.id) == col(Ticket.assignee_id), col(User.tenant_id) == Ticket.tenant_id),
        )
        .where(tickets, created_in(period))
        .group_by(col(User.id), col(User.full_name))
        .order_by(handled.desc(), col(User.full_name), col(User.id))
    )
    return [AgentRow(r.id, r.full_name, int(r.tickets), int(r.resolved)) for r in rows]


async def user_zone(session: AsyncSession, user: CurrentUser) -> str:
    zone = await session.scalar(
        select(col(User.timezone)).where(
            col(User.id) == user.id, col(User.tenant_id) == user.tenant_id
        )
    )
    return zone or "UTC"


async def visible_department(
    session: AsyncSession, user: CurrentUser, department_id: uuid.UUID
) -> Department | None:
    """The tenant's department if the user may see its figures: admins any, members the
    one they belong to and those they manage."""
    query = select(Department).where(
        col(Department.id) == department_id, col(Department.tenant_id) == user.tenant_id
    )
    if not user.is_admin:
        manages = exists().where(
            col(DepartmentManager.department_id) == col(Department.id),
            col(DepartmentManager.user_id) == user.id,
            col(DepartmentManager.tenant_id) == user.tenant_id,
        )
        belongs = col(Department.id) == user.department_id
        query = query.where(belongs | manages)
    return (await session.scalars(query)).one_or_none()
