"""The caller's in-app notifications."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from postdesk_contracts.api import NotificationList
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import service
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems


class NotificationController(Controller):
    path = "/notifications"
    tags = ["notifications"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(400, 401))
    async def list_notifications(
        self,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
    ) -> NotificationList:
        """Your notifications, newest first."""
        return await service.notifications(session, user, limit=limit)
