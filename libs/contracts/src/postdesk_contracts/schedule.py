"""Weekly working hours in a timezone: is someone working now, and business-time sums.

A schedule is stored as JSON (users.working_hours, email_accounts.working_hours,
sla_policies.working_hours): `{"mon": [["09:00", "17:00"]], "tue": [...], ...}`,
days mon..sun, each a list of [start, end] local times. "24:00" ends at
midnight; an end at or before its start runs past midnight into the next day
(a night shift "22:00"-"06:00"). A day left out is a day off; an empty
mapping means always working. Holidays are ISO dates (local) with no hours.
Daylight-saving changes follow the zone: 09:00 stays 09:00 local time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
# Beyond this many days without an open minute the schedule is treated as broken.
MAX_SEARCH_DAYS = 400


class ScheduleError(ValueError):
    """A working-hours setting that cannot be used; the message says why."""


@dataclass(frozen=True)
class _Span:
    start: time
    minutes: int  # length, 1..1440


def _clock(value: Any) -> tuple[time, int]:
    if not isinstance(value, str) or not _CLOCK.match(value):
        raise ScheduleError(f"bad time {value!r}: use HH:MM")
    if value == "24:00":
        return time(0, 0), 24 * 60
    hours, minutes = int(value[:2]), int(value[3:])
    return time(hours, minutes), hours * 60 + minutes


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError(f"unknown timezone {name!r}") from error


@dataclass(frozen=True)
class Schedule:
    zone: ZoneInfo
    spans: tuple[tuple[_Span, ...], ...]  # per weekday, Monday first
    holidays: frozenset[date]
    always: bool

    @classmethod
    def parse(
        cls, hours: Mapping[str, Any] | None, timezone: str = "UTC", holidays: Iterable[str] = ()
    ) -> Schedule:
        zone = _zone(timezone)
        try:
            days_off = frozenset(date.fromisoformat(h) for h in holidays)
        except (TypeError, ValueError) as error:
            raise ScheduleError(f"bad holiday in {list(holidays)!r}") from error
        if not hours:
            return cls(zone, tuple(() for _ in DAYS), days_off, always=True)
        unknown = set(hours) - set(DAYS)
        if unknown:
            raise ScheduleError(f"unknown days {sorted(unknown)}: use {', '.join(DAYS)}")
        spans: list[tuple[_Span, ...]] = []
        for day in DAYS:
            ranges = hours.get(day) or []
            if not isinstance(ranges, list):
                raise ScheduleError(f"{day}: expected a list of [start, end]")
            day_spans = []
            for item in ranges:
                if not (isinstance(item, list | tuple) and len(item) == 2):
                    raise ScheduleError(f"{day}: expected [start, end], got {item!r}")
                (start, start_minute), (_, end_minute) = _clock(item[0]), _clock(item[1])
                if start_minute == 24 * 60:
                    raise ScheduleError(f"{day}: a span cannot start at 24:00")
                length = end_minute - start_minute
                day_spans.append(_Span(start, length if length > 0 else length + 24 * 60))
            spans.append(tuple(day_spans))
        if not any(spans):
            raise ScheduleError("working hours name no open time at all")
        return cls(zone, tuple(spans), days_off, always=False)

    def _day_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals (UTC) that start on local `day`, earliest first."""
        if self.always or day in self.holidays:
            return []
        intervals = []
        for span in self.spans[day.weekday()]:
            start = datetime.combine(day, span.start, self.zone)
            end = (start.replace(tzinfo=None) + timedelta(minutes=span.minutes)).replace(
                tzinfo=self.zone
            )
            intervals.append((start.astimezone(UTC), end.astimezone(UTC)))
        return sorted(intervals)

    def _open_from(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open time from `at` on, as contiguous non-overlapping intervals in order."""
        # start a day early: yesterday's night shift may still be running
        day = at.astimezone(self.zone).date() - timedelta(days=1)
        last_end = at
        for _ in range(MAX_SEARCH_DAYS):
            for start, end in self._day_intervals(day):
                if end <= last_end:
                    continue
                yield max(start, last_end), end
                last_end = end
            day += timedelta(days=1)

    def is_open(self, at: datetime) -> bool:
        if self.always:
            return True
        for start, end in self._open_from(at):
            return start <= at < end
        return False

    def next_open(self, at: datetime) -> datetime:
        """`at` when open, else the start of the next open interval."""
        if self.always:
            return at
        for start, _ in self._open_from(at):
            return start
        raise ScheduleError("no open time within a year")

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment `seconds` of open time after `start`."""
        if self.always:
            return start + timedelta(seconds=seconds)
        left = timedelta(seconds=max(seconds, 0.0))
        for begin, end in self._open_from(start):
            if begin + left <= end:
                return begin + left
            left -= end - begin
        raise ScheduleError("no open time within a year")

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Open seconds in [start, end); 0 when end is not after start."""
        if end <= start:
            return 0.0
        if self.always:
            return (end - start).total_seconds()
        total = timedelta()
        for begin, finish in self._open_from(start):
            if begin >= end:
                break
            total += min(finish, end) - begin
        return total.total_seconds()
