"""Admin: the tenant's mailboxes (shared and personal), with their statistics.

Invariants (besides those of `admin_common`):
- Addresses are lower-cased and unique across tenants (409).
- A personal mailbox has an owner of the tenant, who becomes its primary in
  the same transaction; a shared one has no owner.
- Working hours are a usable schedule in the mailbox's timezone (422).
- A mailbox is never deleted, only deactivated.
- The statistics of the whole list come from one grouped query over tickets
  (the inbox index `ix_tickets_account_inbox` leads with tenant and account);
  deleted tickets are not counted.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from postdesk_contracts.api_admin import (
    AccountCreate,
    AccountList,
    AccountStats,
    AccountUpdate,
    AccountView,
    AccountWithStats,
)
from postdesk_schema import AccountKind, EmailAccount, Ticket
from sqlalchemy import exists, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway.admin_common import (
    add_owner_assignment,
    audit_change,
    checked_schedule,
    require_admin,
    snapshot,
    tenant_account,
    tenant_department,
    tenant_user,
)
from postdesk_gateway.domain import ConflictError, CurrentUser, UnprocessableError

OBJECT_TYPE: Final = "email_account"
WEEK: Final = timedelta(days=7)
RESPONSE_WINDOW: Final = timedelta(days=30)
# Settings the API may set to null to switch them off; every other one needs a value.
_NULLABLE: Final = frozenset({"department_id", "subject_match_days", "reassign_after_minutes"})
AUDITED_FIELDS: Final = (
    "address",
    "kind",
    "owner_user_id",
    *AccountUpdate.model_fields,
)


def _view(row: EmailAccount) -> AccountView:
    return AccountView.model_validate(row, from_attributes=True)


async def _stats(
    session: AsyncSession, user: CurrentUser, account_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, AccountStats]:
    """Statistics per mailbox, in one grouped query."""
    if not account_ids:
        return {}
    week_ago, window_start = now - WEEK, now - RESPONSE_WINDOW
    query = (
        select(
            col(Ticket.account_id),
            func.count().filter(col(Ticket.status) == "open"),
            func.count().filter(col(Ticket.created_at) >= week_ago),
            func.avg(col(Ticket.response_minutes)).filter(col(Ticket.created_at) >= window_start),
        )
        .where(
            col(Ticket.tenant_id) == user.tenant_id,
            col(Ticket.account_id).in_(account_ids),
            col(Ticket.deleted_at).is_(None),
        )
        .group_by(col(Ticket.account_id))
    )
    found: dict[uuid.UUID, AccountStats] = {}
    for account_id, open_count, week_count, average in (await session.execute(query)).all():
        found[account_id] = AccountStats(
            open_tickets=open_count,
            tickets_this_week=week_count,
            avg_first_response_minutes=round(float(average), 1) if average is not None else None,
        )
    return found


_NO_TICKETS: Final = AccountStats(
    open_tickets=0, tickets_this_week=0, avg_first_response_minutes=None
)


async def list_accounts(session: AsyncSession, user: CurrentUser) -> AccountList:
    require_admin(user)
    rows = list(
        (
            await session.scalars(
                select(EmailAccount)
                .where(col(EmailAccount.tenant_id) == user.tenant_id)
                .order_by(col(EmailAccount.address))
            )
        ).all()
    )
    stats = await _stats(session, user, [row.id for row in rows], datetime.now(UTC))
    return AccountList(
        items=[
            AccountWithStats(**_view(row).model_dump(), stats=stats.get(row.id, _NO_TICKETS))
            for row in rows
        ]
    )


async def get_account(
    session: AsyncSession, user: CurrentUser, account_id: uuid.UUID
) -> AccountWithStats:
    require_admin(user)
    row = await tenant_account(session, user, account_id)
    stats = await _stats(session, user, [row.id], datetime.now(UTC))
    return AccountWithStats(**_view(row).model_dump(), stats=stats.get(row.id, _NO_TICKETS))


async def _checked_settings(
    session: AsyncSession, user: CurrentUser, changes: dict[str, Any], current: EmailAccount | None
) -> None:
    for name, value in changes.items():
        if value is None and name not in _NULLABLE:
            raise UnprocessableError(f"{name} cannot be null")
    if changes.get("department_id") is not None:
        await tenant_department(session, user, changes["department_id"])
    if "working_hours" in changes or "timezone" in changes:
        checked_schedule(
            changes.get("working_hours", current.working_hours if current else {}),
            changes.get("timezone", current.timezone if current else "UTC"),
        )


async def create_account(
    session: AsyncSession, user: CurrentUser, data: AccountCreate, *, ip: str
) -> AccountView:
    require_admin(user)
    address = data.address.strip().lower()
    settings = {
        name: getattr(data, name)
        for name in data.model_fields_set
        if name not in {"address", "kind", "owner_user_id"}
    }
    await _checked_settings(session, user, settings, None)
    if data.kind == "personal":
        if data.owner_user_id is None:
            raise UnprocessableError("a personal mailbox needs owner_user_id")
        await tenant_user(session, user, data.owner_user_id)
    elif data.owner_user_id is not None:
        raise UnprocessableError("a shared mailbox has no owner")
    if await session.scalar(select(exists().where(col(EmailAccount.address) == address))):
        raise ConflictError("this email address already belongs to a mailbox")
    row = EmailAccount(
        tenant_id=user.tenant_id,
        address=address,
        kind=AccountKind(data.kind),
        owner_user_id=data.owner_user_id,
        **settings,
    )
    session.add(row)
    audit_change(
        session,
        user,
        action="account.created",
        object_type=OBJECT_TYPE,
        object_id=row.id,
        ip=ip,
        new=snapshot(row, AUDITED_FIELDS),
    )
    if data.owner_user_id is not None:
        await session.flush()
        add_owner_assignment(session, user, account_id=row.id, owner_id=data.owner_user_id, ip=ip)
    try:
        await session.commit()
    except IntegrityError as error:  # a concurrent create took the address
        await session.rollback()
        raise ConflictError("this email address already belongs to a mailbox") from error
    return _view(row)


async def update_account(
    session: AsyncSession, user: CurrentUser, account_id: uuid.UUID, data: AccountUpdate, *, ip: str
) -> AccountView:
    require_admin(user)
    row = await tenant_account(session, user, account_id, lock=True)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    await _checked_settings(session, user, changes, row)
    return await _apply(session, user, row, changes, action="account.updated", ip=ip)


async def deactivate_account(
    session: AsyncSession, user: CurrentUser, account_id: uuid.UUID, *, ip: str
) -> AccountView:
    """Stop receiving and sending for the mailbox; its tickets and assignments stay."""
    require_admin(user)
    row = await tenant_account(session, user, account_id, lock=True)
    changes = {"is_active": False} if row.is_active else {}
    return await _apply(session, user, row, changes, action="account.deactivated", ip=ip)


async def _apply(
    session: AsyncSession,
    user: CurrentUser,
    row: EmailAccount,
    changes: dict[str, Any],
    *,
    action: str,
    ip: str,
) -> AccountView:
    old = snapshot(row, changes)
    for name, value in changes.items():
        setattr(row, name, value)
    if changes:
        audit_change(
            session,
            user,
            action=action,
            object_type=OBJECT_TYPE,
            object_id=row.id,
            ip=ip,
            old=old,
            new=snapshot(row, changes),
        )
    await session.commit()
    return _view(row)
