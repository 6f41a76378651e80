"""Admin: the tenant's SLA policies.

The rules are `postdesk_runtime.sla_policies` (those of the CLI's `postdesk sla`
too); the request models hold the ranges. Their refusals answer as:
- an account or department that is not the tenant's: 404;
- settings that do not fit together (no target, clock settings on a calendar-time
  policy, working hours with no open time or too little for a target, an account
  policy naming a department other than the account's): 422;
- a second active policy of one scope (tenant, account, department, priority): 409;
- a policy with SLA clocks is never deleted (409: deactivate it instead).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

from postdesk_contracts.api_admin import (
    SlaPolicyCreate,
    SlaPolicyList,
    SlaPolicyUpdate,
    SlaPolicyView,
)
from postdesk_runtime import sla_policies
from postdesk_schema import SlaPolicy, SlaTimer
from sqlalchemy import exists
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


@contextmanager
def _refusals_as_problems() -> Iterator[None]:
    """The library's refusals as the gateway's errors (module docstring)."""
    try:
        yield
    except sla_policies.ScopeTakenError as error:
        raise ConflictError(str(error)) from error
    except sla_policies.ForeignScopeError as error:
        raise NotFoundError(f"{error.kind} not found") from error
    except sla_policies.SlaPolicyError as error:
        raise UnprocessableError(str(error)) from error


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
    account = department = None
    if data.account_id is not None:
        account = await tenant_account(session, user, data.account_id)
    if data.department_id is not None:
        department = await tenant_department(session, user, data.department_id)
    policy = SlaPolicy(
        tenant_id=user.tenant_id,
        account_id=data.account_id,
        department_id=data.department_id,
        name=data.name,
    )
    with _refusals_as_problems():
        sla_policies.check_scope(user.tenant_id, account, department)
        checked = sla_policies.check_settings(sla_policies.settings_of(data), now=datetime.now(UTC))
        sla_policies.apply_settings(policy, checked)
        await sla_policies.refuse_second_in_scope(session, policy)
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
    old = snapshot(policy, changes)
    for name, value in changes.items():
        setattr(policy, name, value)
    with _refusals_as_problems():
        checked = sla_policies.check_settings(
            sla_policies.settings_of(policy), now=datetime.now(UTC)
        )
        sla_policies.apply_settings(policy, checked)
        if policy.is_active and changes.get("is_active") is True:
            await sla_policies.refuse_second_in_scope(session, policy)
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
