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

from postdesk_contracts import api_examples as ex
from postdesk_contracts.api import ApiModel

MAX_ANALYTICS_DAYS: Final = 366
DEFAULT_ANALYTICS_DAYS: Final = 30
DAYS_PER_WEEK: Final = 7
HOURS_PER_DAY: Final = 24

Granularity = Literal["day", "week"]

_TREND: Final = [
    {"period_start": "2026-10-26", "tickets": 26},
    {"period_start": "2026-11-02", "tickets": 30},
    {"period_start": "2026-11-09", "tickets": 21},
    {"period_start": "2026-11-16", "tickets": 22},
    {"period_start": "2026-11-23", "tickets": 13},
]
_WORKDAY_HOURS: Final = [
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    3,
    9,
    14,
    12,
    10,
    7,
    9,
    11,
    10,
    8,
    5,
    2,
    1,
    1,
    0,
    0,
    0,
]


class AnalyticsPeriod(ApiModel):
    """The days a report covers, both included, as dates in `timezone`."""

    model_config = ex.example_config(
        {
            "start": "2026-10-27",
            "end": "2026-11-25",
            "timezone": "Europe/Berlin",
            "granularity": "week",
        }
    )

    start: date
    end: date
    timezone: str = Field(description="IANA name the days and hours are counted in")
    granularity: Granularity


class TimeFigures(ApiModel):
    """Minutes to the first response and to resolution; null when no ticket has one."""

    model_config = ex.example_config(
        {
            "median_response_minutes": 38.0,
            "p90_response_minutes": 212.5,
            "median_resolution_minutes": 1440.0,
            "p90_resolution_minutes": 4320.0,
        }
    )

    median_response_minutes: float | None = None
    p90_response_minutes: float | None = None
    median_resolution_minutes: float | None = None
    p90_resolution_minutes: float | None = None


class SlaCompliance(ApiModel):
    """SLA clocks of the period's tickets that are decided: met (stopped in time) or
    breached. Running and paused clocks count in neither."""

    model_config = ex.example_config({"met": 57, "breached": 3, "percent": 95.0})

    met: int = Field(ge=0)
    breached: int = Field(ge=0)
    percent: float | None = Field(
        default=None, description="met / (met + breached) * 100, rounded to 0.1; null if none"
    )


class TrendPoint(ApiModel):
    """Tickets created in one day or week (weeks start on Monday)."""

    model_config = ex.example_config({"period_start": "2026-10-26", "tickets": 26})

    period_start: date
    tickets: int = Field(ge=0)


class MyPerformance(ApiModel):
    """The caller's own figures: tickets assigned to them, replies they sent."""

    model_config = ex.example_config(
        {
            "user_id": ex.AGENT_ID,
            "period": ex.example_of(AnalyticsPeriod),
            "tickets_handled": 64,
            "tickets_resolved": 58,
            "replies_sent": 121,
            "times": ex.example_of(TimeFigures),
            "sla": ex.example_of(SlaCompliance),
            "trend": [
                {"period_start": "2026-10-26", "tickets": 14},
                {"period_start": "2026-11-02", "tickets": 17},
                {"period_start": "2026-11-09", "tickets": 12},
                {"period_start": "2026-11-16", "tickets": 13},
                {"period_start": "2026-11-23", "tickets": 8},
            ],
        }
    )

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

    model_config = ex.example_config(
        {
            "user_id": ex.AGENT_ID,
            "full_name": "Ana Lima",
            "tickets_handled": 64,
            "tickets_resolved": 58,
        }
    )

    user_id: uuid.UUID
    full_name: str
    tickets_handled: int = Field(ge=0)
    tickets_resolved: int = Field(ge=0)


class DepartmentOverview(ApiModel):
    """A department's tickets in the period and its open backlog now."""

    model_config = ex.example_config(
        {
            "department_id": ex.DEPARTMENT_ID,
            "name": "Billing",
            "period": ex.example_of(AnalyticsPeriod),
            "tickets": 112,
            "open_backlog": 9,
            "agents": [
                ex.example_of(AgentLoad),
                {
                    "user_id": ex.COLLEAGUE_ID,
                    "full_name": "Ben Okafor",
                    "tickets_handled": 48,
                    "tickets_resolved": 45,
                },
            ],
            "times": ex.example_of(TimeFigures),
            "sla": ex.example_of(SlaCompliance),
            "trend": _TREND,
        }
    )

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

    model_config = ex.example_config(
        {
            "account_id": ex.SUPPORT_ACCOUNT_ID,
            "address": "support@acme.example",
            "display_name": "Acme Support",
            "period": ex.example_of(AnalyticsPeriod),
            "tickets": 112,
            "trend": _TREND,
            "peak_hours": [_WORKDAY_HOURS] * 5 + [[0] * HOURS_PER_DAY] * 2,
            "times": ex.example_of(TimeFigures),
            "sla": ex.example_of(SlaCompliance),
        }
    )

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
