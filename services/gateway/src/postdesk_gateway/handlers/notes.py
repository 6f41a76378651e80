"""Internal notes on a ticket, with @mentions."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from postdesk_contracts.api import NoteList, NoteRequest, NoteView
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import notes
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import TicketId


class NoteController(Controller):
    path = "/tickets/{ticket_id:uuid}/notes"
    tags = ["tickets"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(400, 401, 404))
    async def list_notes(
        self,
        ticket_id: TicketId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> NoteList:
        """The ticket's internal notes, oldest first (whoever sees the ticket). Audit-logged."""
        return await notes.list_notes(session, user, ticket_id, ip=client_ip)

    @post(status_code=201, responses=problems(400, 401, 403, 404, 422))
    async def add_note(
        self,
        ticket_id: TicketId,
        data: JSONBody[NoteRequest],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        wake_relay: NamedDependency[Callable[[], None]],
    ) -> NoteView:
        """Write an internal note (not as a viewer); it publishes ticket.note_added, and the
        users it @mentions are notified. 422 when a mention matches several users (write the
        full address), a deactivated user, or one who cannot see the ticket."""
        return await notes.add_note(
            session, user, ticket_id, data, ip=client_ip, wake_relay=wake_relay
        )
