"""The inbox: ticket lists, ticket detail and history, agent changes, replies, new mail."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from postdesk_contracts.api import (
    ComposeAccepted,
    ComposeRequest,
    ReplyAccepted,
    ReplyRequest,
    TicketDetail,
    TicketHistoryList,
    TicketPage,
    TicketUpdate,
    TicketUpdateResult,
)
from postdesk_runtime import ThreadTokens
from postdesk_schema import TicketStatus
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import compose, service
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.uploads import Uploads

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=IDEMPOTENCY_KEY_HEADER,
        description="makes a retry safe: the same key gives the same outbound_id "
        "and queues nothing twice",
    ),
]


class TicketController(Controller):
    path = "/tickets"
    tags = ["tickets"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(400, 401))
    async def list_tickets(
        self,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        status: FromQuery[TicketStatus | None] = None,
        account_id: FromQuery[uuid.UUID | None] = None,
        assigned_to_me: FromQuery[bool] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> TicketPage:
        """Tickets you can see, latest activity first; follow `next_cursor` for more."""
        query = service.TicketQuery(status, account_id, assigned_to_me, limit, cursor)
        return await service.list_tickets(session, user, query)

    @post(status_code=201, responses=problems(400, 401, 403, 404, 413, 422, 429))
    async def compose(
        self,
        data: JSONBody[ComposeRequest],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        wake_relay: NamedDependency[Callable[[], None]],
        thread_tokens: NamedDependency[ThreadTokens],
        uploads: NamedDependency[Uploads],
        idempotency_key: IdempotencyKey = None,
    ) -> ComposeAccepted:
        """Write to a customer from a mailbox you may send from (needs can_send): opens a
        ticket at once, pending on the customer and assigned to you, and queues the mail.

        The first `to` recipient is the ticket's customer. The mail goes at
        `send_at` (the requested time, or after the tenant's undo window) and
        can be undone until then at `undo_url`; the ticket stays."""
        return await compose.compose_ticket(
            session,
            user,
            data,
            idempotency_key=idempotency_key,
            ip=client_ip,
            wake_relay=wake_relay,
            thread_tokens=thread_tokens,
            uploads=uploads,
        )

    @get("/{ticket_id:uuid}", responses=problems(400, 401, 404))
    async def get_ticket(
        self,
        ticket_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> TicketDetail:
        """One ticket with its messages, oldest first. Every read is audit-logged."""
        return await service.read_ticket(session, user, ticket_id, ip=client_ip)

    @get("/{ticket_id:uuid}/history", responses=problems(400, 401, 404))
    async def get_history(
        self,
        ticket_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> TicketHistoryList:
        """What happened to the ticket and why, oldest first: which rule matched each
        message (or why none did), which rule assigned it, agent changes. Audit-logged."""
        return await service.ticket_history(session, user, ticket_id, ip=client_ip)

    @patch("/{ticket_id:uuid}", responses=problems(400, 401, 403, 404))
    async def update_ticket(
        self,
        ticket_id: FromPath[uuid.UUID],
        data: JSONBody[TicketUpdate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        wake_relay: NamedDependency[Callable[[], None]],
    ) -> TicketUpdateResult:
        """Set the ticket's status or priority (needs can_send); publishes ticket.updated
        when something changed."""
        return await service.update_ticket(
            session, user, ticket_id, data, ip=client_ip, wake_relay=wake_relay
        )

    @post(
        "/{ticket_id:uuid}/replies",
        status_code=202,
        responses=problems(400, 401, 403, 404, 413, 422, 429),
    )
    async def reply(
        self,
        ticket_id: FromPath[uuid.UUID],
        data: JSONBody[ReplyRequest],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        wake_relay: NamedDependency[Callable[[], None]],
        thread_tokens: NamedDependency[ThreadTokens],
        uploads: NamedDependency[Uploads],
        idempotency_key: IdempotencyKey = None,
    ) -> ReplyAccepted:
        """Queue a reply to the customer from the ticket's mailbox (needs can_send).

        It goes at `send_at` (the requested time, or after the tenant's undo
        window) and can be undone until then at `undo_url`."""
        return await service.request_reply(
            session,
            user,
            ticket_id,
            data,
            idempotency_key=idempotency_key,
            ip=client_ip,
            wake_relay=wake_relay,
            thread_tokens=thread_tokens,
            uploads=uploads,
        )
