"""Admin: the SMTP servers a tenant's mail goes out through (tenant admins only).

The rules and storage are `postdesk_smtp.settings` (as for `postdesk smtp set|show`):
a save changes only the fields given, a first save needs a host, a refused setting is
a 422 with the library's reason. The password is write-only; answers and audit rows
say only whether one is stored. Another tenant's mailbox is a 404. Every change adds
one audit row in the transaction that makes it.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from postdesk_contracts.api_smtp import SmtpServerChange, SmtpServerView, SmtpSettingsView
from postdesk_runtime.keyring import Keyring
from postdesk_schema import EmailAccount, SmtpServer
from postdesk_smtp.settings import ServerChanges, SmtpSettingsError, find_server, save_server
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from postdesk_gateway.admin_common import audit_change, require_admin, tenant_account
from postdesk_gateway.domain import CurrentUser, UnprocessableError

OBJECT_TYPE: Final = "smtp_server"
_AUDITED: Final = (
    "host",
    "port",
    "security",
    "username",
    "from_domain",
    "timeout_seconds",
    "is_active",
)


def _view(row: SmtpServer, address: str | None = None) -> SmtpServerView:
    return SmtpServerView(
        account_id=row.account_id,
        account_address=address,
        host=row.host,
        port=row.port,
        security=row.security,
        username=row.username,
        has_password=bool(row.password_sealed),
        from_domain=row.from_domain,
        timeout_seconds=row.timeout_seconds,
        is_active=row.is_active,
        last_test_at=row.last_test_at,
        last_test_result=row.last_test_result,
    )


def _audited(row: SmtpServer) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(row, name) for name in _AUDITED}
    values["account_id"] = str(row.account_id) if row.account_id else None
    values["has_password"] = bool(row.password_sealed)
    return values


async def smtp_settings(session: AsyncSession, user: CurrentUser) -> SmtpSettingsView:
    require_admin(user, "see the SMTP settings")
    rows = (
        await session.execute(
            select(SmtpServer, col(EmailAccount.address))
            .outerjoin(EmailAccount, col(EmailAccount.id) == col(SmtpServer.account_id))
            .where(col(SmtpServer.tenant_id) == user.tenant_id)
            .order_by(col(SmtpServer.account_id).is_not(None), col(EmailAccount.address))
        )
    ).all()
    default = next((_view(row) for row, _ in rows if row.account_id is None), None)
    overrides = [_view(row, address) for row, address in rows if row.account_id is not None]
    return SmtpSettingsView(default=default, overrides=overrides)


async def save_smtp_server(
    session: AsyncSession,
    keyring: Keyring,
    user: CurrentUser,
    account_id: uuid.UUID | None,
    data: SmtpServerChange,
    *,
    ip: str,
) -> SmtpServerView:
    """Create or change the tenant default (`account_id` None) or a mailbox's override."""
    require_admin(user, "change the SMTP settings")
    address = None
    if account_id is not None:
        address = (await tenant_account(session, user, account_id)).address
    try:
        changes = ServerChanges(
            host=data.host,
            port=data.port,
            security=data.security,
            username=data.username,
            password=data.password,
            from_domain=data.from_domain,
            timeout=data.timeout_seconds,
            is_active=data.is_active,
        )
        current = await find_server(session, tenant_id=user.tenant_id, account_id=account_id)
        old = _audited(current) if current is not None else None
        row, created = await save_server(
            session, keyring, tenant_id=user.tenant_id, account_id=account_id, changes=changes
        )
    except SmtpSettingsError as error:
        await session.rollback()
        raise UnprocessableError(str(error)) from error
    new = _audited(row)
    if data.password is not None:
        new["password"] = "cleared" if data.password == "" else "changed"
    audit_change(
        session,
        user,
        action="smtp_server.created" if created else "smtp_server.updated",
        object_type=OBJECT_TYPE,
        object_id=row.id,
        ip=ip,
        old=old,
        new=new,
    )
    await session.commit()
    return _view(row, address)


async def delete_smtp_override(
    session: AsyncSession, user: CurrentUser, account_id: uuid.UUID, *, ip: str
) -> None:
    """Remove a mailbox's override (its mail then goes through the default); removing
    one that does not exist changes nothing."""
    require_admin(user, "change the SMTP settings")
    await tenant_account(session, user, account_id)
    current = await find_server(session, tenant_id=user.tenant_id, account_id=account_id)
    if current is None:
        return
    old = _audited(current)
    await session.execute(
        delete(SmtpServer).where(
            col(SmtpServer.tenant_id) == user.tenant_id,
            col(SmtpServer.account_id) == account_id,
        )
    )
    audit_change(
        session,
        user,
        action="smtp_server.deleted",
        object_type=OBJECT_TYPE,
        object_id=current.id,
        ip=ip,
        old=old,
    )
    await session.commit()
