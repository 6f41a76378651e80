"""Admin: the tenant's SLA policies.

The rules are those of the CLI's `postdesk sla` commands (cli/.../sla_rules.py),
kept here too because a service cannot import the CLI; the request models
hold the ranges, this module the rules that need stored state:
- the account and department are the tenant's (404 otherwise), and an account
  policy naming a department names the account's own (422: it would never apply);
- at least one target; a business-hours policy has working hours that name
  open time in its timezone, and each target ends within a year of open time;
  a calendar-time policy has no working hours, holidays or timezone but UTC (422);
- at most one active policy per scope (tenant, account, department, priority),
  checked under a per-tenant advisory lock, the one the CLI takes (409);
- a policy with SLA clocks is never deleted (409: deactivate it instead).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

from postdesk_contracts.api_admin import (
    SlaPolicyCreate,
    SlaPolicyList,
    SlaPolicyUpdate,
    SlaPolicyView,
)
from postdesk_contracts.schedule import Schedule, ScheduleError
from postdesk_schema import SlaPolicy, SlaTimer
from sqlalchemy import exists, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway.admin_common import (
    audit_change,
    require_admin,
    snapshot,
    tenant_account,
    tenant_department,
)
from postdesk_gateway.domain import ConflictError, CurrentUser, NotFoundError, UnprocessableError

OBJECT_TYPE: Final = "sla_policy"
AUDITED_FIELDS: Final = (
    "name",
    "account_id",
    "department_id",
    "priority",
    "first_response_minutes",
    "resolution_minutes",
    "business_hours",
    "timezone",
    "working_hours",
    "holidays",
    "warning_percent",
    "is_active",
)


def _view(row: SlaPolicy) -> SlaPolicyView:
    return SlaPolicyView.model_validate(row, from_attributes=True)


def _check_clock(policy: SlaPolicy, now: datetime) -> None:
    """422 unless the policy's targets and clock settings fit together (module docstring)."""
    targets = [m for m in (policy.first_response_minutes, policy.resolution_minutes) if m]
    if not targets:
        raise UnprocessableError(
            "a policy needs a target: first_response_minutes, resolution_minutes or both"
        )
    if not policy.business_hours:
        if policy.working_hours or policy.holidays or policy.timezone != "UTC":
            raise UnprocessableError(
                "working hours, timezone and holidays count only for a business-hours policy"
            )
        return
    if not policy.working_hours:
        raise UnprocessableError("a business-hours policy needs working hours")
    try:
        schedule = Schedule.parse(policy.working_hours, policy.timezone, policy.holidays)
        for minutes in targets:
            schedule.add(now, minutes * 60.0)
    except ScheduleError as error:
        raise UnprocessableError(f"working hours: {error}") from error


async def _refuse_second_in_scope(session: AsyncSession, policy: SlaPolicy) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"postdesk.sla-policies:{policy.tenant_id}"},
    )
    same_scope = await session.scalar(
        select(col(SlaPolicy.name)).where(
            col(SlaPolicy.tenant_id) == policy.tenant_id,
            col(SlaPolicy.id) != policy.id,
            col(SlaPolicy.is_active).is_(True),
            col(SlaPolicy.account_id).is_not_distinct_from(policy.account_id),
            col(SlaPolicy.department_id).is_not_distinct_from(policy.department_id),
            col(SlaPolicy.priority).is_not_distinct_from(policy.priority),
        )
    )
    if same_scope is not None:
        raise ConflictError(f"active policy {same_scope!r} already has this scope")


async def _policy(session: AsyncSession, user: CurrentUser, policy_id: uuid.UUID) -> SlaPolicy:
    require_admin(user)
    found = (
        await session.scalars(
            select(SlaPolicy)
            .where(col(SlaPolicy.id) == policy_id, col(SlaPolicy.tenant_id) == user.tenant_id)
            .with_for_update()
        )
    ).one_or_none()
    if found is None:
        raise NotFoundError("SLA policy not found")
    return found


async def list_policies(session: AsyncSession, user: CurrentUser) -> SlaPolicyList:
    require_admin(user)
    rows = await session.scalars(
        select(SlaPolicy)
        .where(col(SlaPolicy.tenant_id) == user.tenant_id)
        .order_by(col(SlaPolicy.created_at), col(SlaPolicy.id))
    )
    return SlaPolicyList(items=[_view(row) for row in rows])


async def get_policy(
    session: AsyncSession, user: CurrentUser, policy_id: uuid.UUID
) -> SlaPolicyView:
    return _view(await _policy(session, user, policy_id))


async def create_policy(
    session: AsyncSession, user: CurrentUser, data: SlaPolicyCreate, *, ip: str
) -> SlaPolicyView:
    require_admin(user)
    values = data.model_dump()
    values["holidays"] = sorted({day.isoformat() for day in data.holidays})
    values["timezone"] = data.timezone.strip()
    values["name"] = data.name.strip()
    policy = SlaPolicy(tenant_id=user.tenant_id, **values)
    if data.account_id is not None:
        account = await tenant_account(session, user, data.account_id)
        if data.department_id is not None and account.department_id != data.department_id:
            raise UnprocessableError(
                "the account is not in this department: the policy would never apply"
            )
    if data.department_id is not None:
        await tenant_department(session, user, data.department_id)
    _check_clock(policy, datetime.now(UTC))
    await _refuse_second_in_scope(session, policy)
    session.add(policy)
    audit_change(
        session,
        user,
        action="sla_policy.created",
        object_type=OBJECT_TYPE,
        object_id=policy.id,
        ip=ip,
        new=snapshot(policy, AUDITED_FIELDS),
    )
    await session.commit()
    return _view(policy)


async def update_policy(
    session: AsyncSession,
    user: CurrentUser,
    policy_id: uuid.UUID,
    data: SlaPolicyUpdate,
    *,
    ip: str,
) -> SlaPolicyView:
    policy = await _policy(session, user, policy_id)
    changes: dict[str, Any] = {name: getattr(data, name) for name in data.model_fields_set}
    targets = {"first_response_minutes", "resolution_minutes"}
    for name, value in changes.items():
        if value is None and name not in targets:
            raise UnprocessableError(f"{name} cannot be null")
    if changes.get("holidays") is not None:
        changes["holidays"] = sorted({day.isoformat() for day in changes["holidays"]})
    old = snapshot(policy, changes)
    for name, value in changes.items():
        setattr(policy, name, value)
    _check_clock(policy, datetime.now(UTC))
    if policy.is_active and changes.get("is_active") is True:
        await _refuse_second_in_scope(session, policy)
    if changes:
        audit_change(
            session,
            user,
            action="sla_policy.updated",
            object_type=OBJECT_TYPE,
            object_id=policy.id,
            ip=ip,
            old=old,
            new=snapshot(policy, changes),
        )
    await session.commit()
    return _view(policy)


async def delete_policy(
    session: AsyncSession, user: CurrentUser, policy_id: uuid.UUID, *, ip: str
) -> None:
    policy = await _policy(session, user, policy_id)
    if await session.scalar(select(exists().where(col(SlaTimer.policy_id) == policy.id))):
        raise ConflictError("tickets have clocks of this policy: deactivate it instead")
    old = snapshot(policy, AUDITED_FIELDS)
    await session.delete(policy)
    audit_change(
        session,
        user,
        action="sla_policy.deleted",
        object_type=OBJECT_TYPE,
        object_id=policy_id,
        ip=ip,
        old=old,
    )
    await session.commit()
