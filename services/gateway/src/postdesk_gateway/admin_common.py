"""Rules every admin use case shares: who may act, what is another tenant's, audit rows.

Invariants:
- Only tenant admins act here (403 for anyone else).
- An id of another tenant's row is answered like an id that does not exist (404),
  in the path and in the body alike.
- Every write adds one audit row (action, object, old and new values) to the
  transaction that makes the change, so both commit or neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from postdesk_contracts.notify_prefs import PreferencesError, validate_preferences
from postdesk_contracts.schedule import Schedule, ScheduleError
from postdesk_schema import AssignmentRole, Department, EmailAccount, EmailAssignment, User
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from postdesk_gateway import db
from postdesk_gateway.domain import (
    CurrentUser,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    UnprocessableError,
)


def require_admin(user: CurrentUser, action: str = "use the admin API") -> None:
    """403 unless `user` is an admin of their tenant; `action` says what only admins do."""
    if not user.is_admin:
        raise ForbiddenError(f"only tenant admins {action}")


async def tenant_department(
    session: AsyncSession, user: CurrentUser, department_id: uuid.UUID, *, lock: bool = False
) -> Department:
    query = select(Department).where(
        col(Department.id) == department_id, col(Department.tenant_id) == user.tenant_id
    )
    found = (await session.scalars(query.with_for_update() if lock else query)).one_or_none()
    if found is None:
        raise NotFoundError("department not found")
    return found


async def tenant_user(
    session: AsyncSession, user: CurrentUser, user_id: uuid.UUID, *, lock: bool = False
) -> User:
    query = select(User).where(col(User.id) == user_id, col(User.tenant_id) == user.tenant_id)
    found = (await session.scalars(query.with_for_update() if lock else query)).one_or_none()
    if found is None:
        raise NotFoundError("user not found")
    return found


async def tenant_account(
    session: AsyncSession, user: CurrentUser, account_id: uuid.UUID, *, lock: bool = False
) -> EmailAccount:
    query = select(EmailAccount).where(
        col(EmailAccount.id) == account_id, col(EmailAccount.tenant_id) == user.tenant_id
    )
    found = (await session.scalars(query.with_for_update() if lock else query)).one_or_none()
    if found is None:
        raise NotFoundError("email account not found")
    return found


def checked_schedule(hours: Mapping[str, Any], timezone: str) -> None:
    """422 unless `hours` in `timezone` is a usable schedule (postdesk_contracts.schedule)."""
    try:
        Schedule.parse(hours, timezone)
    except ScheduleError as error:
        raise UnprocessableError(f"working hours: {error}") from error


def checked_preferences(value: Mapping[str, Any]) -> dict[str, dict[str, bool]]:
    try:
        return validate_preferences(value)
    except PreferencesError as error:
        raise UnprocessableError(f"notification preferences: {error}") from error


def snapshot(row: SQLModel, fields: Iterable[str]) -> dict[str, Any]:
    """The JSON-safe values of `fields` of `row`, for an audit row's old/new."""
    values: dict[str, Any] = {}
    for name in fields:
        value = getattr(row, name)
        values[name] = str(value) if isinstance(value, uuid.UUID) else value
    return values


def audit_change(
    session: AsyncSession,
    user: CurrentUser,
    *,
    action: str,
    object_type: str,
    object_id: uuid.UUID,
    ip: str,
    old: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
) -> None:
    detail: dict[str, Any] = {}
    if old is not None:
        detail["old"] = dict(old)
    if new is not None:
        detail["new"] = dict(new)
    db.audit(
        session,
        user,
        action=action,
        object_type=object_type,
        object_id=object_id,
        ip=ip,
        detail=detail,
    )


def add_owner_assignment(
    session: AsyncSession, user: CurrentUser, *, account_id: uuid.UUID, owner_id: uuid.UUID, ip: str
) -> EmailAssignment:
    """The owner's primary assignment on their mailbox (may send and delete), audited; the
    mailbox row must be flushed first."""
    assignment = EmailAssignment(
        tenant_id=user.tenant_id,
        account_id=account_id,
        user_id=owner_id,
        role=AssignmentRole.PRIMARY,
        can_send=True,
        can_delete=True,
        assigned_by=user.id,
    )
    session.add(assignment)
    audit_change(
        session,
        user,
        action="assignment.created",
        object_type="email_assignment",
        object_id=assignment.id,
        ip=ip,
        new={
            "account_id": str(account_id),
            "user_id": str(owner_id),
            "role": "primary",
            "can_send": True,
            "can_delete": True,
        },
    )
    return assignment


def plain_filter(value: str | None, name: str) -> str | None:
    """A text filter from the query string; 400 for a NUL character (PostgreSQL has none)."""
    if value is not None and "\x00" in value:
        raise InvalidRequestError(f"{name} must not contain NUL characters")
    return value
