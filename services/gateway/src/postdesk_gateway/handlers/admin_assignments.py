"""Admin: assignments of users to mailboxes. Tenant admins only (403); another tenant's ids
are 404."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from postdesk_contracts.api_admin import (
    AssignmentCreate,
    AssignmentList,
    AssignmentUpdate,
    AssignmentView,
)
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import admin_assignments
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import AssignmentId, UserId


class AssignmentAdminController(Controller):
    path = "/admin"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get("/users/{user_id:uuid}/assignments", responses=problems(400, 401, 403, 404))
    async def user_assignments(
        self,
        user_id: UserId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> AssignmentList:
        """The user's mailboxes (removed assignments too, after the active ones)."""
        return await admin_assignments.user_assignments(session, user, user_id)

    @post("/assignments", status_code=201, responses=problems(400, 401, 403, 404, 409, 422))
    async def add_assignment(
        self,
        data: JSONBody[AssignmentCreate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> AssignmentView:
        """Give a user a role on a mailbox (409 while they hold an active one; a removed one
        is restored). A viewer with can_send or can_delete is 422."""
        return await admin_assignments.add_assignment(session, user, data, ip=client_ip)

    @patch("/assignments/{assignment_id:uuid}", responses=problems(400, 401, 403, 404, 422))
    async def change_assignment(
        self,
        assignment_id: AssignmentId,
        data: JSONBody[AssignmentUpdate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> AssignmentView:
        """Change the role or rights; audited with the old and new values."""
        return await admin_assignments.change_assignment(
            session, user, assignment_id, data, ip=client_ip
        )

    @delete(
        "/assignments/{assignment_id:uuid}", status_code=200, responses=problems(400, 401, 403, 404)
    )
    async def remove_assignment(
        self,
        assignment_id: AssignmentId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> AssignmentView:
        """Remove the user's rights on the mailbox at once (the row stays, inactive)."""
        return await admin_assignments.remove_assignment(session, user, assignment_id, ip=client_ip)
