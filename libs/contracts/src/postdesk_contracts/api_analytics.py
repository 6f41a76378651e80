"""Schemas of the gateway's analytics API (the dashboard widgets), shared with its clients.
API models only, like `api`.

Every report describes the tickets created in its period (a cohort): a ticket
counts once, in the bucket of the day or week it was created, and its times
and SLA clocks count with it. Soft-deleted tickets and tickets merged into
another are left out everywhere.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Final, Literal

from pydantic import Field

from postdesk_contracts.api import ApiModel

MAX_ANALYTICS_DAYS: Final = 366
DEFAULT_ANALYTICS_DAYS: Final = 30
DAYS_PER_WEEK: Final = 7
HOURS_PER_DAY: Final = 24

Granularity = Literal["day", "week"]


class AnalyticsPeriod(ApiModel):
    """The days a report covers, both included, as dates in `timezone`."""

    start: date
    end: date
    timezone: str = Field(description="IANA name the days and hours are counted in")
    granularity: Granularity


class TimeFigures(ApiModel):
    """Minutes to the first response and to resolution; null when no ticket has one."""

    median_response_minutes: float | None = None
    p90_response_minutes: float | None = None
    median_resolution_minutes: float | None = None
    p90_resolution_minutes: float | None = None


class SlaCompliance(ApiModel):
    """SLA clocks of the period's tickets that are decided: met (stopped in time) or
    breached. Running and paused clocks count in neither."""

    met: int = Field(ge=0)
    breached: int = Field(ge=0)
    percent: float | None = Field(
        default=None, description="met / (met + breached) * 100, rounded to 0.1; null if none"
    )


class TrendPoint(ApiModel):
    """Tickets created in one day or week (weeks start on Monday)."""

    period_start: date
    tickets: int = Field(ge=0)


class MyPerformance(ApiModel):
    """The caller's own figures: tickets assigned to them, replies they sent."""

    user_id: uuid.UUID
    period: AnalyticsPeriod
    tickets_handled: int = Field(ge=0, description="tickets of the period assigned to you")
    tickets_resolved: int = Field(ge=0, description="of those, the resolved ones")
    replies_sent: int = Field(ge=0, description="outbound mail you sent in the period")
    times: TimeFigures
    sla: SlaCompliance
    trend: list[TrendPoint]


class AgentLoad(ApiModel):
    """One assignee's share of a department's tickets."""

    user_id: uuid.UUID
    full_name: str
    tickets_handled: int = Field(ge=0)
    tickets_resolved: int = Field(ge=0)


class DepartmentOverview(ApiModel):
    """A department's tickets in the period and its open backlog now."""

    department_id: uuid.UUID
    name: str
    period: AnalyticsPeriod
    tickets: int = Field(ge=0)
    open_backlog: int = Field(ge=0, description="open or pending now, whenever created")
    agents: list[AgentLoad] = Field(description="assignees, most tickets first")
    times: TimeFigures
    sla: SlaCompliance
    trend: list[TrendPoint]


class AccountStatistics(ApiModel):
    """A mailbox's tickets in the period, counted in the mailbox's timezone."""

    account_id: uuid.UUID
    address: str
    display_name: str
    period: AnalyticsPeriod
    tickets: int = Field(ge=0)
    trend: list[TrendPoint]
    peak_hours: list[list[int]] = Field(
        description="inbound messages by weekday (7 rows, Monday first) and hour "
        "(24 columns, 0 to 23), in the mailbox's timezone"
    )
    times: TimeFigures
    sla: SlaCompliance
