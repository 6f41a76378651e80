"""Admin: the tenant's users. Tenant admins only (403); another tenant's ids are 404."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from postdesk_contracts.api_admin import (
    PasswordReset,
    PasswordResetDone,
    UserCreate,
    UserCreated,
    UserDeactivate,
    UserDeactivated,
    UserList,
    UserUpdate,
    UserView,
)
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import admin_users
from postdesk_gateway.auth import Passwords
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import Cursor, UserId


class UserAdminController(Controller):
    path = "/admin/users"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(400, 401, 403))
    async def list_users(
        self,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        department_id: Annotated[
            uuid.UUID | None, QueryParameter(description="only users of this department")
        ] = None,
        active: Annotated[
            bool | None,
            QueryParameter(description="true: active users only; false: deactivated only"),
        ] = None,
        search: Annotated[
            str | None,
            QueryParameter(max_length=200, description="a part of the name or the login"),
        ] = None,
        limit: Annotated[
            int, QueryParameter(ge=1, le=200, description="how many users per page")
        ] = 50,
        cursor: Cursor = None,
    ) -> UserList:
        """The tenant's users, newest first; `search` matches name or login (substring)."""
        return await admin_users.list_users(
            session,
            user,
            department_id=department_id,
            active=active,
            search=search,
            limit=limit,
            cursor=cursor,
        )

    @get("/{user_id:uuid}", responses=problems(400, 401, 403, 404))
    async def get_user(
        self,
        user_id: UserId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> UserView:
        """One user of the tenant."""
        return await admin_users.get_user(session, user, user_id)

    @post(status_code=201, responses=problems(400, 401, 403, 404, 409, 422))
    async def create_user(
        self,
        data: JSONBody[UserCreate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        passwords: NamedDependency[Passwords],
        client_ip: NamedDependency[str],
    ) -> UserCreated:
        """Create a user (409 when the login or company email is taken). With
        `company_email`, their personal mailbox and primary assignment are created too.
        Without `password`, the answer holds a generated one, shown only now."""
        return await admin_users.create_user(session, passwords, user, data, ip=client_ip)

    @patch("/{user_id:uuid}", responses=problems(400, 401, 403, 404, 422))
    async def update_user(
        self,
        user_id: UserId,
        data: JSONBody[UserUpdate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> UserView:
        """Change the given fields only (unknown fields are refused)."""
        return await admin_users.update_user(session, user, user_id, data, ip=client_ip)

    @post(
        "/{user_id:uuid}/deactivate", status_code=200, responses=problems(400, 401, 403, 404, 422)
    )
    async def deactivate_user(
        self,
        user_id: UserId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
        wake_relay: NamedDependency[Callable[[], None]],
        data: JSONBody[UserDeactivate | None] = None,
    ) -> UserDeactivated:
        """Deactivate a user (never deleted): locked out at once, their sessions ended. Their
        open (open or pending) tickets are kept assigned (the default, or no body), left
        unassigned, or all reassigned to `reassign_to`, each like a manual reassignment
        (history, audit, ticket.assigned or ticket.updated event); 422 and nothing changed
        when that user is not active in the tenant or may not be assignee of any of them."""
        return await admin_users.deactivate_user(
            session,
            user,
            user_id,
            data or UserDeactivate(),
            ip=client_ip,
            wake_relay=wake_relay,
        )

    @post("/{user_id:uuid}/password", status_code=200, responses=problems(400, 401, 403, 404, 422))
    async def reset_password(
        self,
        user_id: UserId,
        data: JSONBody[PasswordReset],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        passwords: NamedDependency[Passwords],
        client_ip: NamedDependency[str],
    ) -> PasswordResetDone:
        """Set a new password for a user who lost theirs (send `{}` to have one generated,
        answered only now). Every session of the user ends and a lockout is lifted;
        audit-logged without the password. Not for yourself: use POST /me/password."""
        return await admin_users.reset_password(
            session, passwords, user, user_id, data, ip=client_ip
        )
