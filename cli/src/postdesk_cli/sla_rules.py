"""Rules for SLA policies (sla_policies): add, list, disable.

Plain async functions over a session factory, for the `postdesk sla`
commands and later the admin API; refusals raise `SettingsError`.

Invariants kept here, so that every stored policy is one the router
(`postdesk_router.sla`) applies as written:
- a policy belongs to one tenant; its account and department, when set, are
  that tenant's, and an account policy that also names a department names
  the account's own (tickets take their department from their account, so
  any other would never match);
- it sets at least one target (first response, resolution), each a whole
  number of minutes, 1 to one year;
- a business-hours policy has working hours that name open time, in its
  timezone, with its holidays (YYYY-MM-DD, stored sorted and once each), and
  each target ends within the year of open time the router's clock searches;
  a calendar-time policy has none of these (they would be ignored);
- warning_percent is 1 to 100;
- at most one active policy per scope (tenant, account, department,
  priority): the router picks the oldest of equals, so a second one would
  silently never apply. Adds for one tenant are serialised by an advisory
  lock so two concurrent adds cannot both pass that check.
Disabling keeps the row (timers refer to it): tickets opened afterwards, and
tickets whose priority changes, no longer get it; running clocks carry on.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

from postdesk_contracts.schedule import Schedule, ScheduleError
from postdesk_runtime.db import Sessions
from postdesk_schema import Department, EmailAccount, SlaPolicy, Tenant, TicketPriority
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_cli.routing_rules import (
    MAX_MINUTES,
    SettingsError,
    account_by_address,
    check_number,
    check_timezone,
    check_working_hours,
    department_by_name,
    tenant_by_slug,
)

PRIORITIES: Final = tuple(p.value for p in TicketPriority)
DEFAULT_WARNING_PERCENT: Final = 80
MAX_NAME_CHARS: Final = 200
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class PolicySpec:
    """A policy to add. `account` is an address, `department` a name, both of the tenant."""

    name: str
    account: str | None = None
    department: str | None = None
    priority: str | None = None
    first_response_minutes: int | None = None
    resolution_minutes: int | None = None
    business_hours: bool = False
    timezone: str = "UTC"
    working_hours: Mapping[str, Any] = field(default_factory=dict)
    holidays: Sequence[str] = ()
    warning_percent: int = DEFAULT_WARNING_PERCENT


@dataclass(frozen=True)
class PolicyView:
    id: uuid.UUID
    tenant_slug: str
    name: str
    account: str | None
    department: str | None
    priority: str | None
    first_response_minutes: int | None
    resolution_minutes: int | None
    business_hours: bool
    timezone: str
    working_hours: dict[str, Any]
    holidays: tuple[str, ...]
    warning_percent: int
    is_active: bool
    created_at: datetime


def check_holidays(values: Sequence[str]) -> list[str]:
    """Holidays as stored: valid YYYY-MM-DD dates, sorted, each once."""
    days = set()
    for value in values:
        day = value.strip()
        try:
            if not _ISO_DATE.match(day):
                raise ValueError(day)
            days.add(date.fromisoformat(day))
        except ValueError as error:
            raise SettingsError(f"holiday {value!r} is not a date (YYYY-MM-DD)") from error
    return [d.isoformat() for d in sorted(days)]


def _check_targets(spec: PolicySpec) -> tuple[int | None, int | None]:
    targets = (
        ("first_response_minutes", spec.first_response_minutes),
        ("resolution_minutes", spec.resolution_minutes),
    )
    checked = [None if v is None else check_number(n, v, 1, MAX_MINUTES) for n, v in targets]
    if checked == [None, None]:
        raise SettingsError(
            "a policy needs a target: first_response_minutes, resolution_minutes or both"
        )
    return checked[0], checked[1]


def _check_clock(
    spec: PolicySpec, targets: Sequence[int | None], now: datetime
) -> tuple[str, dict[str, Any], list[str]]:
    """Timezone, working hours and holidays to store (see the module docstring)."""
    if not spec.business_hours:
        if spec.working_hours or spec.holidays or spec.timezone.strip() not in ("", "UTC"):
            raise SettingsError(
                "working hours, timezone and holidays count only for a business-hours policy"
            )
        return "UTC", {}, []
    zone = check_timezone(spec.timezone)
    holidays = check_holidays(spec.holidays)
    if not spec.working_hours:
        raise SettingsError("a business-hours policy needs working hours")
    hours = check_working_hours(spec.working_hours, zone, holidays)
    schedule = Schedule.parse(hours, zone, holidays)
    for minutes in targets:
        if minutes is None:
            continue
        try:
            schedule.add(now, minutes * 60.0)
        except ScheduleError as error:
            raise SettingsError(
                f"a target of {minutes} minutes does not end within a year of these"
                f" working hours ({error})"
            ) from error
    return zone, hours, holidays


async def _lock_tenant_policies(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"postdesk.sla-policies:{tenant_id}"},
    )


async def create_policy(
    session: AsyncSession, tenant: Tenant, spec: PolicySpec, *, now: datetime | None = None
) -> SlaPolicy:
    """Add a policy of `tenant` in the caller's transaction, by the module's rules."""
    name = spec.name.strip()
    if not name or "\x00" in name or len(name) > MAX_NAME_CHARS:
        raise SettingsError(f"a policy needs a name of 1 to {MAX_NAME_CHARS} characters")
    if spec.priority is not None and spec.priority not in PRIORITIES:
        raise SettingsError(f"priority must be one of {', '.join(PRIORITIES)}")
    targets = _check_targets(spec)
    warning = check_number("warning_percent", spec.warning_percent, 1, 100)
    zone, hours, holidays = _check_clock(spec, targets, now or datetime.now(UTC))
    account = department = None
    if spec.account is not None:
        account = await account_by_address(session, spec.account)
        if account.tenant_id != tenant.id:
            raise SettingsError(f"email account {account.address} is not tenant {tenant.slug}'s")
    if spec.department is not None:
        department = await department_by_name(session, tenant, spec.department)
        if account is not None and account.department_id != department.id:
            raise SettingsError(
                f"email account {account.address} is not in department {department.name!r}:"
                " the policy would never apply"
            )
    await _lock_tenant_policies(session, tenant.id)
    same_scope = (
        await session.scalars(
            select(SlaPolicy).where(
                col(SlaPolicy.tenant_id) == tenant.id,
                col(SlaPolicy.is_active).is_(True),
                col(SlaPolicy.account_id).is_not_distinct_from(account.id if account else None),
                col(SlaPolicy.department_id).is_not_distinct_from(
                    department.id if department else None
                ),
                col(SlaPolicy.priority).is_not_distinct_from(spec.priority),
            )
        )
    ).first()
    if same_scope is not None:
        raise SettingsError(
            f"active policy {same_scope.name!r} ({same_scope.id}) already has this scope;"
            " disable it first"
        )
    policy = SlaPolicy(
        tenant_id=tenant.id,
        name=name,
        account_id=account.id if account else None,
        department_id=department.id if department else None,
        priority=spec.priority,
        first_response_minutes=targets[0],
        resolution_minutes=targets[1],
        business_hours=spec.business_hours,
        timezone=zone,
        working_hours=hours,
        holidays=holidays,
        warning_percent=warning,
    )
    session.add(policy)
    await session.flush()
    return policy


async def _names(
    session: AsyncSession, key: Any, value: Any, ids: set[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """`value` of the rows whose `key` is among `ids`, by key."""
    if not ids:
        return {}
    rows = await session.execute(select(key, value).where(key.in_(ids)))
    return {row[0]: row[1] for row in rows}


async def _views(session: AsyncSession, policies: Sequence[SlaPolicy]) -> list[PolicyView]:
    addresses = await _names(
        session,
        col(EmailAccount.id),
        col(EmailAccount.address),
        {p.account_id for p in policies if p.account_id},
    )
    departments = await _names(
        session,
        col(Department.id),
        col(Department.name),
        {p.department_id for p in policies if p.department_id},
    )
    slugs = await _names(session, col(Tenant.id), col(Tenant.slug), {p.tenant_id for p in policies})
    return [
        PolicyView(
            id=p.id,
            tenant_slug=slugs[p.tenant_id],
            name=p.name,
            account=addresses.get(p.account_id) if p.account_id else None,
            department=departments.get(p.department_id) if p.department_id else None,
            priority=p.priority,
            first_response_minutes=p.first_response_minutes,
            resolution_minutes=p.resolution_minutes,
            business_hours=p.business_hours,
            timezone=p.timezone,
            working_hours=dict(p.working_hours or {}),
            holidays=tuple(p.holidays),
            warning_percent=p.warning_percent,
            is_active=p.is_active,
            created_at=p.created_at,
        )
        for p in policies
    ]


async def add_policy(sessions: Sessions, tenant_slug: str, spec: PolicySpec) -> PolicyView:
    """Add a policy to the tenant (see create_policy)."""
    async with sessions() as session, session.begin():
        tenant = await tenant_by_slug(session, tenant_slug)
        policy = await create_policy(session, tenant, spec)
        return (await _views(session, [policy]))[0]


async def list_policies(sessions: Sessions, tenant_slug: str) -> list[PolicyView]:
    """The tenant's policies, active and disabled, oldest first (the router's tie order)."""
    async with sessions() as session:
        tenant = await tenant_by_slug(session, tenant_slug)
        policies = await session.scalars(
            select(SlaPolicy)
            .where(col(SlaPolicy.tenant_id) == tenant.id)
            .order_by(col(SlaPolicy.created_at), col(SlaPolicy.id))
        )
        return await _views(session, policies.all())


async def disable_policy(sessions: Sessions, policy_id: uuid.UUID) -> tuple[PolicyView, bool]:
    """Stop applying a policy to new tickets; the policy, and whether it was active."""
    async with sessions() as session, session.begin():
        policy = (
            await session.scalars(
                select(SlaPolicy).where(col(SlaPolicy.id) == policy_id).with_for_update()
            )
        ).first()
        if policy is None:
            raise SettingsError(f"no SLA policy {policy_id}")
        was_active = policy.is_active
        policy.is_active = False
        await session.flush()
        return (await _views(session, [policy]))[0], was_active


__all__ = [
    "PRIORITIES",
    "PolicySpec",
    "PolicyView",
    "add_policy",
    "check_holidays",
    "create_policy",
    "disable_policy",
    "list_policies",
]
