"""Use cases of the analytics API: who may see which report, and the report itself.

A member sees their own performance, the departments they belong to or
manage, and the mailboxes they hold an active assignment on; a tenant admin
sees every department and mailbox of the tenant. Anything else is 404, like
another tenant's ids. A CSV export is audit-logged; the JSON reports hold
no mail content and are not.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from postdesk_contracts.api_analytics import (
    AccountStatistics,
    AgentLoad,
    AnalyticsPeriod,
    DepartmentOverview,
    Granularity,
    MyPerformance,
    TimeFigures,
)
from postdesk_schema import Ticket
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_gateway import analytics, analytics_db, db
from postdesk_gateway.domain import CurrentUser, NotFoundError


@dataclass(frozen=True)
class PeriodQuery:
    """The query parameters every report takes."""

    start: date | None
    end: date | None
    granularity: Granularity


def _period(query: PeriodQuery, zone: str) -> analytics.Period:
    return analytics.resolve_period(
        query.start,
        query.end,
        zone=zone,
        granularity=query.granularity,
        now=datetime.now(UTC),
    )


async def my_performance(
    session: AsyncSession, user: CurrentUser, query: PeriodQuery
) -> MyPerformance:
    """The caller's tickets (assigned to them) and replies, in their own timezone."""
    period = _period(query, await analytics_db.user_zone(session, user))
    tickets = analytics_db.live_tickets(user.tenant_id, col(Ticket.assignee_id) == user.id)
    figures = await analytics_db.ticket_figures(session, tickets, period)
    return MyPerformance(
        user_id=user.id,
        period=period.view(),
        tickets_handled=figures.tickets,
        tickets_resolved=figures.resolved,
        replies_sent=await analytics_db.replies_sent_by(
            session, user, analytics_db.live_tickets(user.tenant_id), period
        ),
        times=_times(figures),
        sla=analytics.compliance(
            *await analytics_db.sla_outcomes(session, user.tenant_id, tickets, period)
        ),
        trend=analytics.trend(
            period, await analytics_db.created_per_bucket(session, tickets, period)
        ),
    )


async def department_overview(
    session: AsyncSession, user: CurrentUser, department_id: uuid.UUID, query: PeriodQuery
) -> DepartmentOverview:
    """A department's figures, in the caller's timezone (departments have none)."""
    department = await analytics_db.visible_department(session, user, department_id)
    if department is None:
        raise NotFoundError("department not found")
    period = _period(query, await analytics_db.user_zone(session, user))
    tickets = analytics_db.live_tickets(user.tenant_id, col(Ticket.department_id) == department.id)
    figures = await analytics_db.ticket_figures(session, tickets, period)
    agents = await analytics_db.agent_loads(session, tickets, period)
    return DepartmentOverview(
        department_id=department.id,
        name=department.name,
        period=period.view(),
        tickets=figures.tickets,
        open_backlog=await analytics_db.open_backlog(session, tickets),
        agents=[
            AgentLoad(
                user_id=a.user_id,
                full_name=a.full_name,
                tickets_handled=a.tickets,
                tickets_resolved=a.resolved,
            )
            for a in agents
        ],
        times=_times(figures),
        sla=analytics.compliance(
            *await analytics_db.sla_outcomes(session, user.tenant_id, tickets, period)
        ),
        trend=analytics.trend(
            period, await analytics_db.created_per_bucket(session, tickets, period)
        ),
    )


async def account_statistics(
    session: AsyncSession, user: CurrentUser, account_id: uuid.UUID, query: PeriodQuery
) -> AccountStatistics:
    """A mailbox's figures, counted in the mailbox's timezone."""
    visible = await db.visible_accounts(session, user, account_id=account_id)
    if not visible:
        raise NotFoundError("account not found")
    account, _ = visible[0]
    period = _period(query, account.timezone)
    tickets = analytics_db.live_tickets(user.tenant_id, col(Ticket.account_id) == account.id)
    figures = await analytics_db.ticket_figures(session, tickets, period)
    cells = await analytics_db.inbound_per_hour(session, user.tenant_id, tickets, period)
    return AccountStatistics(
        account_id=account.id,
        address=account.address,
        display_name=account.display_name,
        period=period.view(),
        tickets=figures.tickets,
        trend=analytics.trend(
            period, await analytics_db.created_per_bucket(session, tickets, period)
        ),
        peak_hours=analytics.peak_matrix(cells),
        times=_times(figures),
        sla=analytics.compliance(
            *await analytics_db.sla_outcomes(session, user.tenant_id, tickets, period)
        ),
    )


@dataclass(frozen=True)
class CsvExport:
    filename: str
    text: str


async def export_my_performance(
    session: AsyncSession, user: CurrentUser, query: PeriodQuery, *, ip: str
) -> CsvExport:
    report = await my_performance(session, user, query)
    return await _exported(
        session, user, "user", user.id, report.period, analytics.my_performance_rows(report), ip
    )


async def export_department(
    session: AsyncSession,
    user: CurrentUser,
    department_id: uuid.UUID,
    query: PeriodQuery,
    *,
    ip: str,
) -> CsvExport:
    report = await department_overview(session, user, department_id, query)
    return await _exported(
        session,
        user,
        "department",
        department_id,
        report.period,
        analytics.department_rows(report),
        ip,
    )


async def export_account(
    session: AsyncSession, user: CurrentUser, account_id: uuid.UUID, query: PeriodQuery, *, ip: str
) -> CsvExport:
    report = await account_statistics(session, user, account_id, query)
    return await _exported(
        session, user, "account", account_id, report.period, analytics.account_rows(report), ip
    )


async def _exported(
    session: AsyncSession,
    user: CurrentUser,
    kind: str,
    object_id: uuid.UUID,
    period: AnalyticsPeriod,
    rows: list[analytics.Row],
    ip: str,
) -> CsvExport:
    db.audit(
        session,
        user,
        action="analytics.exported",
        object_type=kind,
        object_id=object_id,
        ip=ip,
        detail={"start": period.start.isoformat(), "end": period.end.isoformat()},
    )
    await session.commit()
    return CsvExport(analytics.attachment_name(kind, period), analytics.to_csv(rows))


def _times(figures: analytics_db.TicketFigures) -> TimeFigures:
    return analytics.time_figures(
        figures.median_response,
        figures.p90_response,
        figures.median_resolution,
        figures.p90_resolution,
    )
