"""Admin: API tokens for other systems. Session only: an API token cannot mint another."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from postdesk_contracts.api_access import ApiTokenCreate, ApiTokenCreated, ApiTokenView
from sqlalchemy.ext.asyncio import AsyncSession

from postdesk_gateway import api_tokens
from postdesk_gateway.access import SESSION_ONLY
from postdesk_gateway.domain import CurrentUser
from postdesk_gateway.handlers import SECURED, problems
from postdesk_gateway.handlers.params import TokenId


class ApiTokenAdminController(Controller):
    path = "/admin/api-tokens"
    tags = ["admin"]  # noqa: RUF012  # Litestar's own class attribute, declared as a list
    security = SECURED
    opt = SESSION_ONLY

    @post(responses=problems(400, 401, 403, 422))
    async def create_token(
        self,
        data: JSONBody[ApiTokenCreate],
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> ApiTokenCreated:
        """A new API token; the answer is the only place the token is ever shown."""
        return await api_tokens.create(session, user, data, ip=client_ip, now=datetime.now(UTC))

    @get(responses=problems(401, 403))
    async def list_tokens(
        self, session: NamedDependency[AsyncSession], user: NamedDependency[CurrentUser]
    ) -> list[ApiTokenView]:
        """The tenant's API tokens, revoked ones included, newest first."""
        return await api_tokens.list_tokens(session, user)

    @get("/{token_id:uuid}", responses=problems(400, 401, 403, 404))
    async def get_token(
        self,
        token_id: TokenId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
    ) -> ApiTokenView:
        """One API token of the tenant."""
        return await api_tokens.get(session, user, token_id)

    @delete("/{token_id:uuid}", responses=problems(400, 401, 403, 404))
    async def revoke_token(
        self,
        token_id: TokenId,
        session: NamedDependency[AsyncSession],
        user: NamedDependency[CurrentUser],
        client_ip: NamedDependency[str],
    ) -> None:
        """Revoke the token at once (204, also when it already was)."""
        await api_tokens.revoke(session, user, token_id, ip=client_ip, now=datetime.now(UTC))
