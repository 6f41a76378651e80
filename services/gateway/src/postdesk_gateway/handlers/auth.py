"""Login and the caller's own identity."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from postdesk_contracts.api import LoginRequest, Me, TokenResponse
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import service
from postdesk_gateway.auth import PUBLIC, Passwords, TokenService
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list

    @post("/login", status_code=200, responses=problems(400, 401), opt=PUBLIC)
    async def login(
        self,
        data: JSONBody[LoginRequest],
        session: NamedDependency[AsyncSession],
        passwords: NamedDependency[Passwords],
        tokens: NamedDependency[TokenService],
    ) -> TokenResponse:
        """Exchange email and password for a bearer token. One 401 for every failure."""
        return await service.login(session, passwords, tokens, data.email, data.password)


class MeController(Controller):
    path = "/me"
    tags = ["auth"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED

    @get(responses=problems(401))
    async def me(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[CurrentUser]
    ) -> Me:
        """The caller and the mailboxes they can see, with their role and rights."""
        return await service.me(session, user)
