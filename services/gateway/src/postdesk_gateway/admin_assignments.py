"""Admin: who may use which mailbox, in which role, with which rights.

Invariants (besides those of `admin_common`):
- One assignment per (mailbox, user); the mailbox and the user are the tenant's.
- A viewer is read-only: it never has can_send or can_delete (422), whatever
  the order of the changes that would lead there.
- Removing an assignment sets is_active false rather than deleting the row: the
  row keeps who assigned it and its notes, the audit log points at an id
  that still exists, and adding the user again restores it with new values.
- Every change is a permission change: its audit row holds the old and the
  new values of what changed.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from postdesk_contracts.api_admin import (
    AssignmentCreate,
    AssignmentList,
    AssignmentUpdate,
    AssignmentView,
)
from postdesk_schema import AssignmentRole, EmailAssignment
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway.admin_common import (
    audit_change,
    require_admin,
    snapshot,
    tenant_account,
    tenant_user,
)
from postdesk_gateway.domain import ConflictError, CurrentUser, NotFoundError, UnprocessableError

OBJECT_TYPE: Final = "email_assignment"
RIGHTS: Final = (
    "role",
    "can_send",
    "can_receive",
    "can_delete",
    "can_assign_others",
    "notify_on_receive",
    "notify_on_reply",
    "notify_on_mention",
    "priority",
    "notes",
    "is_active",
)


def _view(row: EmailAssignment) -> AssignmentView:
    return AssignmentView.model_validate(row, from_attributes=True)


def _refuse_writing_viewer(row: EmailAssignment) -> None:
    if row.role == AssignmentRole.VIEWER and (row.can_send or row.can_delete):
        raise UnprocessableError("a viewer is read-only: can_send and can_delete must be false")


async def _assignment(
    session: AsyncSession, user: CurrentUser, assignment_id: uuid.UUID
) -> EmailAssignment:
    require_admin(user)
    found = (
        await session.scalars(
            select(EmailAssignment)
            .where(
                col(EmailAssignment.id) == assignment_id,
                col(EmailAssignment.tenant_id) == user.tenant_id,
            )
            .with_for_update()
        )
    ).one_or_none()
    if found is None:
        raise NotFoundError("assignment not found")
    return found


async def _listed(
    session: AsyncSession,
    user: CurrentUser,
    *,
    account_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> AssignmentList:
    query = select(EmailAssignment).where(col(EmailAssignment.tenant_id) == user.tenant_id)
    if account_id is not None:
        query = query.where(col(EmailAssignment.account_id) == account_id)
    if user_id is not None:
        query = query.where(col(EmailAssignment.user_id) == user_id)
    rows = await session.scalars(
        query.order_by(
            col(EmailAssignment.is_active).desc(),
            col(EmailAssignment.priority),
            col(EmailAssignment.created_at),
            col(EmailAssignment.id),
        )
    )
    return AssignmentList(items=[_view(row) for row in rows])


async def account_assignments(
    session: AsyncSession, user: CurrentUser, account_id: uuid.UUID
) -> AssignmentList:
    require_admin(user)
    await tenant_account(session, user, account_id)
    return await _listed(session, user, account_id=account_id)


async def user_assignments(
    session: AsyncSession, user: CurrentUser, user_id: uuid.UUID
) -> AssignmentList:
    require_admin(user)
    await tenant_user(session, user, user_id)
    return await _listed(session, user, user_id=user_id)


def _initial_rights(data: AssignmentCreate) -> dict[str, Any]:
    rights = data.model_dump(exclude={"account_id", "user_id"})
    if data.can_send is None:
        rights["can_send"] = data.role != "viewer"
    if data.can_delete is None:
        rights["can_delete"] = data.role == "primary"
    rights["role"] = AssignmentRole(data.role)
    rights["is_active"] = True
    return rights


async def add_assignment(
    session: AsyncSession, user: CurrentUser, data: AssignmentCreate, *, ip: str
) -> AssignmentView:
    """A new assignment, or a removed one restored with the given values; 409 while the user
    already holds an active one on the mailbox."""
    require_admin(user)
    await tenant_account(session, user, data.account_id, lock=True)
    await tenant_user(session, user, data.user_id)
    rights = _initial_rights(data)
    row = (
        await session.scalars(
            select(EmailAssignment).where(
                col(EmailAssignment.account_id) == data.account_id,
                col(EmailAssignment.user_id) == data.user_id,
            )
        )
    ).one_or_none()
    if row is not None and row.is_active:
        raise ConflictError("the user already has an assignment on this mailbox: change it")
    old = snapshot(row, RIGHTS) if row is not None else None
    if row is None:
        row = EmailAssignment(
            tenant_id=user.tenant_id,
            account_id=data.account_id,
            user_id=data.user_id,
            assigned_by=user.id,
            **rights,
        )
        session.add(row)
    else:
        for name, value in rights.items():
            setattr(row, name, value)
        row.assigned_by = user.id
    _refuse_writing_viewer(row)
    audit_change(
        session,
        user,
        action="assignment.created" if old is None else "assignment.restored",
        object_type=OBJECT_TYPE,
        object_id=row.id,
        ip=ip,
        old=old,
        new={
            "account_id": str(row.account_id),
            "user_id": str(row.user_id),
            **snapshot(row, RIGHTS),
        },
    )
    try:
        await session.commit()
    except IntegrityError as error:  # a concurrent add for the same user and mailbox won
        await session.rollback()
        raise ConflictError("the user already has an assignment on this mailbox") from error
    return _view(row)


async def change_assignment(
    session: AsyncSession,
    user: CurrentUser,
    assignment_id: uuid.UUID,
    data: AssignmentUpdate,
    *,
    ip: str,
) -> AssignmentView:
    row = await _assignment(session, user, assignment_id)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    if any(value is None for value in changes.values()):
        raise UnprocessableError("assignment fields cannot be null")
    if "role" in changes:
        changes["role"] = AssignmentRole(changes["role"])
    return await _apply(session, user, row, changes, action="assignment.updated", ip=ip)


async def remove_assignment(
    session: AsyncSession, user: CurrentUser, assignment_id: uuid.UUID, *, ip: str
) -> AssignmentView:
    """Take the user's rights on the mailbox away (is_active false); again: no change."""
    row = await _assignment(session, user, assignment_id)
    changes = {"is_active": False} if row.is_active else {}
    return await _apply(session, user, row, changes, action="assignment.removed", ip=ip)


async def _apply(
    session: AsyncSession,
    user: CurrentUser,
    row: EmailAssignment,
    changes: dict[str, Any],
    *,
    action: str,
    ip: str,
) -> AssignmentView:
    old = snapshot(row, changes)
    for name, value in changes.items():
        setattr(row, name, value)
    _refuse_writing_viewer(row)
    if changes:
        audit_change(
            session,
            user,
            action=action,
            object_type=OBJECT_TYPE,
            object_id=row.id,
            ip=ip,
            old={"account_id": str(row.account_id), "user_id": str(row.user_id), **old},
            new=snapshot(row, changes),
        )
    await session.commit()
    return _view(row)
