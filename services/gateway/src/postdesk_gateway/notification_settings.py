"""The tenant's notification settings: which mailbox notification mail comes from.

The notifier reads tenants.settings["notifications_from_account_id"] for
notification emails and digests; an account that is not the tenant's, or is
deactivated, is refused here (422), so the notifier never meets one.
"""

from __future__ import annotations

from postdesk_contracts.api_notification_settings import (
    FROM_ACCOUNT_SETTING,
    NotificationSettings,
    NotificationSettingsUpdate,
)
from postdesk_schema import EmailAccount, Tenant
from sqlalchemy import literal, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from postdesk_gateway.admin_common import audit_change, require_admin
from postdesk_gateway.domain import CurrentUser, UnprocessableError


async def notification_settings(session: AsyncSession, user: CurrentUser) -> NotificationSettings:
    require_admin(user)
    settings = (
        await session.scalars(select(col(Tenant.settings)).where(col(Tenant.id) == user.tenant_id))
    ).one()
    return NotificationSettings(from_account_id=settings.get(FROM_ACCOUNT_SETTING))


async def set_notification_settings(
    session: AsyncSession, user: CurrentUser, wanted: NotificationSettingsUpdate, *, ip: str
) -> NotificationSettings:
    """Store the sending mailbox (an active account of the tenant) or clear it."""
    old = await notification_settings(session, user)
    if wanted.from_account_id is not None:
        active = await session.scalar(
            select(col(EmailAccount.is_active)).where(
                col(EmailAccount.id) == wanted.from_account_id,
                col(EmailAccount.tenant_id) == user.tenant_id,
            )
        )
        if not active:
            raise UnprocessableError("from_account_id: not an active mailbox of this tenant")
    value = str(wanted.from_account_id) if wanted.from_account_id else None
    await session.execute(
        update(Tenant)
        .where(col(Tenant.id) == user.tenant_id)
        .values(
            settings=col(Tenant.settings).op("||")(literal({FROM_ACCOUNT_SETTING: value}, JSONB))
        )
    )
    audit_change(
        session,
        user,
        action="notification_settings.changed",
        object_type="tenant",
        object_id=user.tenant_id,
        ip=ip,
        old={"from_account_id": str(old.from_account_id) if old.from_account_id else None},
        new={"from_account_id": value},
    )
    await session.commit()
    return NotificationSettings(from_account_id=wanted.from_account_id)
