"""The daily digest: when a user's working day ends, and what the summary says. No I/O.

Rules:
- A user's day ends at the last end of the spans of that local date's hours
  (users.working_hours, in users.timezone); a span running past midnight
  ends the next morning, and the digest still belongs to the date it started
  on. A user with no hours finishes at 17:00 local every day. A day off (no
  spans that weekday) or a holiday has no digest.
- The digest covers the local date from its midnight up to the moment it is
  composed, per mailbox the user receives mail for: new tickets, customer
  messages, tickets open or pending now, the user's own open or pending
  tickets, SLA breaches, and the oldest tickets waiting for an answer.
- One digest per user and local date: its outbound id derives from the two.
- Hours or a timezone that cannot be used end the day at 17:00 (local, else
  UTC) with a skip reason instead of a digest, so the day is decided anyway.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from postdesk_contracts.schedule import Schedule, ScheduleError

DEFAULT_DAY_END = time(17, 0)
MAX_WAITING = 10
MAX_SUBJECT_CHARS = 80
_OUTBOUND_NAMESPACE = uuid.UUID("6f1f4d0e-3b1a-5c53-9d0e-7a2c4e1b9d21")


def working_day_end(
    hours: Mapping[str, Any] | None, timezone: str, day: date, holidays: Iterable[str] = ()
) -> datetime | None:
    """When the working day of local date `day` ends (UTC), or None on a day off or holiday.

    Raises ScheduleError for hours or a timezone that cannot be used."""
    return _day_end(Schedule.parse(hours, timezone, holidays), day)


def _day_end(schedule: Schedule, day: date) -> datetime | None:
    if day in schedule.holidays:
        return None
    if schedule.always:
        return datetime.combine(day, DEFAULT_DAY_END, schedule.zone).astimezone(UTC)
    # wall-clock arithmetic, as Schedule does: a span keeps its local length across DST
    ends = [
        (datetime.combine(day, span.start) + timedelta(minutes=span.minutes))
        .replace(tzinfo=schedule.zone)
        .astimezone(UTC)
        for span in schedule.spans[day.weekday()]
    ]
    return max(ends) if ends else None


@dataclass(frozen=True)
class EndedDay:
    """The working day of `local_date` under one schedule (timezone and hours as stored)
    ended at `end`; `skip_reason` says why its users get no digest, if they get none."""

    timezone: str
    working_hours: Mapping[str, Any]
    local_date: date
    end: datetime
    skip_reason: str | None = None


def ended_days(
    timezone: str, hours: Mapping[str, Any], now: datetime, catch_up: timedelta
) -> list[EndedDay]:
    """The local dates whose working day under this schedule ended in (now - catch_up, now].

    Hours or a timezone that cannot be used end the day at 17:00 (in the zone, else UTC)
    with a skip reason, so those users' day is still decided once. `catch_up` is at most a
    day: a day's last span ends within two days of its midnight, so the local date of `now`
    and the two before cover it."""
    if catch_up > timedelta(days=1):
        raise ValueError("the catch-up period is at most a day")
    reason = None
    try:
        schedule = Schedule.parse(hours, timezone)
    except ScheduleError as error:
        reason = f"working hours unusable: {error}"
        try:
            schedule = Schedule.parse({}, timezone)
        except ScheduleError:
            schedule = Schedule.parse({}, "UTC")
    today = now.astimezone(schedule.zone).date()
    found = []
    for day in (today - timedelta(days=2), today - timedelta(days=1), today):
        end = _day_end(schedule, day)
        if end is not None and now - catch_up < end <= now:
            found.append(EndedDay(timezone, hours, day, end, reason))
    return found


def local_day_start(day: date, timezone: str) -> datetime:
    """Local midnight starting `day`, in UTC."""
    return datetime.combine(day, time(0, 0), Schedule.parse({}, timezone).zone).astimezone(UTC)


def digest_outbound_id(user_id: uuid.UUID, local_date: date) -> uuid.UUID:
    """The outbound id of a user's digest of one local date: the same on every attempt."""
    return uuid.uuid5(_OUTBOUND_NAMESPACE, f"{user_id}:{local_date.isoformat()}")


@dataclass(frozen=True)
class WaitingTicket:
    number: int
    subject: str
    waiting_since: datetime


@dataclass(frozen=True)
class AccountActivity:
    """One mailbox's day, the same for every user who receives its mail."""

    new_tickets: int = 0
    customer_messages: int = 0
    open_or_pending: int = 0
    sla_breaches: int = 0


@dataclass(frozen=True)
class AccountDigest:
    account_id: uuid.UUID
    address: str
    activity: AccountActivity
    assigned_to_user_open: int
    oldest_waiting: tuple[WaitingTicket, ...]


def format_age(seconds: float) -> str:
    """A waiting time as a person says it: 45m, 3h 20m, 2d 4h."""
    minutes = max(int(seconds // 60), 0)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def _short(subject: str) -> str:
    subject = " ".join(subject.split()) or "(no subject)"
    return (
        subject if len(subject) <= MAX_SUBJECT_CHARS else subject[: MAX_SUBJECT_CHARS - 3] + "..."
    )


def digest_subject(local_date: date, accounts: Sequence[AccountDigest]) -> str:
    new = sum(a.activity.new_tickets for a in accounts)
    messages = sum(a.activity.customer_messages for a in accounts)
    return (
        f"Your postdesk day, {local_date.isoformat()}: "
        f"{new} new ticket{'s' * (new != 1)}, {messages} customer message{'s' * (messages != 1)}"
    )


def digest_text(
    full_name: str, local_date: date, accounts: Sequence[AccountDigest], now: datetime
) -> str:
    """The plain-text body of a digest."""
    lines = [f"Hello {full_name or 'there'},", "", f"Your mailboxes on {local_date.isoformat()}:"]
    for account in accounts:
        activity = account.activity
        lines += [
            "",
            account.address,
            f"  new tickets today:        {activity.new_tickets}",
            f"  customer messages today:  {activity.customer_messages}",
            f"  open or pending now:      {activity.open_or_pending}",
            f"  assigned to you, open:    {account.assigned_to_user_open}",
            f"  SLA breaches today:       {activity.sla_breaches}",
        ]
        if account.oldest_waiting:
            lines.append("  waiting longest for an answer:")
            lines += [
                f"    #{t.number}  {format_age((now - t.waiting_since).total_seconds()):>7}  "
                f"{_short(t.subject)}"
                for t in account.oldest_waiting
            ]
    lines += ["", "You get this digest because you turned it on in your notification settings."]
    return "\n".join(lines)


def summary_document(
    period_start: datetime, period_end: datetime, accounts: Sequence[AccountDigest]
) -> dict[str, Any]:
    """What notification_digests.summary records of a sent digest."""
    return {
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "accounts": [
            {
                "account_id": str(a.account_id),
                "address": a.address,
                "new_tickets": a.activity.new_tickets,
                "customer_messages": a.activity.customer_messages,
                "open_or_pending": a.activity.open_or_pending,
                "assigned_to_user_open": a.assigned_to_user_open,
                "sla_breaches": a.activity.sla_breaches,
                "oldest_waiting": [
                    {
                        "number": t.number,
                        "subject": t.subject,
                        "waiting_since": t.waiting_since.isoformat(),
                        "age_seconds": int((period_end - t.waiting_since).total_seconds()),
                    }
                    for t in a.oldest_waiting
                ],
            }
            for a in accounts
        ],
    }


def skipped_document(reason: str) -> dict[str, Any]:
    """What notification_digests.summary records of a digest not sent."""
    return {"skipped": reason}
