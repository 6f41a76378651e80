"""Outbound mail after it was requested: undo before it goes."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Controller, post
from litestar.di import NamedDependency
from postdesk_contracts.api import OutboundCancelResult
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import service
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import OutboundId


class OutboundController(Controller):
    path = "/outbound"
    tags = ["outbound"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @post(
        "/{outbound_id:uuid}/cancel",
        status_code=200,
        responses=problems(401, 403, 404, 409),
    )
    async def cancel(
        self,
        outbound_id: OutboundId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        wake_relay: NamedDependency[Callable[[], None]],
    ) -> OutboundCancelResult:
        """Undo a mail you requested (a tenant admin: any) while it waits for its send time;
        409 once it is being sent."""
        return await service.cancel_outbound(
            session, user, outbound_id, ip=client_ip, wake_relay=wake_relay
        )
