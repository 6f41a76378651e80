"""Admin: a department's managers (they hear about its SLA warnings and breaches)."""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from postdesk_contracts.api import DepartmentManagers, DepartmentManagersUpdate
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import notifications
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import DepartmentId


class DepartmentAdminController(Controller):
    path = "/admin/departments/{department_id:uuid}/managers"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(400, 401, 403, 404))
    async def get_managers(
        self,
        department_id: DepartmentId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> DepartmentManagers:
        """The department's managers. Tenant admins only."""
        return await notifications.department_managers(session, user, department_id)

    @put(responses=problems(400, 401, 403, 404, 422))
    async def set_managers(
        self,
        department_id: DepartmentId,
        data: JSONBody[DepartmentManagersUpdate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> DepartmentManagers:
        """Replace the department's managers (active users of the tenant; 422 names the ids
        that are not). Tenant admins only."""
        return await notifications.set_department_managers(
            session, user, department_id, data.user_ids, ip=client_ip
        )
