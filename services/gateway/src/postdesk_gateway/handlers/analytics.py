"""Analytics: the dashboard's reports as JSON for charts, and as CSV exports."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from postdesk_contracts.api_analytics import (
    MAX_ANALYTICS_DAYS,
    AccountStatistics,
    DepartmentOverview,
    Granularity,
    MyPerformance,
)
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import analytics_service
from postdesk_gateway.analytics_service import CsvExport, PeriodQuery
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import AccountId, DepartmentId

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
_PERIOD_NOTE = f"; at most {MAX_ANALYTICS_DAYS} days, the last 30 by default"
From = Annotated[
    date | None, QueryParameter(name="from", description="first day, included" + _PERIOD_NOTE)
]
To = Annotated[date | None, QueryParameter(name="to", description="last day, included")]
Buckets = Annotated[
    Granularity,
    QueryParameter(description="the trend's points: one a day, or one a week (from Monday)"),
]


def period_query(start: From = None, end: To = None, granularity: Buckets = "day") -> PeriodQuery:
    """The period query parameters every report takes, for the `period` dependency."""
    return PeriodQuery(start, end, granularity)


def _csv(export: CsvExport) -> Response[str]:
    return Response(
        export.text,
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


class AnalyticsController(Controller):
    """Members see their own figures, their departments and their mailboxes; tenant admins
    every department and mailbox of the tenant. Anything else is 404."""

    path = "/analytics"
    tags = ["analytics"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED
    # Litestar's own class attribute; documents the period's query parameters on every route
    dependencies = {"period": Provide(period_query, sync_to_thread=False)}  # noqa: RUF012

    @get("/me", responses=problems(400, 401))
    async def my_performance(
        self,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        period: NamedDependency[PeriodQuery],
    ) -> MyPerformance:
        """Your tickets, resolutions, replies, times and SLA compliance, in your timezone."""
        return await analytics_service.my_performance(session, user, period)

    @get("/me/export.csv", media_type=CSV_MEDIA_TYPE, responses=problems(400, 401))
    async def export_my_performance(
        self,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        period: NamedDependency[PeriodQuery],
    ) -> Response[str]:
        """`/analytics/me` as CSV (section, item, metric, value); audit-logged."""
        return _csv(
            await analytics_service.export_my_performance(session, user, period, ip=client_ip)
        )

    @get("/departments/{department_id:uuid}", responses=problems(400, 401, 404))
    async def department_overview(
        self,
        department_id: DepartmentId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        period: NamedDependency[PeriodQuery],
    ) -> DepartmentOverview:
        """A department's volume, open backlog, agents, times and SLA compliance."""
        return await analytics_service.department_overview(session, user, department_id, period)

    @get(
        "/departments/{department_id:uuid}/export.csv",
        media_type=CSV_MEDIA_TYPE,
        responses=problems(400, 401, 404),
    )
    async def export_department(
        self,
        department_id: DepartmentId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        period: NamedDependency[PeriodQuery],
    ) -> Response[str]:
        """The department overview as CSV; audit-logged."""
        return _csv(
            await analytics_service.export_department(
                session, user, department_id, period, ip=client_ip
            )
        )

    @get("/accounts/{account_id:uuid}", responses=problems(400, 401, 404))
    async def account_statistics(
        self,
        account_id: AccountId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        period: NamedDependency[PeriodQuery],
    ) -> AccountStatistics:
        """A mailbox's volume trend, peak hours, times and SLA compliance, in its timezone."""
        return await analytics_service.account_statistics(session, user, account_id, period)

    @get(
        "/accounts/{account_id:uuid}/export.csv",
        media_type=CSV_MEDIA_TYPE,
        responses=problems(400, 401, 404),
    )
    async def export_account(
        self,
        account_id: AccountId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        period: NamedDependency[PeriodQuery],
    ) -> Response[str]:
        """The mailbox's statistics as CSV; audit-logged."""
        return _csv(
            await analytics_service.export_account(session, user, account_id, period, ip=client_ip)
        )
