"""The colleagues on a ticket's mailbox, for whoever sees the ticket."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from postdesk_contracts.api_staff import StaffList
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import ticket_staff
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import TicketId


class TicketStaffController(Controller):
    path = "/tickets/{ticket_id:uuid}/staff"
    tags = ["tickets"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(400, 401, 404))
    async def list_ticket_staff(
        self,
        ticket_id: TicketId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> StaffList:
        """The active users who work or see the ticket's mailbox (an active assignment, any
        role) and the tenant's admins, by full name (whoever sees the ticket): names for the
        assignee choice, @mentions and note authors without the admin-only user list.
        `can_be_assignee` is what PATCH /tickets/{ticket_id} accepts as `assignee_id`,
        `mentionable` what a note's @mention accepts. Deactivated users are never listed."""
        return await ticket_staff.ticket_staff(session, user, ticket_id)
