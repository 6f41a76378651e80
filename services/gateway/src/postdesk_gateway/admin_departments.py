"""Admin: the tenant's departments.

Invariants (besides those of `admin_common`):
- Names are unique within a tenant (409).
- `routing_strategy` is one of the router's strategies (the request model says which).
- A department is deleted only while no user, mailbox, ticket or SLA policy refers to it (409
  names what still does); its manager list goes with it.
"""

from __future__ import annotations

import uuid
from typing import Final

from postdesk_contracts.api_admin import (
    DepartmentCreate,
    DepartmentList,
    DepartmentUpdate,
    DepartmentView,
)
from postdesk_schema import Department, DepartmentManager, EmailAccount, SlaPolicy, Ticket, User
from sqlalchemy import delete, exists
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from postdesk_gateway.admin_common import (
    audit_change,
    require_admin,
    snapshot,
    tenant_department,
)
from postdesk_gateway.domain import ConflictError, CurrentUser, UnprocessableError

OBJECT_TYPE: Final = "department"
AUDITED_FIELDS: Final = ("name", "description", "routing_strategy")
_REFERRERS: Final[tuple[tuple[str, type[SQLModel]], ...]] = (
    ("users", User),
    ("email accounts", EmailAccount),
    ("tickets", Ticket),
    ("SLA policies", SlaPolicy),
)


def _view(row: Department) -> DepartmentView:
    return DepartmentView.model_validate(row, from_attributes=True)


async def _commit(session: AsyncSession) -> None:
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise ConflictError("a department with this name already exists") from error


async def list_departments(session: AsyncSession, user: CurrentUser) -> DepartmentList:
    require_admin(user)
    rows = await session.scalars(
        select(Department)
        .where(col(Department.tenant_id) == user.tenant_id)
        .order_by(col(Department.name), col(Department.id))
    )
    return DepartmentList(items=[_view(row) for row in rows])


async def get_department(
    session: AsyncSession, user: CurrentUser, department_id: uuid.UUID
) -> DepartmentView:
    require_admin(user)
    return _view(await tenant_department(session, user, department_id))


async def create_department(
    session: AsyncSession, user: CurrentUser, data: DepartmentCreate, *, ip: str
) -> DepartmentView:
    require_admin(user)
    row = Department(tenant_id=user.tenant_id, **data.model_dump())
    session.add(row)
    audit_change(
        session,
        user,
        action="department.created",
        object_type=OBJECT_TYPE,
        object_id=row.id,
        ip=ip,
        new=snapshot(row, AUDITED_FIELDS),
    )
    await _commit(session)
    return _view(row)


async def update_department(
    session: AsyncSession,
    user: CurrentUser,
    department_id: uuid.UUID,
    data: DepartmentUpdate,
    *,
    ip: str,
) -> DepartmentView:
    require_admin(user)
    row = await tenant_department(session, user, department_id, lock=True)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    if any(value is None for value in changes.values()):
        raise UnprocessableError("department fields cannot be null")
    old = snapshot(row, changes)
    for name, value in changes.items():
        setattr(row, name, value)
    if changes:
        audit_change(
            session,
            user,
            action="department.updated",
            object_type=OBJECT_TYPE,
            object_id=row.id,
            ip=ip,
            old=old,
            new=snapshot(row, changes),
        )
    await _commit(session)
    return _view(row)


async def delete_department(
    session: AsyncSession, user: CurrentUser, department_id: uuid.UUID, *, ip: str
) -> None:
    require_admin(user)
    row = await tenant_department(session, user, department_id, lock=True)
    for label, table in _REFERRERS:
        department = getattr(table, "department_id")  # noqa: B009  # the same column on each table
        if await session.scalar(select(exists().where(col(department) == row.id))):
            raise ConflictError(f"{label} still belong to this department")
    old = snapshot(row, AUDITED_FIELDS)
    await session.execute(
        delete(DepartmentManager).where(col(DepartmentManager.department_id) == row.id)
    )
    await session.delete(row)
    audit_change(
        session,
        user,
        action="department.deleted",
        object_type=OBJECT_TYPE,
        object_id=department_id,
        ip=ip,
        old=old,
    )
    try:
        await session.commit()
    except IntegrityError as error:  # a user or mailbox joined it meanwhile
        await session.rollback()
        raise ConflictError("the department is still referred to") from error
