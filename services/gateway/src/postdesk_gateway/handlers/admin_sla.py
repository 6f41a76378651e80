"""Admin: the tenant's SLA policies. Tenant admins only (403); another tenant's ids are 404."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from postdesk_contracts.api_admin import (
    SlaPolicyCreate,
    SlaPolicyList,
    SlaPolicyUpdate,
    SlaPolicyView,
)
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import admin_sla
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import PolicyId


class SlaPolicyAdminController(Controller):
    path = "/admin/sla-policies"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401, 403))
    async def list_policies(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[CurrentUser]
    ) -> SlaPolicyList:
        """The tenant's policies, active and inactive, oldest first."""
        return await admin_sla.list_policies(session, user)

    @get("/{policy_id:uuid}", responses=problems(400, 401, 403, 404))
    async def get_policy(
        self,
        policy_id: PolicyId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> SlaPolicyView:
        """One policy."""
        return await admin_sla.get_policy(session, user, policy_id)

    @post(status_code=201, responses=problems(400, 401, 403, 404, 409, 422))
    async def create_policy(
        self,
        data: JSONBody[SlaPolicyCreate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> SlaPolicyView:
        """Add a policy (409 when an active one already has its scope)."""
        return await admin_sla.create_policy(session, user, data, ip=client_ip)

    @patch("/{policy_id:uuid}", responses=problems(400, 401, 403, 404, 409, 422))
    async def update_policy(
        self,
        policy_id: PolicyId,
        data: JSONBody[SlaPolicyUpdate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> SlaPolicyView:
        """Change targets, clock, warning or activity; running clocks keep their due times."""
        return await admin_sla.update_policy(session, user, policy_id, data, ip=client_ip)

    @delete("/{policy_id:uuid}", responses=problems(400, 401, 403, 404, 409))
    async def delete_policy(
        self,
        policy_id: PolicyId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> None:
        """Delete a policy no ticket has a clock of (409: deactivate it instead)."""
        await admin_sla.delete_policy(session, user, policy_id, ip=client_ip)
