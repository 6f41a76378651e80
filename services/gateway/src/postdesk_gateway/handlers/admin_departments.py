"""Admin: the tenant's departments. Tenant admins only (403); another tenant's ids are 404."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from postdesk_contracts.api_admin import (
    DepartmentCreate,
    DepartmentList,
    DepartmentUpdate,
    DepartmentView,
)
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import admin_departments
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import DepartmentId


class DepartmentCrudController(Controller):
    path = "/admin/departments"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401, 403))
    async def list_departments(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[CurrentUser]
    ) -> DepartmentList:
        """The tenant's departments, by name."""
        return await admin_departments.list_departments(session, user)

    @get("/{department_id:uuid}", responses=problems(400, 401, 403, 404))
    async def get_department(
        self,
        department_id: DepartmentId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> DepartmentView:
        """One department."""
        return await admin_departments.get_department(session, user, department_id)

    @post(status_code=201, responses=problems(400, 401, 403, 409))
    async def create_department(
        self,
        data: JSONBody[DepartmentCreate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> DepartmentView:
        """Create a department (409 when the name is taken in the tenant)."""
        return await admin_departments.create_department(session, user, data, ip=client_ip)

    @patch("/{department_id:uuid}", responses=problems(400, 401, 403, 404, 409, 422))
    async def update_department(
        self,
        department_id: DepartmentId,
        data: JSONBody[DepartmentUpdate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> DepartmentView:
        """Rename it, or change its description or routing strategy."""
        return await admin_departments.update_department(
            session, user, department_id, data, ip=client_ip
        )

    @delete("/{department_id:uuid}", responses=problems(400, 401, 403, 404, 409))
    async def delete_department(
        self,
        department_id: DepartmentId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> None:
        """Delete a department nobody and nothing belongs to (409 says what still does)."""
        await admin_departments.delete_department(session, user, department_id, ip=client_ip)
