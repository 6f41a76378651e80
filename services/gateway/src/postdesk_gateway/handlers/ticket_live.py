"""The ticket view's live updates: presence heartbeats and the ticket's event stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from postdesk_contracts.api_ticket_live import PresenceRequest, TicketChanged, TicketPresence
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import ticket_live
from postdesk_gateway.auth import ACCESS_TOKEN_PARAMETER, TOKEN_IN_QUERY, TokenClaims
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import TicketId
from postdesk_gateway.live import Heartbeat
from postdesk_gateway.ticket_live import TicketStreams

RECONNECT_MILLISECONDS = 3000


class TicketLiveController(Controller):
    path = "/tickets/{ticket_id:uuid}"
    tags = ["tickets"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @post("/presence", status_code=204, responses=problems(400, 401, 404))
    async def presence(
        self,
        ticket_id: TicketId,
        data: JSONBody[PresenceRequest],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> None:
        """Say you are viewing or replying to the ticket (repeat every ~20 seconds: it
        lapses after ~45 without a repeat), or that you left. The others' streams show it."""
        await ticket_live.set_presence(session, user, ticket_id, data.state)

    @get("/events", opt=TOKEN_IN_QUERY, responses=problems(400, 401, 404))
    async def events(
        self,
        ticket_id: TicketId,
        request: Request[CurrentUser, TokenClaims, State],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        ticket_streams: NamedDependency[TicketStreams],
        access_token: Annotated[
            str | None,
            QueryParameter(
                name=ACCESS_TOKEN_PARAMETER,
                description="the bearer token, for EventSource clients that cannot send the "
                "Authorization header (the event streams only)",
            ),
        ] = None,
    ) -> ServerSentEvent:
        """Server-sent events of one ticket: `presence` (data: the other users viewing or
        replying now, never you; sent at once and whenever it changes) and `ticket` (data:
        what changed; read the ticket again). A comment every ~20 seconds keeps a quiet
        stream open; it ends when your token expires or the server shuts down."""
        await ticket_live.require_visible(session, user, ticket_id)
        await session.rollback()  # hold no transaction (nor connection) while streaming
        events = ticket_streams.events(user, ticket_id, until=request.auth.expires_at)
        return ServerSentEvent(_messages(events))


async def _messages(
    events: AsyncIterator[TicketPresence | TicketChanged | Heartbeat],
) -> AsyncIterator[ServerSentEventMessage]:
    yield ServerSentEventMessage(data=None, comment="connected", retry=RECONNECT_MILLISECONDS)
    async for item in events:
        if isinstance(item, Heartbeat):
            yield ServerSentEventMessage(data=None, comment="keep-alive")
        elif isinstance(item, TicketPresence):
            yield ServerSentEventMessage(event="presence", data=item.model_dump_json())
        else:
            yield ServerSentEventMessage(event="ticket", data=item.model_dump_json())
