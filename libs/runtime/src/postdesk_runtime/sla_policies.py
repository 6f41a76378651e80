"""The rules of SLA policies (sla_policies), for every writer of them: the
`postdesk sla` commands and the gateway's admin API.

Invariants kept here, so that every stored policy is one the router
(`postdesk_router.sla`) applies as written:
- a policy belongs to one tenant; its account and department, when set, are
  that tenant's, and an account policy that also names a department names
  the account's own (tickets take their department from their account, so
  any other would never match);
- it has a name of 1 to 200 characters and sets at least one target (first
  response, resolution), each a whole number of minutes, 1 to one year;
- a business-hours policy has working hours that name open time, in its
  timezone, with its holidays (YYYY-MM-DD, stored sorted and once each), and
  each target ends within the year of open time the router's clock searches;
  a calendar-time policy has none of these (they would be ignored);
- warning_percent is 1 to 100;
- at most one active policy per scope (tenant, account, department,
  priority): the router picks the oldest of equals, so a second one would
  silently never apply. Writers of one tenant's policies are serialised by an
  advisory lock so two concurrent ones cannot both pass that check.

Refusals are `SlaPolicyError`s; each caller turns them into its own errors.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, Final

from postdesk_contracts.schedule import Schedule, ScheduleError
from postdesk_schema import Department, EmailAccount, SlaPolicy, TicketPriority
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

PRIORITIES: Final = tuple(p.value for p in TicketPriority)
MAX_TARGET_MINUTES: Final = 525_600  # one year: the router's clock searches no further
MAX_NAME_CHARS: Final = 200
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SlaPolicyError(ValueError):
    """A policy the rules refuse; str(error) says why."""


class InvalidPolicyError(SlaPolicyError):
    """Settings out of range or that do not fit together."""


class ForeignScopeError(SlaPolicyError):
    """The account or department is another tenant's: `kind` says which, `what` names it."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.what = f"{kind} {name}"
        super().__init__(f"{self.what} is another tenant's")


class ScopeTakenError(SlaPolicyError):
    """Another active policy of the tenant has the same scope."""

    def __init__(self, policy_name: str, policy_id: uuid.UUID) -> None:
        super().__init__(f"active policy {policy_name!r} ({policy_id}) already has this scope")
        self.policy_name = policy_name
        self.policy_id = policy_id


@dataclass(frozen=True)
class PolicySettings:
    """A policy's settings other than its scope; `check_settings` gives them as stored."""

    name: str
    priority: str | None
    first_response_minutes: int | None
    resolution_minutes: int | None
    business_hours: bool
    timezone: str
    working_hours: Mapping[str, Any]
    holidays: Sequence[str | date]
    warning_percent: int


def _whole_number(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPolicyError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise InvalidPolicyError(f"{name} must be between {low} and {high}, got {value}")
    return value


def normalise_holidays(values: Iterable[str | date]) -> list[str]:
    """Holidays as stored: valid YYYY-MM-DD dates, sorted, each once."""
    days: set[date] = set()
    for value in values:
        if isinstance(value, date):
            days.add(value)
            continue
        day = value.strip()
        try:
            if not _ISO_DATE.match(day):
                raise ValueError(day)
            days.add(date.fromisoformat(day))
        except ValueError as error:
            raise InvalidPolicyError(f"holiday {value!r} is not a date (YYYY-MM-DD)") from error
    return [d.isoformat() for d in sorted(days)]


def _check_targets(settings: PolicySettings) -> tuple[int | None, int | None]:
    targets = (
        ("first_response_minutes", settings.first_response_minutes),
        ("resolution_minutes", settings.resolution_minutes),
    )
    checked = [
        None if value is None else _whole_number(name, value, 1, MAX_TARGET_MINUTES)
        for name, value in targets
    ]
    if checked == [None, None]:
        raise InvalidPolicyError(
            "a policy needs a target: first_response_minutes, resolution_minutes or both"
        )
    return checked[0], checked[1]


def _check_zone(name: str) -> str:
    zone = name.strip()
    if not zone:
        raise InvalidPolicyError("timezone is empty (use an IANA name such as Europe/Berlin)")
    try:
        Schedule.parse({}, zone)
    except ScheduleError as error:
        raise InvalidPolicyError(f"{error} (use an IANA name such as Europe/Berlin)") from error
    return zone


def _check_clock(
    settings: PolicySettings, targets: Iterable[int | None], now: datetime
) -> tuple[str, dict[str, Any], list[str]]:
    """Timezone, working hours and holidays to store (see the module docstring)."""
    if not settings.business_hours:
        if (
            settings.working_hours
            or settings.holidays
            or settings.timezone.strip() not in ("", "UTC")
        ):
            raise InvalidPolicyError(
                "working hours, timezone and holidays count only for a business-hours policy"
            )
        return "UTC", {}, []
    zone = _check_zone(settings.timezone)
    holidays = normalise_holidays(settings.holidays)
    hours = settings.working_hours
    if not hours:
        raise InvalidPolicyError("a business-hours policy needs working hours")
    if not isinstance(hours, Mapping) or not all(isinstance(day, str) for day in hours):
        raise InvalidPolicyError(
            'working hours must be a JSON object of days, e.g. {"mon": [["09:00", "17:00"]]}'
        )
    try:
        schedule = Schedule.parse(hours, zone, holidays)
    except ScheduleError as error:
        raise InvalidPolicyError(f"working hours: {error}") from error
    for minutes in targets:
        if minutes is None:
            continue
        try:
            schedule.add(now, minutes * 60.0)
        except ScheduleError as error:
            raise InvalidPolicyError(
                f"a target of {minutes} minutes does not end within a year of these"
                f" working hours ({error})"
            ) from error
    return zone, dict(hours), holidays


def check_settings(settings: PolicySettings, *, now: datetime) -> PolicySettings:
    """The settings as stored (name and timezone stripped, holidays normalised, no clock
    settings on a calendar-time policy); InvalidPolicyError if the rules refuse them.
    `now` is when the year of open time that each target must end within starts."""
    name = settings.name.strip()
    if not name or "\x00" in name or len(name) > MAX_NAME_CHARS:
        raise InvalidPolicyError(f"a policy needs a name of 1 to {MAX_NAME_CHARS} characters")
    if settings.priority is not None and settings.priority not in PRIORITIES:
        raise InvalidPolicyError(f"priority must be one of {', '.join(PRIORITIES)}")
    first_response, resolution = _check_targets(settings)
    warning = _whole_number("warning_percent", settings.warning_percent, 1, 100)
    zone, hours, holidays = _check_clock(settings, (first_response, resolution), now)
    return PolicySettings(
        name=name,
        priority=settings.priority,
        first_response_minutes=first_response,
        resolution_minutes=resolution,
        business_hours=settings.business_hours,
        timezone=zone,
        working_hours=hours,
        holidays=holidays,
        warning_percent=warning,
    )


def settings_of(source: object) -> PolicySettings:
    """The settings of anything that has them under their names: a row, a request, a spec."""
    return PolicySettings(**{f.name: getattr(source, f.name) for f in fields(PolicySettings)})


def apply_settings(policy: SlaPolicy, settings: PolicySettings) -> None:
    """Write checked settings (check_settings) into `policy`."""
    policy.name = settings.name
    policy.priority = settings.priority
    policy.first_response_minutes = settings.first_response_minutes
    policy.resolution_minutes = settings.resolution_minutes
    policy.business_hours = settings.business_hours
    policy.timezone = settings.timezone
    policy.working_hours = dict(settings.working_hours)
    policy.holidays = [str(day) for day in settings.holidays]
    policy.warning_percent = settings.warning_percent


def check_scope(
    tenant_id: uuid.UUID, account: EmailAccount | None, department: Department | None
) -> None:
    """ForeignScopeError unless the account and department are the tenant's;
    InvalidPolicyError when the account is not in the department (never applies)."""
    if account is not None and account.tenant_id != tenant_id:
        raise ForeignScopeError("email account", account.address)
    if department is not None and department.tenant_id != tenant_id:
        raise ForeignScopeError("department", repr(department.name))
    if account is not None and department is not None and account.department_id != department.id:
        raise InvalidPolicyError(
            f"email account {account.address} is not in department {department.name!r}:"
            " the policy would never apply"
        )


async def refuse_second_in_scope(session: AsyncSession, policy: SlaPolicy) -> None:
    """ScopeTakenError if another active policy of the tenant has `policy`'s scope.

    Takes the tenant's policy lock until the caller's transaction ends: call it
    in the transaction that stores `policy`, so no concurrent writer passes too.
    """
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"postdesk.sla-policies:{policy.tenant_id}"},
    )
    same_scope = (
        await session.execute(
            select(col(SlaPolicy.name), col(SlaPolicy.id))
            .where(
                col(SlaPolicy.tenant_id) == policy.tenant_id,
                col(SlaPolicy.id) != policy.id,
                col(SlaPolicy.is_active).is_(True),
                col(SlaPolicy.account_id).is_not_distinct_from(policy.account_id),
                col(SlaPolicy.department_id).is_not_distinct_from(policy.department_id),
                col(SlaPolicy.priority).is_not_distinct_from(policy.priority),
            )
            .order_by(col(SlaPolicy.created_at), col(SlaPolicy.id))
            .limit(1)
        )
    ).first()
    if same_scope is not None:
        raise ScopeTakenError(same_scope[0], same_scope[1])


__all__ = [
    "MAX_NAME_CHARS",
    "MAX_TARGET_MINUTES",
    "PRIORITIES",
    "ForeignScopeError",
    "InvalidPolicyError",
    "PolicySettings",
    "ScopeTakenError",
    "SlaPolicyError",
    "apply_settings",
    "check_scope",
    "check_settings",
    "normalise_holidays",
    "refuse_second_in_scope",
    "settings_of",
]
