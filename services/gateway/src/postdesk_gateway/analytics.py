"""Pure shaping of the analytics reports: periods, chart series and the CSV export.

No I/O here; `analytics_db` runs the aggregates, `analytics_service` puts the
two together.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from postdesk_contracts.api_analytics import (
    DAYS_PER_WEEK,
    DEFAULT_ANALYTICS_DAYS,
    HOURS_PER_DAY,
    MAX_ANALYTICS_DAYS,
    AccountStatistics,
    AnalyticsPeriod,
    DepartmentOverview,
    Granularity,
    MyPerformance,
    SlaCompliance,
    TimeFigures,
    TrendPoint,
)

from postdesk_gateway.domain import InvalidRequestError

# OWASP CSV injection: a spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CSV_HEADER = ("section", "item", "metric", "value")
# Dates outside these would overflow a datetime once shifted by a zone or a period.
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(2999, 12, 31)


@dataclass(frozen=True)
class Period:
    """The report's days, both included, and where they begin and end in UTC."""

    start: date
    end: date
    zone: str
    granularity: Granularity

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start, time(0), ZoneInfo(self.zone))

    @property
    def ends_at(self) -> datetime:
        """The first instant after the period (midnight after `end`)."""
        return datetime.combine(self.end + timedelta(days=1), time(0), ZoneInfo(self.zone))

    def view(self) -> AnalyticsPeriod:
        return AnalyticsPeriod(
            start=self.start, end=self.end, timezone=self.zone, granularity=self.granularity
        )


def usable_zone(name: str) -> str:
    """`name` when it is an IANA timezone, else UTC (a stored value we cannot count in)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def resolve_period(
    start: date | None,
    end: date | None,
    *,
    zone: str,
    granularity: Granularity,
    now: datetime,
) -> Period:
    """The period asked for: by default the last `DEFAULT_ANALYTICS_DAYS` days up to today
    in `zone`; `InvalidRequestError` for a start after the end or a range over
    `MAX_ANALYTICS_DAYS` days, or a day outside `EARLIEST_DAY`..`LATEST_DAY`."""
    _within_range(start, end)
    zone = usable_zone(zone)
    span = timedelta(days=DEFAULT_ANALYTICS_DAYS - 1)
    if end is None:
        end = start + span if start is not None else now.astimezone(ZoneInfo(zone)).date()
    if start is None:
        start = end - span
    _within_range(start, end)  # the defaulted side too
    if start > end:
        raise InvalidRequestError("from must not be after to")
    if (end - start).days + 1 > MAX_ANALYTICS_DAYS:
        raise InvalidRequestError(f"the period spans at most {MAX_ANALYTICS_DAYS} days")
    return Period(start, end, zone, granularity)


def _within_range(*days: date | None) -> None:
    if any(day is not None and not EARLIEST_DAY <= day <= LATEST_DAY for day in days):
        raise InvalidRequestError(f"dates must lie between {EARLIEST_DAY} and {LATEST_DAY}")


def bucket_start(day: date, granularity: Granularity) -> date:
    return day - timedelta(days=day.weekday()) if granularity == "week" else day


def trend(period: Period, counts: Mapping[date, int]) -> list[TrendPoint]:
    """One point per day or week of the period, zero where nothing was created."""
    step = timedelta(days=DAYS_PER_WEEK if period.granularity == "week" else 1)
    points: list[TrendPoint] = []
    bucket = bucket_start(period.start, period.granularity)
    while bucket <= period.end:
        points.append(TrendPoint(period_start=bucket, tickets=counts.get(bucket, 0)))
        bucket += step
    return points


def peak_matrix(cells: Iterable[tuple[int, int, int]]) -> list[list[int]]:
    """7x24 counts from (ISO weekday 1-7, hour 0-23, count) rows."""
    matrix = [[0] * HOURS_PER_DAY for _ in range(DAYS_PER_WEEK)]
    for weekday, hour, count in cells:
        matrix[weekday - 1][hour] += count
    return matrix


def compliance(met: int, breached: int) -> SlaCompliance:
    decided = met + breached
    percent = round(met * 100 / decided, 1) if decided else None
    return SlaCompliance(met=met, breached=breached, percent=percent)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def time_figures(
    median_response: float | None,
    p90_response: float | None,
    median_resolution: float | None,
    p90_resolution: float | None,
) -> TimeFigures:
    return TimeFigures(
        median_response_minutes=_rounded(median_response),
        p90_response_minutes=_rounded(p90_response),
        median_resolution_minutes=_rounded(median_resolution),
        p90_resolution_minutes=_rounded(p90_resolution),
    )


# ---- CSV export -----------------------------------------------------------------------------

Row = tuple[str, str, str, object]


def neutralised(value: object) -> str:
    """The cell as text a spreadsheet shows and never evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def to_csv(rows: Iterable[Row]) -> str:
    """Rows (section, item, metric, value) under `CSV_HEADER`, every cell neutralised and
    quoted as the csv module does."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows([neutralised(cell) for cell in row] for row in rows)
    return out.getvalue()


def _period_rows(period: AnalyticsPeriod) -> list[Row]:
    return [
        ("period", "", "start", period.start.isoformat()),
        ("period", "", "end", period.end.isoformat()),
        ("period", "", "timezone", period.timezone),
        ("period", "", "granularity", period.granularity),
    ]


def _shared_rows(times: TimeFigures, sla: SlaCompliance, points: list[TrendPoint]) -> list[Row]:
    rows: list[Row] = [("times", "", name, value) for name, value in times.model_dump().items()]
    rows += [("sla", "", name, value) for name, value in sla.model_dump().items()]
    rows += [("trend", p.period_start.isoformat(), "tickets", p.tickets) for p in points]
    return rows


def my_performance_rows(report: MyPerformance) -> list[Row]:
    return [
        *_period_rows(report.period),
        ("summary", "", "tickets_handled", report.tickets_handled),
        ("summary", "", "tickets_resolved", report.tickets_resolved),
        ("summary", "", "replies_sent", report.replies_sent),
        *_shared_rows(report.times, report.sla, report.trend),
    ]


def department_rows(report: DepartmentOverview) -> list[Row]:
    agents: list[Row] = []
    for agent in report.agents:
        agents += [
            ("agent", agent.full_name, "tickets_handled", agent.tickets_handled),
            ("agent", agent.full_name, "tickets_resolved", agent.tickets_resolved),
        ]
    return [
        *_period_rows(report.period),
        ("summary", report.name, "tickets", report.tickets),
        ("summary", report.name, "open_backlog", report.open_backlog),
        *agents,
        *_shared_rows(report.times, report.sla, report.trend),
    ]


def account_rows(report: AccountStatistics) -> list[Row]:
    label = report.display_name or report.address
    peaks: list[Row] = [
        ("peak_hours", WEEKDAYS[day], f"{hour:02d}:00", count)
        for day, hours in enumerate(report.peak_hours)
        for hour, count in enumerate(hours)
    ]
    return [
        *_period_rows(report.period),
        ("summary", label, "tickets", report.tickets),
        *_shared_rows(report.times, report.sla, report.trend),
        *peaks,
    ]


def attachment_name(kind: str, period: AnalyticsPeriod) -> str:
    """A file name with nothing in it a client could misread (no user-given text)."""
    return f"analytics-{kind}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
