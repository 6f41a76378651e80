"""SLA policies (sla_policies): add, list, disable.

Plain async functions over a session factory, for the `postdesk sla`
commands; refusals raise `SettingsError`. The rules a stored policy keeps
(scope, targets, clock, one active policy per scope) are those of
`postdesk_runtime.sla_policies`, which the admin API applies too.
Disabling keeps the row (timers refer to it): tickets opened afterwards, and
tickets whose priority changes, no longer get it; running clocks carry on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from postdesk_runtime import sla_policies
from postdesk_runtime.db import Sessions
from postdesk_runtime.sla_policies import PRIORITIES
from postdesk_schema import Department, EmailAccount, SlaPolicy, Tenant
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_cli.routing_rules import (
    SettingsError,
    account_by_address,
    department_by_name,
    tenant_by_slug,
)

DEFAULT_WARNING_PERCENT: Final = 80


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


@contextmanager
def _refusals_as_settings_errors(tenant: Tenant) -> Iterator[None]:
    """The library's refusals as SettingsError, worded for this tenant."""
    try:
        yield
    except sla_policies.ForeignScopeError as error:
        raise SettingsError(f"{error.what} is not tenant {tenant.slug}'s") from error
    except sla_policies.ScopeTakenError as error:
        raise SettingsError(f"{error}; disable it first") from error
    except sla_policies.SlaPolicyError as error:
        raise SettingsError(str(error)) from error


async def create_policy(
    session: AsyncSession, tenant: Tenant, spec: PolicySpec, *, now: datetime | None = None
) -> SlaPolicy:
    """Add a policy of `tenant` in the caller's transaction, by the library's rules."""
    with _refusals_as_settings_errors(tenant):
        settings = sla_policies.check_settings(
            sla_policies.settings_of(spec), now=now or datetime.now(UTC)
        )
        account = None if spec.account is None else await account_by_address(session, spec.account)
        department = (
            None
            if spec.department is None
            else await department_by_name(session, tenant, spec.department)
        )
        sla_policies.check_scope(tenant.id, account, department)
        policy = SlaPolicy(
            tenant_id=tenant.id,
            account_id=account.id if account else None,
            department_id=department.id if department else None,
            name=settings.name,
        )
        sla_policies.apply_settings(policy, settings)
        await sla_policies.refuse_second_in_scope(session, policy)
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
    "create_policy",
    "disable_policy",
    "list_policies",
]
