"""Admin: the tenant's notification settings. Tenant admins only (403)."""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from postdesk_contracts.api_notification_settings import (
    NotificationSettings,
    NotificationSettingsUpdate,
)
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import notification_settings
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems


class NotificationSettingsController(Controller):
    path = "/admin/notification-settings"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401, 403))
    async def get_settings(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[CurrentUser]
    ) -> NotificationSettings:
        """Which mailbox notification emails and digests come from."""
        return await notification_settings.notification_settings(session, user)

    @put(responses=problems(400, 401, 403, 422))
    async def set_settings(
        self,
        data: JSONBody[NotificationSettingsUpdate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> NotificationSettings:
        """Send notification mail from this active mailbox of the tenant (null: the ticket's
        own mailbox)."""
        return await notification_settings.set_notification_settings(
            session, user, data, ip=client_ip
        )
