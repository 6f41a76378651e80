"""Admin: the tenant's users.

Invariants (besides those of `admin_common`):
- A user is never deleted, only deactivated; an admin cannot deactivate or
  demote themselves (the tenant would risk having no admin left).
- POST .../deactivate may hand the user's open tickets over (`ticket_handover`)
  in the deactivation's transaction; PATCH is_active=false keeps them, as before.
- Deactivating a user ends their sessions (refresh tokens revoked), so
  reactivating them later does not revive a session opened before.
- Logins and mailbox addresses are lower-cased and unique across tenants (409).
- Creating a user with `company_email` creates their personal mailbox and a
  primary assignment on it in the same transaction: all three or nothing.
- Passwords are stored only as argon2 hashes (`Passwords`); a generated
  initial password is returned once and never stored in the clear.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from postdesk_contracts.api_admin import (
    PasswordReset,
    PasswordResetDone,
    UserCreate,
    UserCreated,
    UserDeactivate,
    UserDeactivated,
    UserList,
    UserUpdate,
    UserView,
)
from postdesk_schema import (
    AccountKind,
    EmailAccount,
    TenantRole,
    User,
)
from sqlalchemy import exists, or_, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway import ticket_handover, tokens_db
from postdesk_gateway.access import weak_password_reason
from postdesk_gateway.admin_common import (
    add_owner_assignment,
    audit_change,
    checked_preferences,
    checked_schedule,
    plain_filter,
    require_admin,
    snapshot,
    tenant_department,
    tenant_user,
)
from postdesk_gateway.auth import Passwords
from postdesk_gateway.domain import (
    ConflictError,
    CurrentUser,
    KeyCursor,
    UnprocessableError,
    decode_key,
    encode_key,
)

OBJECT_TYPE: Final = "user"
INITIAL_PASSWORD_BYTES: Final = 18
AUDITED_FIELDS: Final = (
    "email",
    "full_name",
    "role",
    "department_id",
    "job_title",
    "email_signature",
    "timezone",
    "working_hours",
    "notification_preferences",
    "company_email",
    "is_active",
)


def _view(row: User) -> UserView:
    return UserView.model_validate(row, from_attributes=True)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_users(
    session: AsyncSession,
    user: CurrentUser,
    *,
    department_id: uuid.UUID | None,
    active: bool | None,
    search: str | None,
    limit: int,
    cursor: str | None,
) -> UserList:
    """The tenant's users, newest first, `limit` at a time."""
    require_admin(user)
    query = select(User).where(col(User.tenant_id) == user.tenant_id)
    if department_id is not None:
        query = query.where(col(User.department_id) == department_id)
    if active is not None:
        query = query.where(col(User.is_active).is_(active))
    if plain_filter(search, "search"):
        pattern = _like(str(search).strip())
        query = query.where(or_(col(User.full_name).ilike(pattern), col(User.email).ilike(pattern)))
    if cursor is not None:
        after = decode_key(cursor)
        query = query.where(tuple_(col(User.created_at), col(User.id)) < tuple_(after.at, after.id))
    rows = list(
        (
            await session.scalars(
                query.order_by(col(User.created_at).desc(), col(User.id).desc()).limit(limit + 1)
            )
        ).all()
    )
    page = rows[:limit]
    next_cursor = (
        encode_key(KeyCursor(page[-1].created_at, page[-1].id)) if len(rows) > limit else None
    )
    return UserList(items=[_view(row) for row in page], next_cursor=next_cursor)


async def get_user(session: AsyncSession, user: CurrentUser, user_id: uuid.UUID) -> UserView:
    require_admin(user)
    return _view(await tenant_user(session, user, user_id))


async def _refuse_taken_login(session: AsyncSession, email: str) -> None:
    if await session.scalar(select(exists().where(col(User.email) == email))):
        raise ConflictError("a user with this login already exists")


async def _refuse_taken_address(session: AsyncSession, address: str) -> None:
    if await session.scalar(select(exists().where(col(EmailAccount.address) == address))):
        raise ConflictError("this email address already belongs to a mailbox")


async def create_user(
    session: AsyncSession, passwords: Passwords, user: CurrentUser, data: UserCreate, *, ip: str
) -> UserCreated:
    require_admin(user)
    email = data.email.strip().lower()
    company_email = data.company_email.strip().lower() if data.company_email else None
    checked_schedule(data.working_hours, data.timezone)
    preferences = checked_preferences(data.notification_preferences)
    if data.department_id is not None:
        await tenant_department(session, user, data.department_id)
    await _refuse_taken_login(session, email)
    if company_email is not None:
        await _refuse_taken_address(session, company_email)
    initial_password = None if data.password else secrets.token_urlsafe(INITIAL_PASSWORD_BYTES)
    new_user = User(
        tenant_id=user.tenant_id,
        email=email,
        password_hash=await passwords.hash(data.password or str(initial_password)),
        full_name=data.full_name,
        role=TenantRole(data.role),
        company_email=company_email,
        department_id=data.department_id,
        email_signature=data.email_signature,
        job_title=data.job_title,
        timezone=data.timezone,
        working_hours=data.working_hours,
        notification_preferences=preferences,
    )
    session.add(new_user)
    audit_change(
        session,
        user,
        action="user.created",
        object_type=OBJECT_TYPE,
        object_id=new_user.id,
        ip=ip,
        new=snapshot(new_user, AUDITED_FIELDS),
    )
    account = None
    if company_email is not None:
        account = await _add_personal_account(session, user, new_user, company_email, ip=ip)
    try:
        await session.commit()
    except IntegrityError as error:  # a concurrent create took the login or the address
        await session.rollback()
        raise ConflictError("the login or the company email address is already taken") from error
    view = _view(new_user)
    return UserCreated(
        **view.model_dump(),
        initial_password=initial_password,
        personal_account_id=account.id if account else None,
    )


async def _add_personal_account(
    session: AsyncSession, user: CurrentUser, owner: User, address: str, *, ip: str
) -> EmailAccount:
    """The owner's personal mailbox and their primary assignment on it, both audited."""
    account = EmailAccount(
        tenant_id=user.tenant_id,
        address=address,
        display_name=owner.full_name,
        kind=AccountKind.PERSONAL,
        department_id=owner.department_id,
        owner_user_id=owner.id,
        signature=owner.email_signature,
        timezone=owner.timezone,
        working_hours=owner.working_hours,
    )
    await session.flush()  # the user row first: the mailbox refers to it
    session.add(account)
    await session.flush()
    audit_change(
        session,
        user,
        action="account.created",
        object_type="email_account",
        object_id=account.id,
        ip=ip,
        new={"address": address, "kind": "personal", "owner_user_id": str(owner.id)},
    )
    add_owner_assignment(session, user, account_id=account.id, owner_id=owner.id, ip=ip)
    return account


async def update_user(
    session: AsyncSession, user: CurrentUser, user_id: uuid.UUID, data: UserUpdate, *, ip: str
) -> UserView:
    require_admin(user)
    target = await tenant_user(session, user, user_id, lock=True)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    if target.id == user.id and (
        changes.get("is_active") is False or changes.get("role", "admin") != "admin"
    ):
        raise UnprocessableError("you cannot deactivate or demote yourself")
    for required in ("full_name", "role", "timezone", "is_active", "job_title"):
        if required in changes and changes[required] is None:
            raise UnprocessableError(f"{required} cannot be null")
    for text_field in ("email_signature",):
        if text_field in changes and changes[text_field] is None:
            changes[text_field] = ""
    if "working_hours" in changes or "timezone" in changes:
        hours = changes.get("working_hours")
        checked_schedule(
            target.working_hours if hours is None else hours,
            changes.get("timezone") or target.timezone,
        )
        if hours is None:
            changes.pop("working_hours", None)
    if "notification_preferences" in changes:
        prefs = changes["notification_preferences"]
        changes["notification_preferences"] = checked_preferences(prefs if prefs else {})
    if changes.get("department_id") is not None:
        await tenant_department(session, user, changes["department_id"])
    if "role" in changes:
        changes["role"] = TenantRole(changes["role"])
    old = snapshot(target, changes)
    if target.is_active and changes.get("is_active") is False:
        await tokens_db.revoke_user_refresh_tokens(session, target.id, datetime.now(UTC))
    for name, value in changes.items():
        setattr(target, name, value)
    if changes:
        audit_change(
            session,
            user,
            action="user.updated",
            object_type=OBJECT_TYPE,
            object_id=target.id,
            ip=ip,
            old=old,
            new=snapshot(target, changes),
        )
    await session.commit()
    return _view(target)


async def deactivate_user(
    session: AsyncSession,
    user: CurrentUser,
    user_id: uuid.UUID,
    data: UserDeactivate,
    *,
    ip: str,
    wake_relay: Callable[[], None],
) -> UserDeactivated:
    """Deactivate a user: they are locked out at once (every request loads the active user),
    and their open tickets are kept, unassigned or reassigned as `data` says
    (`ticket_handover`), all in one transaction. Deactivating an inactive user changes
    nothing (their tickets included) and writes no audit row."""
    require_admin(user)
    if user_id == user.id:
        raise UnprocessableError("you cannot deactivate yourself")
    target = await tenant_user(session, user, user_id, lock=True)
    if not target.is_active:
        return UserDeactivated(**_view(target).model_dump())
    now = datetime.now(UTC)
    moved = await ticket_handover.hand_over_open_tickets(
        session, user, target, data.open_tickets, data.reassign_to, ip=ip, now=now
    )
    target.is_active = False
    await tokens_db.revoke_user_refresh_tokens(session, target.id, now)
    audit_change(
        session,
        user,
        action="user.deactivated",
        object_type=OBJECT_TYPE,
        object_id=target.id,
        ip=ip,
        old={"is_active": True},
        new={
            "is_active": False,
            "open_tickets": data.open_tickets,
            "reassign_to": str(data.reassign_to) if data.reassign_to else None,
            "tickets_changed": moved,
        },
    )
    await session.commit()
    if moved:
        wake_relay()
    reassigned = moved if data.open_tickets == "reassign" else 0
    return UserDeactivated(
        **_view(target).model_dump(),
        tickets_reassigned=reassigned,
        tickets_unassigned=moved - reassigned,
    )


async def reset_password(
    session: AsyncSession,
    passwords: Passwords,
    user: CurrentUser,
    user_id: uuid.UUID,
    data: PasswordReset,
    *,
    ip: str,
) -> PasswordResetDone:
    """Give a user a new password (the admin's, or a generated one answered once), end every
    session of theirs (refresh tokens revoked, access tokens issued before now refused) and
    lift a lockout. Admins change their own through /me/password, which asks the current one."""
    require_admin(user)
    if user_id == user.id:
        raise UnprocessableError("change your own password with POST /me/password")
    target = await tenant_user(session, user, user_id, lock=True)
    temporary = None if data.password else secrets.token_urlsafe(INITIAL_PASSWORD_BYTES)
    new_password = data.password or str(temporary)
    reason = weak_password_reason(new_password, current="", login=target.email)
    if reason is not None:
        raise UnprocessableError(reason)
    now = datetime.now(UTC)
    target.password_hash = await passwords.hash(new_password)
    target.password_changed_at = now
    target.failed_login_count = 0
    target.locked_until = None
    await tokens_db.revoke_user_refresh_tokens(session, target.id, now)
    audit_change(
        session,
        user,
        action="user.password_reset",
        object_type=OBJECT_TYPE,
        object_id=target.id,
        ip=ip,
        new={"generated": temporary is not None},
    )
    await session.commit()
    return PasswordResetDone(user_id=target.id, temporary_password=temporary)
